import CRIAPI
import GRPCCore
import SkiffCommon

/// Stats and metrics rpcs (api.proto: ContainerStats … StreamPodSandboxMetrics). Not served yet.
extension RuntimeService {
    private static let area = "stats"

    public func containerStats(request: Runtime_V1_ContainerStatsRequest, context: ServerContext) async throws -> Runtime_V1_ContainerStatsResponse {
        throw SkiffError.notImplemented("ContainerStats", Self.area)
    }

    public func listContainerStats(request: Runtime_V1_ListContainerStatsRequest, context: ServerContext) async throws -> Runtime_V1_ListContainerStatsResponse {
        throw SkiffError.notImplemented("ListContainerStats", Self.area)
    }

    public func streamContainerStats(request: Runtime_V1_StreamContainerStatsRequest, response: RPCWriter<Runtime_V1_StreamContainerStatsResponse>, context: ServerContext) async throws {
        throw SkiffError.notImplemented("StreamContainerStats", Self.area)
    }

    public func podSandboxStats(request: Runtime_V1_PodSandboxStatsRequest, context: ServerContext) async throws -> Runtime_V1_PodSandboxStatsResponse {
        throw SkiffError.notImplemented("PodSandboxStats", Self.area)
    }

    public func listPodSandboxStats(request: Runtime_V1_ListPodSandboxStatsRequest, context: ServerContext) async throws -> Runtime_V1_ListPodSandboxStatsResponse {
        throw SkiffError.notImplemented("ListPodSandboxStats", Self.area)
    }

    public func streamPodSandboxStats(request: Runtime_V1_StreamPodSandboxStatsRequest, response: RPCWriter<Runtime_V1_StreamPodSandboxStatsResponse>, context: ServerContext) async throws {
        throw SkiffError.notImplemented("StreamPodSandboxStats", Self.area)
    }

    public func listMetricDescriptors(request: Runtime_V1_ListMetricDescriptorsRequest, context: ServerContext) async throws -> Runtime_V1_ListMetricDescriptorsResponse {
        throw SkiffError.notImplemented("ListMetricDescriptors", "pod metrics")
    }

    public func listPodSandboxMetrics(request: Runtime_V1_ListPodSandboxMetricsRequest, context: ServerContext) async throws -> Runtime_V1_ListPodSandboxMetricsResponse {
        throw SkiffError.notImplemented("ListPodSandboxMetrics", "pod metrics")
    }

    public func streamPodSandboxMetrics(request: Runtime_V1_StreamPodSandboxMetricsRequest, response: RPCWriter<Runtime_V1_StreamPodSandboxMetricsResponse>, context: ServerContext) async throws {
        throw SkiffError.notImplemented("StreamPodSandboxMetrics", "pod metrics")
    }
}
