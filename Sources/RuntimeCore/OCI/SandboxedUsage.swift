import FoundationEssentials
import SkiffCommon

/// A container's usage as gVisor accounts it (`runsc events --stats ID`): one JSON event,
/// `{"type":"stats","id":…,"data":{"cpu":{"usage":{"total":NS}},"memory":{"usage":{"usage":B}},
/// "pids":{"current":N}}}`. The sentry's accounting, since the containers' own cgroups stay
/// empty (the sandbox runs in the pod's). Fields runsc leaves out are nil.
public struct SandboxedUsage: Sendable, Equatable {
    /// Cumulative CPU time, nanoseconds.
    public var cpuNanoseconds: UInt64?
    /// Memory in use, bytes (runsc reports the sandbox's for each of its containers).
    public var memoryBytes: UInt64?
    public var processes: UInt64?

    private struct Event: Decodable {
        var type: String?
        var id: String?
        var data: Data?

        struct Data: Decodable {
            var cpu: CPU?
            var memory: Memory?
            var pids: PIDs?
        }
        struct CPU: Decodable {
            var usage: Usage?
            struct Usage: Decodable { var total: UInt64? }
        }
        struct Memory: Decodable {
            var usage: Usage?
            struct Usage: Decodable { var usage: UInt64? }
        }
        struct PIDs: Decodable { var current: UInt64? }
    }

    /// The first stats event of `id` in runsc's output.
    static func parse(_ output: [UInt8], id: String) throws(SkiffError) -> SandboxedUsage {
        for line in output.split(separator: UInt8(ascii: "\n")) where line.first == UInt8(ascii: "{") {
            // try?: a line that is not an event (runsc's own messages) is passed over.
            guard let event = try? JSONDecoder().decode(Event.self, from: FoundationEssentials.Data(line)),
                event.type == "stats", event.id == nil || event.id == id, let data = event.data
            else { continue }
            return SandboxedUsage(
                cpuNanoseconds: data.cpu?.usage?.total,
                memoryBytes: data.memory?.usage?.usage,
                processes: data.pids?.current
            )
        }
        throw SkiffError(
            .internalError,
            "runsc events --stats \(id) printed no stats event: \(String(decoding: output.prefix(200), as: UTF8.self))"
        )
    }
}
