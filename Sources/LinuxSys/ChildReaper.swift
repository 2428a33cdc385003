import CLinuxShim

#if canImport(Glibc)
import Glibc
#endif

/// Who reaps this process's children.
///
/// By default every spawner (`ChildProcess`, `RunningChild`) waits for its own child by pid, as
/// any program does. skiffd calls `adoptOrphans()` first thing: it becomes a child subreaper, so
/// a process whose parent dies under it — the command of an exec whose `runc exec` was killed by
/// a timeout, conmon's daemonized half — is re-parented to skiffd instead of the node's init
/// (which, on container-based nodes or minimal images, may never reap it and leave a zombie in
/// the container's process table). From then on one thread reaps every child as it exits
/// (`waitpid(-1)`, blocking: no polling) and hands the status of a spawned child to whoever waits
/// for it; the status of an adopted orphan is dropped.
///
/// A spawn and its registration happen under one lock, so the reaper can never take a new
/// child's status before its spawner has said it will collect it.
public enum ChildReaper {
    static let registry = Registry()

    /// Makes this process a child subreaper and starts the reaping thread. Call once, before
    /// anything is spawned; later calls do nothing.
    public static func adoptOrphans() throws(SystemCallError) {
        try registry.startAdopting()
    }

    /// Orphans adopted and reaped so far (for tests and logs).
    public static var orphansReaped: Int { registry.orphansReaped }

    /// The raw wait(2) status as an exit code, or 128 + the signal number.
    static func exitCode(fromWaitStatus status: Int32) -> Int32 {
        (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    final class Registry: @unchecked Sendable {
        // @unchecked: every stored property below `condition` is read and written with `mutex` held.
        private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        /// Broadcast when a status arrives, and when a child is spawned (for a reaper with none).
        private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        private var adopting = false
        /// Children whose spawner will collect their status.
        private var owned: Set<pid_t> = []
        /// Reaped statuses not collected yet.
        private var statuses: [pid_t: Int32] = [:]
        /// Spawns so far: lets the reaper tell "no children yet" from "a child just appeared".
        private var generation = 0
        private var orphans = 0

        init() {
            pthread_mutex_init(mutex, nil)
            var attributes = pthread_condattr_t()
            pthread_condattr_init(&attributes)
            pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
            pthread_cond_init(condition, &attributes)
            pthread_condattr_destroy(&attributes)
        }

        var orphansReaped: Int {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return orphans
        }

        func startAdopting() throws(SystemCallError) {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            guard !adopting else { return }
            guard skiff_become_child_subreaper() == 0 else {
                throw SystemCallError("prctl(PR_SET_CHILD_SUBREAPER)", "", errno: errno)
            }
            adopting = true
            let started = DedicatedThread.start { [self] in reapForever() }
            guard started == 0 else { throw SystemCallError("pthread_create", "child reaper", errno: started) }
        }

        /// Runs `body` (a posix_spawn returning the child's pid, or nil with errno set) with the
        /// lock held and registers the child, so its status is kept for `wait(for:)`.
        func spawn(_ body: () -> pid_t?) -> pid_t? {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            guard let pid = body() else { return nil }
            owned.insert(pid)
            // A pid is reused only once reaped: a status still kept for it is a stale one.
            statuses[pid] = nil
            generation += 1
            pthread_cond_broadcast(condition)
            return pid
        }

        /// The wait(2) status of `pid` once it has exited; nil when `deadline` (CLOCK_MONOTONIC
        /// milliseconds) passes first. The child stays registered after a nil: wait again.
        func wait(for pid: pid_t, deadline: Int?) -> Int32? {
            pthread_mutex_lock(mutex)
            guard adopting else {
                pthread_mutex_unlock(mutex)
                return Self.waitDirectly(for: pid, deadline: deadline)
            }
            defer { pthread_mutex_unlock(mutex) }
            while true {
                if let status = statuses.removeValue(forKey: pid) {
                    owned.remove(pid)
                    return status
                }
                if let deadline {
                    if monotonicMilliseconds() >= deadline { return nil }
                    var until = timespec(tv_sec: deadline / 1000, tv_nsec: (deadline % 1000) * 1_000_000)
                    pthread_cond_timedwait(condition, mutex, &until)
                } else {
                    pthread_cond_wait(condition, mutex)
                }
            }
        }

        /// Without a reaping thread: waitpid on the one child, polled against the deadline.
        private static func waitDirectly(for pid: pid_t, deadline: Int?) -> Int32? {
            var status: Int32 = 0
            while true {
                let result = waitpid(pid, &status, deadline == nil ? 0 : WNOHANG)
                if result == pid { return status }
                if result < 0 {
                    if errno == EINTR { continue }
                    // ECHILD: someone else reaped it; report it as gone without a code.
                    return 0
                }
                if let deadline, monotonicMilliseconds() >= deadline { return nil }
                usleep(2000)
            }
        }

        private func reapForever() {
            while true {
                pthread_mutex_lock(mutex)
                let seen = generation
                pthread_mutex_unlock(mutex)
                var status: Int32 = 0
                let pid = waitpid(-1, &status, 0)
                if pid < 0 {
                    if errno == ECHILD {
                        // No children at all: nothing can be adopted until something is spawned.
                        pthread_mutex_lock(mutex)
                        while generation == seen { pthread_cond_wait(condition, mutex) }
                        pthread_mutex_unlock(mutex)
                    }
                    continue
                }
                pthread_mutex_lock(mutex)
                if owned.contains(pid) {
                    statuses[pid] = status
                    pthread_cond_broadcast(condition)
                } else {
                    orphans += 1
                }
                pthread_mutex_unlock(mutex)
            }
        }
    }
}

/// CLOCK_MONOTONIC in milliseconds: the clock child-process deadlines are kept in.
func monotonicMilliseconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return now.tv_sec * 1000 + now.tv_nsec / 1_000_000
}
