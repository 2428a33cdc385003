import Foundation
import LinuxSys

/// Byte and error counters of a network namespace's interfaces, read from /proc/net/dev as
/// seen inside the namespace (through nsenter, so no daemon thread ever changes namespace).
public struct InterfaceCounters: Sendable, Equatable {
    public var name: String
    public var rxBytes: UInt64
    public var rxErrors: UInt64
    public var txBytes: UInt64
    public var txErrors: UInt64
}

public enum PodNetworkStats {
    public static func read(networkNamespace path: String, timeout: Duration = .seconds(5)) async -> [InterfaceCounters] {
        guard let nsenter = ExecutableLookup.resolve("nsenter"),
              let result = try? await ChildProcess.run(nsenter, arguments: ["--net=\(path)", "cat", "/proc/net/dev"],
                                                       environment: ["PATH=\(ExecutableLookup.fallbackPath)"], timeout: timeout),
              result.status == 0 else { return [] }
        return parse(result.stdoutText)
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
            return InterfaceCounters(name: name, rxBytes: numbers[0], rxErrors: numbers[2], txBytes: numbers[8], txErrors: numbers[10])
        }
    }
}
