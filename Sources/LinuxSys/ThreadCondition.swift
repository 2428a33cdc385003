#if canImport(Glibc)
import Glibc
#endif

/// A pthread mutex with one condition variable, for a plain thread that must block until an
/// event loop lets it go on (Foundation's NSCondition without Foundation). Not for async code.
public final class ThreadCondition: @unchecked Sendable {
    // @unchecked: the pthread objects are used only through their own locking calls.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }

    /// Releases the lock while it waits for `broadcast`; holds it again on return (which may
    /// also be spurious: wait in a loop over the condition's state).
    public func wait() { pthread_cond_wait(condition, mutex) }

    /// Wakes every waiting thread; call with the lock held or just after changing the state under it.
    public func broadcast() { pthread_cond_broadcast(condition) }
}
