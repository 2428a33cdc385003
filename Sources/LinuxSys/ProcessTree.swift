#if canImport(Glibc)
import Glibc
#endif

/// A process and everything it started, found through /proc/<pid>/task/<tid>/children (host
/// pids, whatever PID namespace the processes are in).
public enum ProcessTree {
    /// `root` and its descendants, parents before children; empty when `root` is gone.
    public static func members(of root: pid_t) -> [pid_t] {
        guard root > 0, Glibc.kill(root, 0) == 0 || errno == EPERM else { return [] }
        var found: [pid_t] = [root]
        var seen: Set<pid_t> = [root]
        var index = 0
        while index < found.count {
            let pid = found[index]
            index += 1
            for task in FileSystem.directoryEntries("/proc/\(pid)/task") ?? [] {
                guard let text = try? FileSystem.readText("/proc/\(pid)/task/\(task)/children") else {
                    // The task ended while being read: it has no children to find any more.
                    continue
                }
                for child in text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap({ pid_t($0) })
                where seen.insert(child).inserted {
                    found.append(child)
                }
            }
        }
        return found
    }

    /// Kills `root` and all its descendants with SIGKILL. They are stopped first (SIGSTOP), and
    /// the tree walked again, so nothing forks a new child between the walk and the kill.
    @discardableResult
    public static func kill(_ root: pid_t) -> [pid_t] {
        var stopped: [pid_t] = []
        var members = Self.members(of: root)
        while true {
            let fresh = members.filter { !stopped.contains($0) }
            if fresh.isEmpty { break }
            for pid in fresh { _ = Glibc.kill(pid, SIGSTOP) }
            stopped += fresh
            members = Self.members(of: root)
        }
        for pid in stopped { _ = Glibc.kill(pid, SIGKILL) }
        return stopped
    }

    /// Waits until `pid` no longer exists (reaped, not just dead), polling /proc every 2 ms for
    /// at most `milliseconds`; true when it is gone. Blocking: call on a dedicated thread.
    public static func waitUntilGone(_ pid: pid_t, milliseconds: Int) -> Bool {
        let deadline = monotonicMilliseconds() + milliseconds
        while Glibc.kill(pid, 0) == 0 || errno == EPERM {
            if monotonicMilliseconds() >= deadline { return false }
            usleep(2000)
        }
        return true
    }

    /// The command line of `pid`, arguments joined by spaces; nil when it is gone.
    public static func commandLine(of pid: pid_t) -> String? {
        guard pid > 0, let bytes = try? FileSystem.readBytes("/proc/\(pid)/cmdline", limit: 1 << 16), !bytes.isEmpty else { return nil }
        return String(decoding: bytes.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
    }
}
