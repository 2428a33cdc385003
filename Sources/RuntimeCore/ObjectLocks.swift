import Synchronization

/// One operation at a time per object ID, in arrival order. Stop and Remove of one pod or
/// container span many suspension points of their actor (runtime calls, CNI DEL, waiting for an
/// exit), and the actor alone would interleave them: a second StopPodSandbox saving the record a
/// concurrent RemovePodSandbox had just deleted, two removals killing one pause. Under these
/// locks every caller runs after the one before it has finished, sees its result (the object
/// stopped or gone, which every stop and remove accepts) and answers.
///
/// Waiting is not cancellable: a waiter is behind an operation that is itself bounded by its
/// deadlines (stop timeout, runtime and CNI timeouts).
public final class ObjectLocks: Sendable {
    private struct Waiters {
        var held = false
        var queue: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex<[String: Waiters]>([:])

    public init() {}

    /// Runs `body` once every earlier holder of `key` has finished.
    public func withLock<Result, Failure: Error>(
        _ key: String,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws(Failure) -> Result
    ) async throws(Failure) -> Result {
        await acquire(key)
        defer { release(key) }
        return try await body()
    }

    /// Number of keys held or waited for (tests: nothing is left behind).
    public var activeKeys: Int { state.withLock { $0.count } }

    private func acquire(_ key: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { locks -> Bool in
                if locks[key, default: Waiters()].held {
                    locks[key]!.queue.append(continuation)
                    return false
                }
                locks[key, default: Waiters()].held = true
                return true
            }
            if granted { continuation.resume() }
        }
    }

    private func release(_ key: String) {
        let next = state.withLock { locks -> CheckedContinuation<Void, Never>? in
            guard var waiters = locks[key] else { return nil }
            if waiters.queue.isEmpty {
                locks[key] = nil
                return nil
            }
            let next = waiters.queue.removeFirst()
            locks[key] = waiters
            return next
        }
        next?.resume()
    }
}
