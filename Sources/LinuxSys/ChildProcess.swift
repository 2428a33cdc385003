import CLinuxShim

#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to completion with its stdin given, stdout and stderr captured (each capped),
/// and a deadline after which its whole process group is killed. The child always starts with an
/// empty signal mask and default signal handlers (a daemon's own blocked signals never leak into
/// it), gets only the fds it is given, and is always reaped.
///
/// The waiting happens on a thread of its own, never on a Swift concurrency or NIO thread.
public enum ChildProcess {
    public struct Result: Sendable, Equatable {
        /// The exit code, or 128 + the signal number for a child killed by a signal.
        public var status: Int32
        public var stdout: [UInt8]
        public var stderr: [UInt8]
        public var timedOut: Bool
        /// True when stdout or stderr passed the cap and the rest was dropped.
        public var truncated: Bool

        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// How the child starts beyond its argv and environment.
    public struct Options: Sendable {
        /// The child's working directory (the caller's when nil).
        public var workingDirectory: String?
        /// Extra open fds the child gets, as fd 3, 4, … in this order (e.g. conmon's sync pipe).
        public var inheritedFDs: [Int32]
        /// Whether whatever is left in the child's process group is killed once it exits. Off
        /// for programs that daemonize (conmon): their detached half may not have left the
        /// group yet when the parent exits. The group is killed on a timeout either way.
        public var killGroupAfterExit: Bool
        /// Whether the child's stdin, stdout and stderr are a new pseudo-terminal that is its
        /// controlling terminal (in a session of its own), instead of three pipes; resizing the
        /// terminal then signals the child SIGWINCH, as a terminal emulator would.
        public var terminal: Bool
        /// Runs on the waiting thread when the deadline passes or the task is cancelled, before
        /// the child's process group is killed: for what the child started outside its group
        /// (an exec'd command in a container), to be killed while the child can still reap it.
        public var beforeKill: (@Sendable () -> Void)?

        public init(
            workingDirectory: String? = nil,
            inheritedFDs: [Int32] = [],
            killGroupAfterExit: Bool = true,
            terminal: Bool = false,
            beforeKill: (@Sendable () -> Void)? = nil
        ) {
            self.workingDirectory = workingDirectory
            self.inheritedFDs = inheritedFDs
            self.killGroupAfterExit = killGroupAfterExit
            self.terminal = terminal
            self.beforeKill = beforeKill
        }
    }

    public static func run(
        _ executable: String,
        arguments: [String] = [],
        environment: [String] = [],
        stdin: [UInt8] = [],
        timeout: Duration,
        outputLimit: Int = 16 << 20,
        options: Options = Options()
    ) async throws(SystemCallError) -> Result {
        let spawned = try spawn(executable, arguments: arguments, environment: environment, options: options)
        let (seconds, attoseconds) = timeout.components
        let timeoutMilliseconds = Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
        let job = Job(
            child: spawned,
            stdin: stdin,
            timeoutMilliseconds: timeoutMilliseconds,
            outputLimit: outputLimit,
            killGroupAfterExit: options.killGroupAfterExit,
            beforeKill: options.beforeKill
        )
        return await withTaskCancellationHandler {
            await DedicatedThread.run { job.runToEnd() }
        } onCancel: {
            job.cancel()
        }
    }

    struct Spawned: Sendable {
        var pid: pid_t
        var stdinFD: Int32
        var stdoutFD: Int32
        var stderrFD: Int32
        /// The terminal's master side (stdin and stdout are copies of it; stderr is -1).
        var terminalFD: Int32 = -1
    }

    static func spawn(
        _ executable: String,
        arguments: [String],
        environment: [String],
        options: Options
    ) throws(SystemCallError) -> Spawned {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Our ends of the child's stdio, and the child's ends (closed here once it has them).
        var ours: (stdin: Int32, stdout: Int32, stderr: Int32, terminal: Int32) = (-1, -1, -1, -1)
        var theirs: [Int32] = []
        func closeAll() {
            for fd in theirs + [ours.stdin, ours.stdout, ours.stderr, ours.terminal] where fd >= 0 { close(fd) }
        }
        if options.terminal {
            var path = [CChar](repeating: 0, count: 128)
            let master = skiff_open_terminal(&path, path.count)
            guard master >= 0 else { throw SystemCallError("posix_openpt", executable, errno: errno) }
            ours.terminal = master
            ours.stdin = fcntl(master, F_DUPFD_CLOEXEC, 0)
            ours.stdout = fcntl(master, F_DUPFD_CLOEXEC, 0)
            guard ours.stdin >= 0, ours.stdout >= 0 else {
                let error = errno
                closeAll()
                throw SystemCallError("fcntl(F_DUPFD_CLOEXEC)", executable, errno: error)
            }
            // The child is a session leader (POSIX_SPAWN_SETSID, applied before file actions), so
            // opening the slave makes it the child's controlling terminal.
            posix_spawn_file_actions_addopen(&actions, 0, path, O_RDWR, 0)
            posix_spawn_file_actions_adddup2(&actions, 0, 1)
            posix_spawn_file_actions_adddup2(&actions, 0, 2)
        } else {
            var stdinPipe: [Int32] = [0, 0]
            var stdoutPipe: [Int32] = [0, 0]
            var stderrPipe: [Int32] = [0, 0]
            for index in 0..<3 {
                let result =
                    index == 0
                    ? skiff_pipe_cloexec(&stdinPipe)
                    : index == 1 ? skiff_pipe_cloexec(&stdoutPipe) : skiff_pipe_cloexec(&stderrPipe)
                guard result == 0 else {
                    let error = errno
                    closeAll()
                    throw SystemCallError("pipe2", executable, errno: error)
                }
                theirs.append(index == 0 ? stdinPipe[0] : index == 1 ? stdoutPipe[1] : stderrPipe[1])
                if index == 0 {
                    ours.stdin = stdinPipe[1]
                } else if index == 1 {
                    ours.stdout = stdoutPipe[0]
                } else {
                    ours.stderr = stderrPipe[0]
                }
            }
            posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
            posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
            posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
        }
        // dup2 onto the same number would keep FD_CLOEXEC: such an fd is first copied elsewhere.
        var copies: [Int32] = []
        defer { for fd in copies { close(fd) } }
        for (index, fd) in options.inheritedFDs.enumerated() {
            let target = Int32(3 + index)
            var source = fd
            if source <= target + Int32(options.inheritedFDs.count) {
                source = fcntl(fd, F_DUPFD_CLOEXEC, 64)
                guard source >= 0 else {
                    let error = errno
                    closeAll()
                    throw SystemCallError("fcntl(F_DUPFD_CLOEXEC)", executable, errno: error)
                }
                copies.append(source)
            }
            posix_spawn_file_actions_adddup2(&actions, source, target)
        }
        // Nothing else of ours reaches the child: fds opened without O_CLOEXEC by libraries
        // (swift-nio accepts client connections without it) would otherwise keep the CRI
        // socket's connections open in every conmon and runtime after skiffd dies, and clients
        // would wait for their deadline instead of seeing the connection close.
        let closeFromResult = skiff_spawn_addclosefrom(&actions, 3 + Int32(options.inheritedFDs.count))
        guard closeFromResult == 0 else {
            closeAll()
            throw SystemCallError("posix_spawn_file_actions_addclosefrom_np", executable, errno: closeFromResult)
        }
        if let directory = options.workingDirectory {
            let result = skiff_spawn_addchdir(&actions, directory)
            guard result == 0 else {
                closeAll()
                throw SystemCallError("posix_spawn_file_actions_addchdir_np", directory, errno: result)
            }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        // A process group of its own (a new session also makes one), so a timeout kills all of it.
        posix_spawnattr_setpgroup(&attributes, 0)
        let grouping = options.terminal ? Self.spawnSetSID : Int32(POSIX_SPAWN_SETPGROUP)
        posix_spawnattr_setflags(&attributes, Int16(Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) | grouping))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var result: Int32 = 0
        let spawnedPID = ChildReaper.registry.spawn { () -> pid_t? in
            var pid: pid_t = 0
            result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            return result == 0 ? pid : nil
        }
        for fd in theirs { close(fd) }
        theirs = []
        guard result == 0, let pid = spawnedPID else {
            closeAll()
            throw SystemCallError("posix_spawn", executable, errno: result)
        }
        // Our ends never block: the job thread polls them together, so a child blocked writing its
        // output can never deadlock against us writing its input.
        for fd in [ours.stdin, ours.stdout, ours.stderr] where fd >= 0 {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        return Spawned(
            pid: pid,
            stdinFD: ours.stdin,
            stdoutFD: ours.stdout,
            stderrFD: ours.stderr,
            terminalFD: ours.terminal
        )
    }

    /// glibc's POSIX_SPAWN_SETSID (a GNU extension Swift's Glibc module does not export).
    static let spawnSetSID: Int32 = 0x80

    /// The blocking side: feeds stdin, drains stdout and stderr, enforces the deadline, reaps
    /// (on a thread of its own: `DedicatedThread`).
    final class Job: Sendable {
        let child: Spawned
        let stdin: [UInt8]
        let timeoutMilliseconds: Int
        let outputLimit: Int
        let killGroupAfterExit: Bool
        let beforeKill: (@Sendable () -> Void)?
        /// A pipe whose read end wakes the waiting thread when the task is cancelled (closed
        /// with the job, so a late cancel never writes into a reused fd).
        private let wakeFDs: (read: Int32, write: Int32)

        init(
            child: Spawned,
            stdin: [UInt8],
            timeoutMilliseconds: Int,
            outputLimit: Int,
            killGroupAfterExit: Bool,
            beforeKill: (@Sendable () -> Void)?
        ) {
            self.child = child
            self.stdin = stdin
            self.timeoutMilliseconds = timeoutMilliseconds
            self.outputLimit = outputLimit
            self.killGroupAfterExit = killGroupAfterExit
            self.beforeKill = beforeKill
            var fds: [Int32] = [-1, -1]
            if skiff_pipe_cloexec(&fds) == 0 {
                for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
            }
            wakeFDs = (fds[0], fds[1])
        }

        deinit {
            for fd in [wakeFDs.read, wakeFDs.write] where fd >= 0 { close(fd) }
        }

        /// The task waiting for this job was cancelled: the waiting thread stops the child as on
        /// a timeout. Without a wake pipe, the group is killed from here.
        func cancel() {
            var byte: UInt8 = 1
            if wakeFDs.write < 0 || write(wakeFDs.write, &byte, 1) < 0 && errno != EAGAIN { kill(-child.pid, SIGKILL) }
        }

        /// What a timeout or a cancellation does: the caller's own stop first, then the group.
        private func stopChild() {
            beforeKill?()
            kill(-child.pid, SIGKILL)
        }

        func runToEnd() -> Result {
            // A child that exits before reading its stdin must give this thread EPIPE, not a
            // process-killing SIGPIPE.
            var pipeSignal = sigset_t()
            sigemptyset(&pipeSignal)
            sigaddset(&pipeSignal, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
            var stdout: [UInt8] = []
            var stderr: [UInt8] = []
            var truncated = false
            var timedOut = false
            var written = 0
            var inFD: Int32 = stdin.isEmpty ? -1 : child.stdinFD
            if stdin.isEmpty { close(child.stdinFD) }
            var outFD = child.stdoutFD
            var errFD = child.stderrFD
            let deadline = monotonicMilliseconds() + timeoutMilliseconds
            // Not zero-filled: read(2) fills only what it returns, so the pages a short output
            // never reaches stay untouched. Zeroed, each child's 64 KiB was resident at once, and
            // 50 pods torn down together left ~3 MiB in the malloc arenas of the threads that ran
            // their runc and CNI children, kept by glibc after they were freed.
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 1)
            defer { buffer.deallocate() }
            var stopped = false
            while outFD >= 0 || errFD >= 0 {
                let remaining = deadline - monotonicMilliseconds()
                if remaining <= 0 {
                    timedOut = true
                    stopped = true
                    stopChild()
                    break
                }
                var fds = [
                    pollfd(fd: inFD, events: Int16(POLLOUT), revents: 0),
                    pollfd(fd: outFD, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: errFD, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: wakeFDs.read, events: Int16(POLLIN), revents: 0),
                ]
                let ready = poll(&fds, 4, Int32(min(remaining, 1000)))
                if ready < 0 && errno != EINTR { break }
                if fds[3].revents != 0 {
                    stopped = true
                    stopChild()
                    break
                }
                if inFD >= 0 && fds[0].revents != 0 {
                    let count = stdin.withUnsafeBytes { write(inFD, $0.baseAddress! + written, $0.count - written) }
                    if count > 0 { written += count }
                    if count < 0 && errno != EAGAIN && errno != EINTR || written == stdin.count {
                        close(inFD)
                        inFD = -1
                    }
                }
                for (index, fd) in [(1, outFD), (2, errFD)] where fd >= 0 && fds[index].revents != 0 {
                    let count = read(fd, buffer.baseAddress, buffer.count)
                    if count > 0 {
                        if index == 1 {
                            let keep = min(count, outputLimit - stdout.count)
                            stdout.append(contentsOf: buffer[0..<max(0, keep)])
                            truncated = truncated || keep < count
                        } else {
                            let keep = min(count, outputLimit - stderr.count)
                            stderr.append(contentsOf: buffer[0..<max(0, keep)])
                            truncated = truncated || keep < count
                        }
                    } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                        close(fd)
                        if index == 1 { outFD = -1 } else { errFD = -1 }
                    }
                }
            }
            for fd in [inFD, outFD, errFD] where fd >= 0 { close(fd) }
            // Reap, still within the deadline: a child that closed its output but lingers is killed.
            let registry = ChildReaper.registry
            let status: Int32
            if !stopped, let exited = registry.wait(for: child.pid, deadline: deadline) {
                status = exited
            } else {
                if !stopped {
                    timedOut = true
                    stopChild()
                }
                status = registry.wait(for: child.pid, deadline: nil) ?? 0
            }
            // Anything the child left running in its process group goes too.
            if killGroupAfterExit || timedOut { kill(-child.pid, SIGKILL) }
            return Result(
                status: ChildReaper.exitCode(fromWaitStatus: status),
                stdout: stdout,
                stderr: stderr,
                timedOut: timedOut,
                truncated: truncated
            )
        }
    }
}
