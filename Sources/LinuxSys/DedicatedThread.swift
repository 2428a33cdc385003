#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work on a thread of its own (a pthread created for it), never on a Swift
/// concurrency or event-loop thread.
public enum DedicatedThread {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            let job = Unmanaged.passRetained(Job { continuation.resume(returning: body()) }).toOpaque()
            var thread = pthread_t()
            let created = pthread_create(&thread, nil, { raw in
                Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, job)
            if created == 0 {
                pthread_detach(thread)
            } else {
                Unmanaged<Job>.fromOpaque(job).takeRetainedValue().body()
            }
        }
    }

    private final class Job: @unchecked Sendable {
        // @unchecked: run by exactly one thread.
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
}
