import CLinuxShim

#if canImport(Glibc)
import Glibc
#endif

/// A process held through a pidfd: it names this process until the handle goes, never a later
/// one that reuses its pid, so waiting for it or killing it cannot reach an unrelated process.
/// Works for any process, not only children.
public final class ProcessHandle: Sendable {
    public let pid: pid_t
    private let fd: Int32

    /// The pidfd, readable once the process has exited (for `ProcessExitWatcher`'s poll).
    var descriptor: Int32 { fd }

    /// nil when `pid` is gone (errno ESRCH) or cannot be opened.
    public init?(_ pid: pid_t) {
        let fd = skiff_pidfd_open(pid, 0)
        guard fd >= 0 else { return nil }
        self.pid = pid
        self.fd = fd
    }

    deinit {
        close(fd)
    }

    /// Waits, woken by the kernel when the process exits (not by polling /proc); true when it
    /// exited within `milliseconds`. Blocking: call on a dedicated thread.
    public func waitForExit(milliseconds: Int) -> Bool {
        let deadline = monotonicMilliseconds() + milliseconds
        while true {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, Int32(clamping: max(0, deadline - monotonicMilliseconds())))
            if ready > 0 { return true }
            if ready == 0 || errno != EINTR { return false }
        }
    }

    /// SIGKILL to this process.
    public func kill() {
        _ = skiff_pidfd_send_signal(fd, SIGKILL)
    }

    /// Whether the process has exited (it may not be reaped yet), without waiting.
    public var hasExited: Bool { waitForExit(milliseconds: 0) }

    /// The handle of the process `pid` only if it is the one that started at `startTime` (field 22
    /// of /proc/PID/stat, clock ticks since boot): a pid and its start time name one process for
    /// the node's uptime, so a record written before a restart never reaches a process that
    /// reused the pid.
    public static func matching(pid: pid_t, startTime: UInt64) -> ProcessHandle? {
        guard pid > 0, let handle = ProcessHandle(pid) else { return nil }
        // Read after the pidfd is open: if it still matches, the pidfd holds that process.
        return Self.startTime(of: pid) == startTime ? handle : nil
    }

    /// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot.
    public static func startTime(of pid: pid_t) -> UInt64? {
        // try?: a process that is gone or unreadable has no start time to compare.
        guard let text = try? FileSystem.readText("/proc/\(pid)/stat", limit: 4096),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // Fields after the command, which may itself hold spaces and parentheses: state is 3.
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }
}
