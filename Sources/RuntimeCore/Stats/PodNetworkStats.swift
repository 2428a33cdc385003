import FoundationEssentials
import LinuxSys
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Byte, packet, error and drop counters of a network namespace's interfaces, read from
/// /proc/net/dev as seen inside the namespace (by a dedicated thread that enters it:
/// `NetworkNamespace`).
public struct InterfaceCounters: Sendable, Equatable {
    public var name: String
    public var rxBytes: UInt64
    public var rxPackets: UInt64
    public var rxErrors: UInt64
    public var rxDropped: UInt64
    public var txBytes: UInt64
    public var txPackets: UInt64
    public var txErrors: UInt64
    public var txDropped: UInt64

    public init(
        name: String,
        rxBytes: UInt64,
        rxPackets: UInt64 = 0,
        rxErrors: UInt64,
        rxDropped: UInt64 = 0,
        txBytes: UInt64,
        txPackets: UInt64 = 0,
        txErrors: UInt64,
        txDropped: UInt64 = 0
    ) {
        self.name = name
        self.rxBytes = rxBytes
        self.rxPackets = rxPackets
        self.rxErrors = rxErrors
        self.rxDropped = rxDropped
        self.txBytes = txBytes
        self.txPackets = txPackets
        self.txErrors = txErrors
        self.txDropped = txDropped
    }
}

public enum PodNetworkStats {
    /// Empty when the namespace cannot be entered (the pod is gone).
    public static func read(networkNamespace path: String) async -> [InterfaceCounters] {
        let text: String? = await DedicatedThread.run {
            // /proc/thread-self/net, not /proc/net: the latter follows the process's main thread.
            // try?: a namespace that cannot be entered is a pod that is gone, which has no counters.
            (try? NetworkNamespace.inside(path) { () throws(SystemCallError) in
                try FileSystem.readBytes("/proc/thread-self/net/dev")
            })
            .map { String(decoding: $0, as: UTF8.self) }
        }
        return text.map(parse) ?? []
    }

    /// `/proc/net/dev`: two header lines, then `name: rx_bytes rx_packets rx_errs rx_drop …
    /// tx_bytes tx_packets tx_errs tx_drop …` (8 receive and 8 transmit columns).
    static func parse(_ text: String) -> [InterfaceCounters] {
        text.split(separator: "\n").dropFirst(2).compactMap { line in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            let name = parts[0].trimmingWhitespace()
            let numbers = parts[1].split(separator: " ").compactMap { UInt64($0) }
            guard numbers.count >= 16, name != "lo" else { return nil }
            return InterfaceCounters(
                name: name,
                rxBytes: numbers[0],
                rxPackets: numbers[1],
                rxErrors: numbers[2],
                rxDropped: numbers[3],
                txBytes: numbers[8],
                txPackets: numbers[9],
                txErrors: numbers[10],
                txDropped: numbers[11]
            )
        }
    }
}
