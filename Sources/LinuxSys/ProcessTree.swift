import CLinuxShim

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
            for child in children(of: pid) where seen.insert(child).inserted {
                found.append(child)
            }
        }
        return found
    }

    /// The direct children of `pid`, from every one of its threads.
    public static func children(of pid: pid_t) -> [pid_t] {
        (FileSystem.directoryEntries("/proc/\(pid)/task") ?? []).flatMap { task -> [pid_t] in
            // try?: a task that ended while being read (ENOENT, ESRCH) has no children to find any more.
            guard let text = try? FileSystem.readText("/proc/\(pid)/task/\(task)/children") else {
                return []
            }
            return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { pid_t($0) }
        }
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

    /// Live processes that `matches` and that do not descend from `owner`: for a daemon passing
    /// its own pid, the runs an earlier incarnation started and did not live to wait for
    /// (re-parented elsewhere when it died), not its own.
    public static func strangers(notDescendingFrom owner: pid_t = getpid(), where matches: (pid_t) -> Bool) -> [pid_t] {
        (FileSystem.directoryEntries("/proc") ?? []).compactMap { pid_t($0) }.filter { pid in
            pid != owner && matches(pid) && !descends(pid, from: owner)
        }
    }

    /// Strangers whose environment holds `entry` ("NAME=value", matched whole). A zombie has no
    /// environment left and is never found.
    public static func strangers(
        withEnvironmentEntry entry: String,
        notDescendingFrom owner: pid_t = getpid()
    ) -> [pid_t] {
        strangers(notDescendingFrom: owner) { environment(of: $0)?.contains(entry) == true }
    }

    /// Whether `owner` is among the ancestors of `pid` (false once the chain cannot be read).
    static func descends(_ pid: pid_t, from owner: pid_t) -> Bool {
        var current = pid
        for _ in 0..<4096 {
            guard let next = parent(of: current), next > 0 else { return false }
            if next == owner { return true }
            current = next
        }
        return false
    }

    /// The parent of `pid` from /proc/<pid>/status; nil when it is gone.
    public static func parent(of pid: pid_t) -> pid_t? {
        // try?: a process that exited (or was never there) has no parent, which is what nil says.
        guard let status = try? FileSystem.readText("/proc/\(pid)/status") else { return nil }
        let line = status.split(separator: "\n").first { $0.hasPrefix("PPid:") }
        return line.flatMap { pid_t(String($0.dropFirst(5).filter { !$0.isWhitespace })) }
    }

    /// Waits for `pid` (any process, not only a child) to exit, woken by its pidfd rather than
    /// polling; true when it exited within `milliseconds` (or was gone already). Blocking: call on
    /// a dedicated thread.
    public static func waitForExit(_ pid: pid_t, milliseconds: Int) -> Bool {
        guard let handle = ProcessHandle(pid) else { return errno == ESRCH }
        return handle.waitForExit(milliseconds: milliseconds)
    }

    /// The environment `pid` was started with ("NAME=value" entries); nil when it is gone or
    /// is a zombie (whose environment is gone with its memory).
    public static func environment(of pid: pid_t) -> [String]? {
        // try?: a process that exited, or another user's (EACCES), shows no environment: nil, as documented.
        guard let bytes = try? FileSystem.readBytes("/proc/\(pid)/environ", limit: 1 << 20), !bytes.isEmpty else {
            return nil
        }
        return bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The command line of `pid`, arguments joined by spaces; nil when it is gone.
    public static func commandLine(of pid: pid_t) -> String? {
        // try?: a process that exited has no command line any more: nil, as documented.
        guard pid > 0, let bytes = try? FileSystem.readBytes("/proc/\(pid)/cmdline", limit: 1 << 16), !bytes.isEmpty
        else { return nil }
        return String(decoding: bytes.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
    }
}
