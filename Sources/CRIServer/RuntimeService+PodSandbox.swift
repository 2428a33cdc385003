import CRIAPI
import FoundationEssentials
import GRPCCore
import RuntimeCore
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Pod sandbox rpcs (api.proto: RunPodSandbox … UpdatePodSandboxResources).
extension RuntimeService {
    public func runPodSandbox(
        request: Runtime_V1_RunPodSandboxRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_RunPodSandboxResponse {
        let spec = Self.spec(request.config, handler: request.runtimeHandler)
        let pods = self.pods
        let sandbox = try await cancelledWithRPC { try await pods.run(spec) }
        var response = Runtime_V1_RunPodSandboxResponse()
        response.podSandboxID = sandbox.id
        return response
    }

    /// api.proto: StopPodSandbox "is idempotent, and must not return an error if all relevant
    /// resources have already been reclaimed".
    public func stopPodSandbox(
        request: Runtime_V1_StopPodSandboxRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_StopPodSandboxResponse {
        try await pods.stop(request.podSandboxID)
        return Runtime_V1_StopPodSandboxResponse()
    }

    /// api.proto: RemovePodSandbox "is idempotent, and must not return an error if the sandbox has already been removed".
    public func removePodSandbox(
        request: Runtime_V1_RemovePodSandboxRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_RemovePodSandboxResponse {
        try await pods.remove(request.podSandboxID)
        return Runtime_V1_RemovePodSandboxResponse()
    }

    public func podSandboxStatus(
        request: Runtime_V1_PodSandboxStatusRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_PodSandboxStatusResponse {
        let sandbox = try await sandboxes.sandbox(request.podSandboxID)
        var response = Runtime_V1_PodSandboxStatusResponse()
        response.status = Self.status(sandbox)
        response.timestamp = Int64(Date().timeIntervalSince1970 * 1e9)
        if request.verbose {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            response.info["info"] = String(decoding: try encoder.encode(sandbox), as: UTF8.self)
        }
        return response
    }

    public func listPodSandbox(
        request: Runtime_V1_ListPodSandboxRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_ListPodSandboxResponse {
        var response = Runtime_V1_ListPodSandboxResponse()
        response.items = try await filtered(request.hasFilter ? request.filter : nil).map(Self.summary)
        return response
    }

    public func streamPodSandboxes(
        request: Runtime_V1_StreamPodSandboxesRequest,
        response: RPCWriter<Runtime_V1_StreamPodSandboxesResponse>,
        context: ServerContext
    ) async throws {
        let all = try await filtered(request.hasFilter ? request.filter : nil).map(Self.summary)
        for start in stride(from: 0, to: all.count, by: 100) {
            var chunk = Runtime_V1_StreamPodSandboxesResponse()
            chunk.podSandboxes = Array(all[start..<min(start + 100, all.count)])
            try await response.write(chunk)
        }
    }

    public func updatePodSandboxResources(
        request: Runtime_V1_UpdatePodSandboxResourcesRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_UpdatePodSandboxResourcesResponse {
        let resources = PodResources(
            overhead: request.hasOverhead ? ContainerConversions.resources(request.overhead) : nil,
            resources: request.hasResources ? ContainerConversions.resources(request.resources) : nil
        )
        try await pods.updateResources(request.podSandboxID, resources)
        return Runtime_V1_UpdatePodSandboxResourcesResponse()
    }

    private func filtered(_ filter: Runtime_V1_PodSandboxFilter?) async throws -> [PodSandbox] {
        guard let filter else { return await sandboxes.list(idPrefix: nil, state: nil, labels: [:]) }
        let state: PodSandbox.State? =
            filter.hasState ? (filter.state.state == .sandboxReady ? .ready : .notReady) : nil
        return await sandboxes.list(idPrefix: filter.id, state: state, labels: filter.labelSelector)
    }

    // MARK: Conversions

    static func spec(_ config: Runtime_V1_PodSandboxConfig, handler: String) -> SandboxSpec {
        let security = config.linux.securityContext
        let options = security.namespaceOptions
        var unrecognized = UnrecognizedEnums()
        unrecognized.check(options, at: "linux.security_context.namespace_options")
        unrecognized.check(security.seccomp, present: security.hasSeccomp, at: "linux.security_context.seccomp")
        unrecognized.check(security.apparmor, present: security.hasApparmor, at: "linux.security_context.apparmor")
        let dns =
            config.hasDnsConfig
            ? SandboxSpec.DNS(
                servers: config.dnsConfig.servers,
                searches: config.dnsConfig.searches,
                options: config.dnsConfig.options
            )
            : nil
        let portMappings = config.portMappings.enumerated().map { index, mapping in
            unrecognized.check(mapping.protocol, "port_mappings[\(index)].protocol")
            let proto =
                switch mapping.protocol {
                case .udp: "udp"
                case .sctp: "sctp"
                default: "tcp"
                }
            return SandboxSpec.PortMapping(
                containerPort: mapping.containerPort,
                hostPort: mapping.hostPort,
                protocol: proto,
                hostIP: mapping.hostIp
            )
        }
        return SandboxSpec(
            name: config.metadata.name,
            namespace: config.metadata.namespace,
            uid: config.metadata.uid,
            attempt: config.metadata.attempt,
            hostname: config.hostname,
            logDirectory: config.logDirectory,
            dns: dns,
            portMappings: portMappings,
            labels: config.labels,
            annotations: config.annotations,
            runtimeHandler: handler,
            hostNetwork: options.network == .node,
            hostIPC: options.ipc == .node,
            hostPID: options.pid == .node,
            sysctls: config.linux.sysctls,
            cgroupParent: config.linux.cgroupParent,
            sharedPID: options.pid == .pod,
            privileged: security.privileged,
            userNamespace: UserNamespaceConversions.option(options),
            unrecognized: unrecognized.values
        )
    }

    static func metadata(_ sandbox: PodSandbox) -> Runtime_V1_PodSandboxMetadata {
        var metadata = Runtime_V1_PodSandboxMetadata()
        metadata.name = sandbox.name
        metadata.namespace = sandbox.namespace
        metadata.uid = sandbox.uid
        metadata.attempt = sandbox.attempt
        return metadata
    }

    static func summary(_ sandbox: PodSandbox) -> Runtime_V1_PodSandbox {
        var item = Runtime_V1_PodSandbox()
        item.id = sandbox.id
        item.metadata = metadata(sandbox)
        item.state = sandbox.state == .ready ? .sandboxReady : .sandboxNotready
        item.createdAt = sandbox.createdAt
        item.labels = sandbox.labels
        item.annotations = sandbox.annotations
        item.runtimeHandler = sandbox.runtimeHandler
        return item
    }

    static func status(_ sandbox: PodSandbox) -> Runtime_V1_PodSandboxStatus {
        var status = Runtime_V1_PodSandboxStatus()
        status.id = sandbox.id
        status.metadata = metadata(sandbox)
        status.state = sandbox.state == .ready ? .sandboxReady : .sandboxNotready
        status.createdAt = sandbox.createdAt
        status.labels = sandbox.labels
        status.annotations = sandbox.annotations
        status.runtimeHandler = sandbox.runtimeHandler
        if let primary = sandbox.ips.first {
            status.network.ip = primary
            status.network.additionalIps = sandbox.ips.dropFirst().map { ip in
                var podIP = Runtime_V1_PodIP()
                podIP.ip = ip
                return podIP
            }
        }
        var options = Runtime_V1_NamespaceOption()
        options.network = sandbox.hostNetwork ? .node : .pod
        options.ipc = sandbox.hostIPC ? .node : .pod
        options.pid = sandbox.hostPID ? .node : (sandbox.sharedPID == true ? .pod : .container)
        status.linux.namespaces.options = options
        return status
    }
}
