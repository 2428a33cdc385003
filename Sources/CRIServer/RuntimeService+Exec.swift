import CRIAPI
import Foundation
import GRPCCore
import SkiffCommon

/// ExecSync and the streaming entry points (api.proto: ExecSync, Exec, Attach, PortForward).
/// The streaming ones are not served yet.
extension RuntimeService {
    public func execSync(request: Runtime_V1_ExecSyncRequest, context: ServerContext) async throws -> Runtime_V1_ExecSyncResponse {
        let result = try await containers.execSync(request.containerID, command: request.cmd, timeout: max(0, request.timeout))
        var response = Runtime_V1_ExecSyncResponse()
        response.stdout = Data(result.stdout)
        response.stderr = Data(result.stderr)
        response.exitCode = result.exitCode
        return response
    }

    public func exec(request: Runtime_V1_ExecRequest, context: ServerContext) async throws -> Runtime_V1_ExecResponse {
        throw SkiffError.notImplemented("Exec", "streaming")
    }

    public func attach(request: Runtime_V1_AttachRequest, context: ServerContext) async throws -> Runtime_V1_AttachResponse {
        throw SkiffError.notImplemented("Attach", "streaming")
    }

    public func portForward(request: Runtime_V1_PortForwardRequest, context: ServerContext) async throws -> Runtime_V1_PortForwardResponse {
        throw SkiffError.notImplemented("PortForward", "streaming")
    }
}
