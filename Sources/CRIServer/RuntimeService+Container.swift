import CRIAPI
import FoundationEssentials
import GRPCCore
import RuntimeCore
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Container lifecycle rpcs (api.proto: CreateContainer … GetContainerEvents).
extension RuntimeService {
    public func createContainer(
        request: Runtime_V1_CreateContainerRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_CreateContainerResponse {
        guard !request.podSandboxID.isEmpty else {
            throw SkiffError.invalidArgument("CreateContainer needs pod_sandbox_id")
        }
        guard request.hasConfig else { throw SkiffError.invalidArgument("CreateContainer needs a config") }
        let spec = try ContainerConversions.spec(request.config)
        let containers = self.containers
        let container = try await cancelledWithRPC { try await containers.create(in: request.podSandboxID, spec) }
        var response = Runtime_V1_CreateContainerResponse()
        response.containerID = container.id
        return response
    }

    public func startContainer(
        request: Runtime_V1_StartContainerRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_StartContainerResponse {
        try await containers.start(request.containerID)
        return Runtime_V1_StartContainerResponse()
    }

    /// api.proto: StopContainer "is idempotent"; a timeout of 0 kills at once.
    public func stopContainer(
        request: Runtime_V1_StopContainerRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_StopContainerResponse {
        guard !request.containerID.isEmpty else { throw SkiffError.invalidArgument("StopContainer needs container_id") }
        // A container that is already gone is stopped (the kubelet retries after a restart).
        guard await containers.exists(request.containerID) else {
            return Runtime_V1_StopContainerResponse()
        }
        try await containers.stop(request.containerID, timeout: max(0, request.timeout))
        return Runtime_V1_StopContainerResponse()
    }

    public func removeContainer(
        request: Runtime_V1_RemoveContainerRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_RemoveContainerResponse {
        try await containers.remove(request.containerID)
        return Runtime_V1_RemoveContainerResponse()
    }

    public func listContainers(
        request: Runtime_V1_ListContainersRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_ListContainersResponse {
        var response = Runtime_V1_ListContainersResponse()
        response.containers = await filtered(request.hasFilter ? request.filter : nil).map(ContainerConversions.summary)
        return response
    }

    public func streamContainers(
        request: Runtime_V1_StreamContainersRequest,
        response: RPCWriter<Runtime_V1_StreamContainersResponse>,
        context: ServerContext
    ) async throws {
        let all = await filtered(request.hasFilter ? request.filter : nil).map(ContainerConversions.summary)
        for start in stride(from: 0, to: all.count, by: 100) {
            var chunk = Runtime_V1_StreamContainersResponse()
            chunk.containers = Array(all[start..<min(start + 100, all.count)])
            try await response.write(chunk)
        }
    }

    public func containerStatus(
        request: Runtime_V1_ContainerStatusRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_ContainerStatusResponse {
        let container = try await containers.container(request.containerID)
        var response = Runtime_V1_ContainerStatusResponse()
        response.status = ContainerConversions.status(container)
        if request.verbose {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            response.info["info"] = String(decoding: try encoder.encode(container), as: UTF8.self)
            if let spec = await containers.runtimeSpecJSON(of: container.id) { response.info["runtimeSpec"] = spec }
        }
        return response
    }

    public func updateContainerResources(
        request: Runtime_V1_UpdateContainerResourcesRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_UpdateContainerResourcesResponse {
        guard request.hasLinux else {
            throw SkiffError.invalidArgument("UpdateContainerResources needs linux resources")
        }
        try await containers.updateResources(request.containerID, ContainerConversions.resources(request.linux))
        return Runtime_V1_UpdateContainerResourcesResponse()
    }

    public func reopenContainerLog(
        request: Runtime_V1_ReopenContainerLogRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_ReopenContainerLogResponse {
        try await containers.reopenLog(request.containerID)
        return Runtime_V1_ReopenContainerLogResponse()
    }

    public func checkpointContainer(
        request: Runtime_V1_CheckpointContainerRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_CheckpointContainerResponse {
        // What can be checked is checked, in the order a caller can fix it; the checkpoint
        // itself needs CRIU, which fails on these nodes' kernels (README: CheckpointContainer).
        _ = try await containers.running(request.containerID, toAllow: "checkpoint it")
        try CheckpointPreconditions.checkLocation(request.location)
        if let problem = await CheckpointPreconditions.criuProblem() {
            throw SkiffError(.failedPrecondition, "cannot checkpoint container \(request.containerID): \(problem)")
        }
        throw SkiffError.notImplemented(
            "CheckpointContainer",
            "writing the checkpoint archive (CRIU works on this node, but Skiff does not write checkpoint archives yet)"
        )
    }

    /// Streams lifecycle events until the client goes away.
    public func getContainerEvents(
        request: Runtime_V1_GetEventsRequest,
        response: RPCWriter<Runtime_V1_ContainerEventResponse>,
        context: ServerContext
    ) async throws {
        for await event in await containers.subscribeToEvents() {
            var message = Runtime_V1_ContainerEventResponse()
            message.containerID = event.container.id
            message.createdAt = event.timestamp
            message.containerEventType =
                switch event.kind {
                case .created: .containerCreatedEvent
                case .started: .containerStartedEvent
                case .stopped: .containerStoppedEvent
                case .deleted: .containerDeletedEvent
                }
            if let sandbox = await sandboxes.find(event.container.sandboxID) {
                message.podSandboxStatus = Self.status(sandbox)
            }
            if event.kind != .deleted { message.containersStatuses = [ContainerConversions.status(event.container)] }
            try await response.write(message)
        }
    }

    private func filtered(_ filter: Runtime_V1_ContainerFilter?) async -> [Container] {
        guard let filter else { return await containers.list(idPrefix: nil, state: nil, sandboxID: nil, labels: [:]) }
        let state: Container.State? = filter.hasState ? ContainerConversions.state(filter.state.state) : nil
        return await containers.list(
            idPrefix: filter.id,
            state: state,
            sandboxID: filter.podSandboxID,
            labels: filter.labelSelector
        )
    }
}
