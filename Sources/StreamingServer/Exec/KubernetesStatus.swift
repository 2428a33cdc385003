import FoundationEssentials

/// The `metav1.Status` JSON client-go reads from the error channel when a remote command ends:
/// Success, or Failure with reason NonZeroExitCode and the exit code as an `ExitCode` cause.
struct KubernetesStatus: Codable, Equatable {
    struct Metadata: Codable, Equatable {}

    struct Cause: Codable, Equatable {
        var reason: String?
        var message: String?
    }

    struct Details: Codable, Equatable {
        var causes: [Cause]?
    }

    var metadata = Metadata()
    var status: String
    var message: String?
    var reason: String?
    var details: Details?

    static func success() -> [UInt8] {
        KubernetesStatus(status: "Success").encoded()
    }

    static func exited(_ code: Int32, command: [String]) -> [UInt8] {
        guard code != 0 else { return success() }
        return KubernetesStatus(
            status: "Failure",
            message:
                "command terminated with non-zero exit code: error executing command \(command), exit code \(code)",
            reason: "NonZeroExitCode",
            details: Details(causes: [Cause(reason: "ExitCode", message: String(code))])
        ).encoded()
    }

    /// What remotecommand v2 and v3 put on the error stream instead: nothing on success, else
    /// the status's message as text (those clients have no exit-code cause).
    static func plainText(_ status: [UInt8]) -> [UInt8] {
        // try?: the statuses come from this file; one that cannot be read says only "failed".
        let decoded = try? JSONDecoder().decode(KubernetesStatus.self, from: Data(status))
        guard decoded?.status != "Success" else { return [] }
        return Array((decoded?.message ?? "command failed").utf8)
    }

    static func failure(_ message: String) -> [UInt8] {
        KubernetesStatus(status: "Failure", message: message, reason: "InternalError").encoded()
    }

    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // try!: strings, and an empty object, always encode.
        return Array(try! encoder.encode(self))
    }
}

/// The remotecommand channel numbers (the first byte of every WebSocket message).
enum StreamChannel: UInt8 {
    case stdin = 0
    case stdout = 1
    case stderr = 2
    case error = 3
    case resize = 4
    /// v5.channel.k8s.io: `[255, channel]` closes that channel (the client's stdin).
    case close = 255
}
