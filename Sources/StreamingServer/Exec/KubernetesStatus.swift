import Foundation

/// The `metav1.Status` JSON client-go reads from the error channel when a remote command ends:
/// Success, or Failure with reason NonZeroExitCode and the exit code as an `ExitCode` cause.
enum KubernetesStatus {
    static func success() -> [UInt8] {
        Array(#"{"metadata":{},"status":"Success"}"#.utf8)
    }

    static func exited(_ code: Int32, command: [String]) -> [UInt8] {
        guard code != 0 else { return success() }
        let object: [String: Any] = [
            "metadata": [String: Any](), "status": "Failure",
            "message": "command terminated with non-zero exit code: error executing command \(command), exit code \(code)",
            "reason": "NonZeroExitCode",
            "details": ["causes": [["reason": "ExitCode", "message": String(code)]]],
        ]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map(Array.init) ?? success()
    }

    /// What remotecommand v2 and v3 put on the error stream instead: nothing on success, else
    /// the status's message as text (those clients have no exit-code cause).
    static func plainText(_ status: [UInt8]) -> [UInt8] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(status))) as? [String: Any],
              object["status"] as? String != "Success" else { return [] }
        return Array((object["message"] as? String ?? "command failed").utf8)
    }

    static func failure(_ message: String) -> [UInt8] {
        let object: [String: Any] = ["metadata": [String: Any](), "status": "Failure", "message": message, "reason": "InternalError"]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map(Array.init) ?? success()
    }
}

/// The remotecommand channel numbers (the first byte of every WebSocket message).
enum StreamChannel: UInt8 {
    case stdin = 0, stdout = 1, stderr = 2, error = 3, resize = 4
    /// v5.channel.k8s.io: `[255, channel]` closes that channel (the client's stdin).
    case close = 255
}
