import CLinuxShim
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Tells when watched processes exit, any process (not only children), from one thread that
/// sleeps in poll(2) on their pidfds: a process's exit wakes it, nothing is polled on a timer, and
/// a thousand watched processes cost one thread.
///
/// A process is watched under a name; its exit yields the name on `exits` once, and the watch
/// ends. A process that has already exited when watched is reported at once.
public final class ProcessExitWatcher: Sendable {
    public let exits: AsyncStream<String>
    private let watched = Mutex<[String: ProcessHandle]>([:])
    /// A pipe whose read end wakes the thread: a byte when the watched set changed, EOF when the
    /// watcher goes.
    private let wakeFDs: (read: Int32, write: Int32)

    private let continuation: AsyncStream<String>.Continuation
    /// Whether the thread runs: it starts with the first watch, so a node without such processes
    /// has no thread (and no malloc arena) for it.
    private let threadStarted = Mutex(false)

    public init() throws(SystemCallError) {
        var pipe: [Int32] = [-1, -1]
        guard skiff_pipe_cloexec(&pipe) == 0 else {
            throw SystemCallError("pipe2", "process exit watcher", errno: errno)
        }
        wakeFDs = (pipe[0], pipe[1])
        _ = fcntl(pipe[1], F_SETFL, fcntl(pipe[1], F_GETFL) | O_NONBLOCK)
        _ = fcntl(pipe[0], F_SETFL, fcntl(pipe[0], F_GETFL) | O_NONBLOCK)
        (exits, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .unbounded)
    }

    /// Closing the pipe's write end wakes the thread, which ends `exits` and closes its end.
    deinit {
        close(wakeFDs.write)
        if !threadStarted.withLock({ $0 }) {
            continuation.finish()
            close(wakeFDs.read)
        }
    }

    /// Watches `handle`'s process under `name`, replacing an earlier watch of that name. Throws
    /// only when the watching thread cannot be started (the watch is then not kept).
    public func watch(_ handle: ProcessHandle, as name: String) throws(SystemCallError) {
        try startThread()
        watched.withLock { $0[name] = handle }
        wake()
    }

    private func startThread() throws(SystemCallError) {
        let created: Int32? = threadStarted.withLock { started in
            guard !started else { return nil }
            let poller = Poller(watched: self, wakeFD: wakeFDs.read, continuation: continuation)
            let created = DedicatedThread.start({ poller.run() })
            started = created == 0
            return created
        }
        if let created, created != 0 { throw SystemCallError("pthread_create", "process exit watcher", errno: created) }
    }

    /// Ends the watch of `name`, if any; its exit is then never reported.
    public func unwatch(_ name: String) {
        guard watched.withLock({ $0.removeValue(forKey: name) }) != nil else { return }
        wake()
    }

    /// The names being watched (for tests and recovery).
    public var names: Set<String> { watched.withLock { Set($0.keys) } }

    private func wake() {
        var byte: UInt8 = 1
        // A full pipe (EAGAIN) already holds a wake-up the thread has not read: nothing is lost.
        _ = write(wakeFDs.write, &byte, 1)
    }

    /// The watched processes' descriptors, by name, for one round of poll(2).
    fileprivate func snapshot() -> [(name: String, fd: Int32, handle: ProcessHandle)] {
        watched.withLock { $0.map { (name: $0.key, fd: $0.value.descriptor, handle: $0.value) } }
    }

    /// Ends the watch of `name` if it is still `handle`'s: true when the exit is to be reported.
    fileprivate func finish(_ name: String, _ handle: ProcessHandle) -> Bool {
        watched.withLock { watched in
            guard let current = watched[name], current === handle else { return false }
            watched.removeValue(forKey: name)
            return true
        }
    }

    /// The blocking side, on its own thread. Holds the watcher weakly: dropping it ends the thread.
    private struct Poller: @unchecked Sendable {
        // @unchecked: `watched` is a weak reference to a Sendable class, set once.
        weak var watched: ProcessExitWatcher?
        let wakeFD: Int32
        let continuation: AsyncStream<String>.Continuation

        init(watched: ProcessExitWatcher, wakeFD: Int32, continuation: AsyncStream<String>.Continuation) {
            self.watched = watched
            self.wakeFD = wakeFD
            self.continuation = continuation
        }

        func run() {
            defer {
                continuation.finish()
                close(wakeFD)
            }
            var buffer = [UInt8](repeating: 0, count: 64)
            while true {
                // The handles stay referenced by `round` for the whole poll: no descriptor is
                // closed (and reused) while the kernel looks at it.
                guard let round = watched?.snapshot() else { return }
                var fds = [pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
                fds += round.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
                let ready = poll(&fds, nfds_t(fds.count), -1)
                if ready < 0 {
                    if errno == EINTR { continue }
                    return
                }
                if fds[0].revents != 0 {
                    let count = buffer.withUnsafeMutableBytes { read(wakeFD, $0.baseAddress, $0.count) }
                    if count == 0 { return }
                }
                for (index, entry) in round.enumerated() where fds[index + 1].revents != 0 {
                    if watched?.finish(entry.name, entry.handle) == true { continuation.yield(entry.name) }
                }
            }
        }
    }
}
