import CRIAPI
import GRPCCore
import SkiffCommon

/// ExecSync and the streaming entry points (api.proto: ExecSync, Exec, Attach, PortForward). Not served yet.
extension RuntimeService {
    public func execSync(request: Runtime_V1_ExecSyncRequest, context: ServerContext) async throws -> Runtime_V1_ExecSyncResponse {
        throw SkiffError.notImplemented("ExecSync", "containers")
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
