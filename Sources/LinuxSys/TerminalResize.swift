import CLinuxShim

#if canImport(Glibc)
import Glibc
#endif

/// Resizes the terminal another process runs on, through its open descriptors in /proc: the
/// kernel then signals SIGWINCH to that terminal's foreground group. Used for exec with a tty,
/// where the OCI runtime gave the command a terminal of its own (runc passes resizes of its
/// own terminal on; crun 1.8 only copies the first size), so resizing that terminal directly
/// works whatever the runtime does.
public enum TerminalResize {
    /// Sets the size on the first of the process's stdin, stdout and stderr that is a
    /// terminal; false when none is (or the process is gone).
    @discardableResult
    public static func resizeTerminal(ofProcess pid: Int32, columns: UInt16, rows: UInt16) -> Bool {
        for descriptor in 0...2 {
            let fd = open("/proc/\(pid)/fd/\(descriptor)", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            if isatty(fd) == 1, skiff_set_terminal_size(fd, columns, rows) == 0 { return true }
        }
        return false
    }
}
