import CLinuxShim

#if canImport(Glibc)
import Glibc
#endif

/// A child whose stdin, stdout and stderr stay open for the caller to stream (an interactive
/// exec), unlike `ChildProcess.run`, which collects everything. The pipe ends are non-blocking
/// and owned by the caller; `exitStatus()` reaps on a thread of its own; `kill` signals the
/// child's whole process group.
public final class RunningChild: Sendable {
    public let pid: Int32
    public let stdinFD: Int32
    public let stdoutFD: Int32
    /// -1 when the child runs on a terminal (its stderr is the terminal, read through stdoutFD).
    public let stderrFD: Int32
    /// The terminal's master side, kept for resizing (owned by this object); -1 without one.
    private let terminalFD: Int32

    public var hasTerminal: Bool { terminalFD >= 0 }

    public static func start(
        _ executable: String,
        arguments: [String],
        environment: [String],
        options: ChildProcess.Options = .init()
    ) throws(SystemCallError) -> RunningChild {
        let spawned = try ChildProcess.spawn(
            executable,
            arguments: arguments,
            environment: environment,
            options: options
        )
        return RunningChild(
            pid: spawned.pid,
            stdinFD: spawned.stdinFD,
            stdoutFD: spawned.stdoutFD,
            stderrFD: spawned.stderrFD,
            terminalFD: spawned.terminalFD
        )
    }

    init(pid: Int32, stdinFD: Int32, stdoutFD: Int32, stderrFD: Int32, terminalFD: Int32 = -1) {
        self.pid = pid
        self.stdinFD = stdinFD
        self.stdoutFD = stdoutFD
        self.stderrFD = stderrFD
        self.terminalFD = terminalFD
    }

    deinit {
        if terminalFD >= 0 { close(terminalFD) }
    }

    /// Sets the terminal's size; the kernel signals SIGWINCH to the child's foreground group.
    public func resizeTerminal(columns: UInt16, rows: UInt16) {
        guard terminalFD >= 0 else { return }
        _ = skiff_set_terminal_size(terminalFD, columns, rows)
    }

    public func kill(_ signal: Int32 = SIGKILL) {
        _ = Glibc.kill(-pid, signal)
    }

    /// Waits for the child to exit (blocking a dedicated thread, never a Swift concurrency one)
    /// and returns its exit code, or 128 + the signal number.
    public func exitStatus() async -> Int32 {
        let pid = self.pid
        return await DedicatedThread.run {
            ChildReaper.exitCode(fromWaitStatus: ChildReaper.registry.wait(for: pid, deadline: nil) ?? 0)
        }
    }
}
