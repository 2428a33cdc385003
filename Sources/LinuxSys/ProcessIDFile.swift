import Glibc

/// A pid file (a runtime's `--pid-file`, conmon's `--conmon-pidfile`): the decimal pid a process
/// wrote once it knew it. Readers poll it while the writer may not have written it yet.
public enum ProcessIDFile {
    /// The pid in `path`; nil while the file is absent, empty or half-written (the writers
    /// replace it atomically, so a later read gets it whole), or when it holds no positive pid.
    public static func read(_ path: String) -> pid_t? {
        // try?: every failure to read means "no pid yet" to a caller that polls or falls back.
        guard let text = try? FileSystem.readText(path, limit: 64) else { return nil }
        guard let pid = pid_t(text.filter(\.isNumber)), pid > 0 else { return nil }
        return pid
    }

    /// The pid in `path` once its writer has written it, polled every 5 ms for up to `timeout`
    /// (a runtime writes an exec'd command's pid only once the command runs). Blocking: for a
    /// dedicated thread. nil when none came in time.
    public static func wait(for path: String, within timeout: Duration) -> pid_t? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let pid = read(path) { return pid }
            guard ContinuousClock.now < deadline else { return nil }
            usleep(5000)
        }
    }
}
