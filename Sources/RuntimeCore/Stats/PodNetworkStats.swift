import Foundation
import LinuxSys

/// Byte and error counters of a network namespace's interfaces, read from /proc/net/dev as
/// seen inside the namespace (by a dedicated thread that enters it: `NetworkNamespace`).
public struct InterfaceCounters: Sendable, Equatable {
    public var name: String
    public var rxBytes: UInt64
    public var rxErrors: UInt64
    public var txBytes: UInt64
    public var txErrors: UInt64
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

    /// `/proc/net/dev`: two header lines, then `name: rx_bytes rx_packets rx_errs … tx_bytes
    /// tx_packets tx_errs …` (8 receive and 8 transmit columns).
    static func parse(_ text: String) -> [InterfaceCounters] {
        text.split(separator: "\n").dropFirst(2).compactMap { line in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            let name = parts[0].trimmingCharacters(in: .whitespaces)
            let numbers = parts[1].split(separator: " ").compactMap { UInt64($0) }
            guard numbers.count >= 16, name != "lo" else { return nil }
            return InterfaceCounters(
                name: name,
                rxBytes: numbers[0],
                rxErrors: numbers[2],
                txBytes: numbers[8],
                txErrors: numbers[10]
            )
        }
    }
}
