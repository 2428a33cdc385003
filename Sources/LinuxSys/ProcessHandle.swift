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
}
