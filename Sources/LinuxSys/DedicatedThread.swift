#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work on a thread of its own (a pthread created for it), never on a Swift
/// concurrency or event-loop thread.
public enum DedicatedThread {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            if start({ continuation.resume(returning: body()) }) != 0 {
                continuation.resume(returning: body())
            }
        }
    }

    /// Starts `body` on a detached thread and returns at once: 0, or pthread_create's error (the
    /// body then never runs).
    @discardableResult
    public static func start(_ body: @escaping @Sendable () -> Void) -> Int32 {
        let job = Unmanaged.passRetained(Job(body)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(
            &thread,
            nil,
            { raw in
                Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            },
            job
        )
        if created == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<Job>.fromOpaque(job).release()
        }
        return created
    }

    private final class Job: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
