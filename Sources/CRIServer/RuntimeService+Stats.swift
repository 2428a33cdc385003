import CRIAPI
import GRPCCore

/// Stats and metrics rpcs (api.proto: ContainerStats … StreamPodSandboxMetrics). The metrics are
/// cAdvisor's, from `PodMetricsCollector` (see `ContainerMetric`).
extension RuntimeService {
    public func containerStats(
        request: Runtime_V1_ContainerStatsRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_ContainerStatsResponse {
        var response = Runtime_V1_ContainerStatsResponse()
        response.stats = StatsConversions.container(try await stats.stats(of: request.containerID))
        return response
    }

    public func listContainerStats(
        request: Runtime_V1_ListContainerStatsRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_ListContainerStatsResponse {
        var response = Runtime_V1_ListContainerStatsResponse()
        response.stats = try await containerStats(request.hasFilter ? request.filter : nil)
        return response
    }

    public func streamContainerStats(
        request: Runtime_V1_StreamContainerStatsRequest,
        response: RPCWriter<Runtime_V1_StreamContainerStatsResponse>,
        context: ServerContext
    ) async throws {
        let all = try await containerStats(request.hasFilter ? request.filter : nil)
        for start in stride(from: 0, to: all.count, by: 50) {
            var chunk = Runtime_V1_StreamContainerStatsResponse()
            chunk.containerStats = Array(all[start..<min(start + 50, all.count)])
            try await response.write(chunk)
        }
    }

    public func podSandboxStats(
        request: Runtime_V1_PodSandboxStatsRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_PodSandboxStatsResponse {
        var response = Runtime_V1_PodSandboxStatsResponse()
        response.stats = StatsConversions.pod(try await stats.podStats(of: request.podSandboxID))
        return response
    }

    public func listPodSandboxStats(
        request: Runtime_V1_ListPodSandboxStatsRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_ListPodSandboxStatsResponse {
        var response = Runtime_V1_ListPodSandboxStatsResponse()
        response.stats = await podStats(request.hasFilter ? request.filter : nil)
        return response
    }

    public func streamPodSandboxStats(
        request: Runtime_V1_StreamPodSandboxStatsRequest,
        response: RPCWriter<Runtime_V1_StreamPodSandboxStatsResponse>,
        context: ServerContext
    ) async throws {
        let all = await podStats(request.hasFilter ? request.filter : nil)
        for start in stride(from: 0, to: all.count, by: 50) {
            var chunk = Runtime_V1_StreamPodSandboxStatsResponse()
            chunk.podSandboxStats = Array(all[start..<min(start + 50, all.count)])
            try await response.write(chunk)
        }
    }

    private func containerStats(_ filter: Runtime_V1_ContainerStatsFilter?) async throws -> [Runtime_V1_ContainerStats]
    {
        await stats.stats(
            idPrefix: filter?.id,
            sandboxID: filter?.podSandboxID,
            labels: filter?.labelSelector ?? [:]
        )
        .map(StatsConversions.container)
    }

    private func podStats(_ filter: Runtime_V1_PodSandboxStatsFilter?) async -> [Runtime_V1_PodSandboxStats] {
        await stats.podStats(idPrefix: filter?.id, labels: filter?.labelSelector ?? [:]).map(StatsConversions.pod)
    }

    public func listMetricDescriptors(
        request: Runtime_V1_ListMetricDescriptorsRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_ListMetricDescriptorsResponse {
        var response = Runtime_V1_ListMetricDescriptorsResponse()
        response.descriptors = await metrics.metricDescriptors().map(MetricsConversions.descriptor)
        return response
    }

    public func listPodSandboxMetrics(
        request: Runtime_V1_ListPodSandboxMetricsRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_ListPodSandboxMetricsResponse {
        var response = Runtime_V1_ListPodSandboxMetricsResponse()
        response.podMetrics = await metrics.podMetrics().map(MetricsConversions.pod)
        return response
    }

    /// The same pods as ListPodSandboxMetrics, 50 to a message.
    public func streamPodSandboxMetrics(
        request: Runtime_V1_StreamPodSandboxMetricsRequest,
        response: RPCWriter<Runtime_V1_StreamPodSandboxMetricsResponse>,
        context: ServerContext
    ) async throws {
        let all = await metrics.podMetrics().map(MetricsConversions.pod)
        for start in stride(from: 0, to: all.count, by: 50) {
            var chunk = Runtime_V1_StreamPodSandboxMetricsResponse()
            chunk.podSandboxMetrics = Array(all[start..<min(start + 50, all.count)])
            try await response.write(chunk)
        }
    }
}
