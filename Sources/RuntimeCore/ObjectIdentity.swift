import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// The IDs skiffd gives pods, containers and execs: 64 random hex characters, as runc, cri-o
/// and containerd use (the kubelet and crictl accept any unique prefix of them).
public enum ObjectID {
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// Whether `name` has the shape of an ID skiffd made (a file named so is a container's).
    public static func isWellFormed(_ name: some StringProtocol) -> Bool {
        name.utf8.count == 64 && name.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

/// Wall-clock time as the CRI reports it (created, started and finished timestamps).
public enum WallClock {
    public static func nanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
