import SkiffCommon

/// Runs one operation per key at a time: callers asking for a key already in flight wait for
/// that operation's result instead of repeating it (two pulls of one layer download it once).
actor SingleFlight<Value: Sendable> {
    private var running: [String: Task<Value, any Error>] = [:]

    func run(
        _ key: String,
        _ operation: @escaping @Sendable () async throws(SkiffError) -> Value
    ) async throws(SkiffError) -> Value {
        let task: Task<Value, any Error>
        if let existing = running[key] {
            task = existing
        } else {
            task = Task { try await operation() }
            running[key] = task
        }
        do {
            let value = try await task.value
            if running[key] == task { running[key] = nil }
            return value
        } catch {
            if running[key] == task { running[key] = nil }
            throw (error as? SkiffError) ?? SkiffError.internalError("\(key) failed", cause: DescribedError(error))
        }
    }
}
