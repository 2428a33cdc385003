import CRIAPI
import GRPCCore
import SkiffCommon

/// Container lifecycle rpcs (api.proto: CreateContainer … GetContainerEvents). Not served yet.
extension RuntimeService {
    private static let area = "containers"

    public func createContainer(request: Runtime_V1_CreateContainerRequest, context: ServerContext) async throws -> Runtime_V1_CreateContainerResponse {
        throw SkiffError.notImplemented("CreateContainer", Self.area)
    }

    public func startContainer(request: Runtime_V1_StartContainerRequest, context: ServerContext) async throws -> Runtime_V1_StartContainerResponse {
        throw SkiffError.notImplemented("StartContainer", Self.area)
    }

    public func stopContainer(request: Runtime_V1_StopContainerRequest, context: ServerContext) async throws -> Runtime_V1_StopContainerResponse {
        throw SkiffError.notImplemented("StopContainer", Self.area)
    }

    public func removeContainer(request: Runtime_V1_RemoveContainerRequest, context: ServerContext) async throws -> Runtime_V1_RemoveContainerResponse {
        throw SkiffError.notImplemented("RemoveContainer", Self.area)
    }

    public func listContainers(request: Runtime_V1_ListContainersRequest, context: ServerContext) async throws -> Runtime_V1_ListContainersResponse {
        throw SkiffError.notImplemented("ListContainers", Self.area)
    }

    public func streamContainers(request: Runtime_V1_StreamContainersRequest, response: RPCWriter<Runtime_V1_StreamContainersResponse>, context: ServerContext) async throws {
        throw SkiffError.notImplemented("StreamContainers", Self.area)
    }

    public func containerStatus(request: Runtime_V1_ContainerStatusRequest, context: ServerContext) async throws -> Runtime_V1_ContainerStatusResponse {
        throw SkiffError.notImplemented("ContainerStatus", Self.area)
    }

    public func updateContainerResources(request: Runtime_V1_UpdateContainerResourcesRequest, context: ServerContext) async throws -> Runtime_V1_UpdateContainerResourcesResponse {
        throw SkiffError.notImplemented("UpdateContainerResources", Self.area)
    }

    public func reopenContainerLog(request: Runtime_V1_ReopenContainerLogRequest, context: ServerContext) async throws -> Runtime_V1_ReopenContainerLogResponse {
        throw SkiffError.notImplemented("ReopenContainerLog", Self.area)
    }

    public func checkpointContainer(request: Runtime_V1_CheckpointContainerRequest, context: ServerContext) async throws -> Runtime_V1_CheckpointContainerResponse {
        throw SkiffError.notImplemented("CheckpointContainer", "container checkpoints")
    }

    public func getContainerEvents(request: Runtime_V1_GetEventsRequest, response: RPCWriter<Runtime_V1_ContainerEventResponse>, context: ServerContext) async throws {
        throw SkiffError.notImplemented("GetContainerEvents", "container events")
    }
}
