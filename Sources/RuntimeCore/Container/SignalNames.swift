#if canImport(Glibc)
import Glibc
#endif

/// Signal names as images (`StopSignal`) and the CRI (`stop_signal`) write them, and their
/// numbers on Linux. The real-time signals count from glibc's SIGRTMIN (34: glibc keeps 32 and
/// 33 for itself), as Docker, containerd and cri-o count them.
public enum SignalNames {
    static let numbers: [String: Int32] = [
        "ABRT": SIGABRT, "ALRM": SIGALRM, "BUS": SIGBUS, "CHLD": SIGCHLD, "CLD": SIGCHLD, "CONT": SIGCONT,
        "FPE": SIGFPE, "HUP": SIGHUP, "ILL": SIGILL, "INT": SIGINT, "IO": SIGIO, "IOT": SIGABRT, "KILL": SIGKILL,
        "PIPE": SIGPIPE, "POLL": SIGIO, "PROF": SIGPROF, "PWR": SIGPWR, "QUIT": SIGQUIT, "SEGV": SIGSEGV,
        "STKFLT": SIGSTKFLT, "STOP": SIGSTOP, "SYS": SIGSYS, "TERM": SIGTERM, "TRAP": SIGTRAP, "TSTP": SIGTSTP,
        "TTIN": SIGTTIN, "TTOU": SIGTTOU, "URG": SIGURG, "USR1": SIGUSR1, "USR2": SIGUSR2, "VTALRM": SIGVTALRM,
        "WINCH": SIGWINCH, "XCPU": SIGXCPU, "XFSZ": SIGXFSZ,
    ]

    static let realTimeMinimum: Int32 = 34
    static let realTimeMaximum: Int32 = 64

    /// "SIGTERM", "TERM", "15", "SIGRTMIN+3", "RTMAX-1": its number; nil when it is none.
    public static func number(_ name: String?) -> Int32? {
        guard var name = name?.uppercased(), !name.isEmpty else { return nil }
        if let number = Int32(name) { return (1...realTimeMaximum).contains(number) ? number : nil }
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        if let number = numbers[name] { return number }
        for (base, start, sign) in [("RTMIN", realTimeMinimum, Int32(1)), ("RTMAX", realTimeMaximum, -1)]
        where name.hasPrefix(base) {
            let offset = name.dropFirst(base.count)
            if offset.isEmpty { return start }
            guard offset.first == (sign > 0 ? "+" : "-"), let step = Int32(offset.dropFirst()) else { return nil }
            let number = start + sign * step
            return (realTimeMinimum...realTimeMaximum).contains(number) ? number : nil
        }
        return nil
    }

    /// The canonical name of a signal number ("SIGUSR1", "SIGRTMIN+2"), for status reports.
    public static func name(_ number: Int32) -> String? {
        let preferred = ["ABRT", "CHLD", "IO"]
        let names = numbers.filter { $0.value == number }.map(\.key).sorted { lhs, rhs in
            preferred.contains(lhs) != preferred.contains(rhs) ? preferred.contains(lhs) : lhs < rhs
        }
        if let name = names.first { return "SIG" + name }
        guard (realTimeMinimum...realTimeMaximum).contains(number) else { return nil }
        // The lower half counts up from SIGRTMIN, the upper half down from SIGRTMAX (as the
        // CRI's Signal enum and `kill -l` name them).
        switch number {
        case realTimeMinimum: return "SIGRTMIN"
        case realTimeMaximum: return "SIGRTMAX"
        case ..<(realTimeMinimum + 16): return "SIGRTMIN+\(number - realTimeMinimum)"
        default: return "SIGRTMAX-\(realTimeMaximum - number)"
        }
    }
}
