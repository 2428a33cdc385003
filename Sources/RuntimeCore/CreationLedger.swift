import SkiffCommon

/// Creations the kubelet retries (RunPodSandbox, CreateContainer), made deadline-proof.
///
/// The kubelet's client gives up at its deadline (4 minutes for these rpcs, less under critest)
/// and sends the same request again — same name, uid and attempt. A creation that was cancelled
/// half-way would leave a half-made object or, if it finished, make the retry fail with
/// ALREADY_EXISTS ("failed to reserve name" forever, as containerd users know). So each creation
/// runs to its end in a task of its own, whatever happens to the rpc that asked for it, and:
/// - a request for a key whose creation is still running, with the same spec, waits for that
///   creation and gets its result; with another spec it is refused (ALREADY_EXISTS);
/// - a finished creation whose caller was gone before the answer (cancelled) stays *unclaimed*:
///   the next request with the same spec gets that object instead of a second one; once an
///   answer has been delivered, the object is claimed and a repeat is an ordinary duplicate.
actor CreationLedger<Spec: Equatable & Sendable, Value: Sendable> {
    typealias Work = @Sendable () async -> Result<Value, SkiffError>

    private enum Entry {
        case running(Spec, Task<Result<Value, SkiffError>, Never>)
        case unclaimed(Spec, Task<Result<Value, SkiffError>, Never>, Value)
    }

    private var entries: [String: Entry] = [:]

    /// Calls that joined a creation already running (for tests and logs).
    private(set) var joinedCount = 0

    /// Finished creations nobody has received yet (for tests and logs).
    var unclaimedCount: Int {
        entries.values.filter { if case .unclaimed = $0 { return true } else { return false } }.count
    }

    /// Runs `work` for `key` unless a creation with the same spec is running (its result is
    /// awaited) or finished unclaimed and `stillExists` (its value is returned and claimed).
    /// `what` names the object in the refusal of a different spec.
    func create(
        key: String,
        spec: Spec,
        what: String,
        stillExists: @Sendable (Value) async -> Bool,
        work: @escaping Work
    ) async throws(SkiffError) -> Value {
        switch entries[key] {
        case .running(let held, let task):
            guard held == spec else {
                throw SkiffError(
                    .alreadyExists,
                    "\(what) is being created by another request with a different configuration"
                )
            }
            joinedCount += 1
            return try await finish(key, task)
        case .unclaimed(let held, _, let value) where held == spec:
            entries[key] = nil
            if await stillExists(value) { return value }
        case .unclaimed, nil:
            break
        }
        let task = Task { await work() }
        entries[key] = .running(spec, task)
        return try await finish(key, task)
    }

    /// Waits for the creation; the first caller back records whether the value was delivered.
    private func finish(_ key: String, _ task: Task<Result<Value, SkiffError>, Never>) async throws(SkiffError) -> Value
    {
        let result = await task.value
        let delivered = !Task.isCancelled
        switch entries[key] {
        case .running(let spec, let running) where running == task:
            if case .success(let value) = result, !delivered {
                entries[key] = .unclaimed(spec, task, value)
            } else {
                entries[key] = nil
            }
        case .unclaimed(_, let finished, _) where finished == task && delivered:
            entries[key] = nil
        default:
            break
        }
        return try result.get()
    }
}
