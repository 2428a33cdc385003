import LinuxSys
import SkiffCommon

/// Resource usage of containers and pods from their cgroups (v1 or v2), the writable layer and
/// the pod's network namespace.
extension ContainerService {
    public struct ContainerUsage: Sendable {
        public var container: Container
        public var cgroup: CgroupUsage?
        /// CPU use since the previous sample, in nanocores; nil on the first sample.
        public var nanoCores: UInt64?
        public var writableLayerBytes: UInt64
        public var writableLayerInodes: UInt64
        public var writableLayerMountpoint: String
        public var timestamp: Int64
    }

    public struct PodUsage: Sendable {
        public var sandbox: PodSandbox
        public var containers: [ContainerUsage]
        public var interfaces: [InterfaceCounters]
        public var timestamp: Int64
    }

    public func stats(of id: String) async throws(SkiffError) -> ContainerUsage {
        await collectExit(of: id)
        return usage(of: try await existing(id))
    }

    public func stats(
        idPrefix: String? = nil,
        sandboxID: String? = nil,
        labels: [String: String] = [:]
    ) async -> [ContainerUsage] {
        await list(idPrefix: idPrefix, sandboxID: sandboxID, labels: labels).filter { $0.state == .running }.map(
            usage(of:)
        )
    }

    public func podStats(of id: String) async throws(SkiffError) -> PodUsage {
        try await podUsage(try await sandboxes.sandbox(id))
    }

    public func podStats(idPrefix: String? = nil, labels: [String: String] = [:]) async -> [PodUsage] {
        var result: [PodUsage] = []
        for sandbox in await sandboxes.list(idPrefix: idPrefix, state: .ready, labels: labels) {
            if let usage = try? await podUsage(sandbox) { result.append(usage) }
        }
        return result
    }

    func podUsage(_ sandbox: PodSandbox) async throws(SkiffError) -> PodUsage {
        let containers = await list(sandboxID: sandbox.id).filter { $0.state == .running }.map(usage(of:))
        let interfaces =
            if let netns = sandbox.namespaces?.network, !sandbox.hostNetwork {
                await PodNetworkStats.read(networkNamespace: netns)
            } else {
                [InterfaceCounters]()
            }
        return PodUsage(
            sandbox: sandbox,
            containers: containers,
            interfaces: interfaces,
            timestamp: SandboxService.nowNanoseconds()
        )
    }

    func usage(of container: Container) -> ContainerUsage {
        let now = SandboxService.nowNanoseconds()
        let cgroup = options.cgroupLayout.flatMap { CgroupReader(layout: $0).usage(ofCgroup: container.cgroupsPath) }
        var nanoCores: UInt64?
        if let cpu = cgroup?.cpuUsageNanos, let timestamp = cgroup?.timestampNanos {
            if let previous = cpuSamples[container.id], timestamp > previous.timestamp, cpu >= previous.usage {
                nanoCores = UInt64(Double(cpu - previous.usage) / Double(timestamp - previous.timestamp) * 1e9)
            }
            cpuSamples[container.id] = (timestamp, cpu)
        }
        let upper = "\(layersRoot)/\(container.id)/upper"
        let layer = DirectoryTree.usage(upper)
        return ContainerUsage(
            container: container,
            cgroup: cgroup,
            nanoCores: nanoCores,
            writableLayerBytes: UInt64(max(0, layer.bytes)),
            writableLayerInodes: UInt64(max(0, layer.inodes)),
            writableLayerMountpoint: options.rootDir,
            timestamp: now
        )
    }
}
