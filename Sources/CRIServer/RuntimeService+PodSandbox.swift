import CRIAPI
import GRPCCore
import SkiffCommon

/// Pod sandbox rpcs (api.proto: RunPodSandbox … UpdatePodSandboxResources). Not served yet.
extension RuntimeService {
    private static let area = "pod sandboxes"

    public func runPodSandbox(request: Runtime_V1_RunPodSandboxRequest, context: ServerContext) async throws -> Runtime_V1_RunPodSandboxResponse {
        throw SkiffError.notImplemented("RunPodSandbox", Self.area)
    }

    public func stopPodSandbox(request: Runtime_V1_StopPodSandboxRequest, context: ServerContext) async throws -> Runtime_V1_StopPodSandboxResponse {
        throw SkiffError.notImplemented("StopPodSandbox", Self.area)
    }

    public func removePodSandbox(request: Runtime_V1_RemovePodSandboxRequest, context: ServerContext) async throws -> Runtime_V1_RemovePodSandboxResponse {
        throw SkiffError.notImplemented("RemovePodSandbox", Self.area)
    }

    public func podSandboxStatus(request: Runtime_V1_PodSandboxStatusRequest, context: ServerContext) async throws -> Runtime_V1_PodSandboxStatusResponse {
        throw SkiffError.notImplemented("PodSandboxStatus", Self.area)
    }

    public func listPodSandbox(request: Runtime_V1_ListPodSandboxRequest, context: ServerContext) async throws -> Runtime_V1_ListPodSandboxResponse {
        throw SkiffError.notImplemented("ListPodSandbox", Self.area)
    }

    public func streamPodSandboxes(request: Runtime_V1_StreamPodSandboxesRequest, response: RPCWriter<Runtime_V1_StreamPodSandboxesResponse>, context: ServerContext) async throws {
        throw SkiffError.notImplemented("StreamPodSandboxes", Self.area)
    }

    public func updatePodSandboxResources(request: Runtime_V1_UpdatePodSandboxResourcesRequest, context: ServerContext) async throws -> Runtime_V1_UpdatePodSandboxResourcesResponse {
        throw SkiffError.notImplemented("UpdatePodSandboxResources", Self.area)
    }
}
