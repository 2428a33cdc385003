import LinuxSys
import Logging
import SkiffCommon

/// Resource usage of containers and pods (ContainerStats, PodSandboxStats and their lists):
/// from their cgroups (v1 or v2), the writable layer and the pod's network namespace. Its only
/// state is the last CPU sample of each container, for the rate in nanocores.
public actor StatsService {
    let containers: ContainerService
    let sandboxes: SandboxService
    let cgroupLayout: CgroupLayout?
    let logger: Logger
    /// The last CPU sample per container, for nanocores.
    private var cpuSamples: [String: (timestamp: Int64, usage: UInt64)] = [:]

    public init(containers: ContainerService, sandboxes: SandboxService, logger: Logger) {
        self.containers = containers
        self.sandboxes = sandboxes
        cgroupLayout = containers.options.cgroupLayout
        self.logger = logger
    }

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
        await usage(of: try await containers.current(id))
    }

    public func stats(
        idPrefix: String? = nil,
        sandboxID: String? = nil,
        labels: [String: String] = [:]
    ) async -> [ContainerUsage] {
        let all = await containers.list()
        // Samples of containers that are gone go with them.
        let known = Set(all.map(\.id))
        cpuSamples = cpuSamples.filter { known.contains($0.key) }
        var result: [ContainerUsage] = []
        for container in await containers.list(idPrefix: idPrefix, sandboxID: sandboxID, labels: labels)
        where container.state == .running {
            result.append(await usage(of: container))
        }
        return result
    }

    public func podStats(of id: String) async throws(SkiffError) -> PodUsage {
        await podUsage(try await sandboxes.sandbox(id))
    }

    public func podStats(idPrefix: String? = nil, labels: [String: String] = [:]) async -> [PodUsage] {
        var result: [PodUsage] = []
        for sandbox in await sandboxes.list(idPrefix: idPrefix, state: .ready, labels: labels) {
            result.append(await podUsage(sandbox))
        }
        return result
    }

    func podUsage(_ sandbox: PodSandbox) async -> PodUsage {
        var containers: [ContainerUsage] = []
        for container in await self.containers.list(sandboxID: sandbox.id) where container.state == .running {
            containers.append(await usage(of: container))
        }
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
            timestamp: WallClock.nanoseconds()
        )
    }

    func usage(of container: Container) async -> ContainerUsage {
        let now = WallClock.nanoseconds()
        let cgroup =
            container.runtimeSandboxed == true
            ? await sandboxedUsage(of: container)
            : cgroupLayout.flatMap { CgroupReader(layout: $0).usage(ofCgroup: container.cgroupsPath) }
        var nanoCores: UInt64?
        if let cpu = cgroup?.cpuUsageNanos, let timestamp = cgroup?.timestampNanos {
            if let previous = cpuSamples[container.id], timestamp > previous.timestamp, cpu >= previous.usage {
                nanoCores = UInt64(Double(cpu - previous.usage) / Double(timestamp - previous.timestamp) * 1e9)
            }
            cpuSamples[container.id] = (timestamp, cpu)
        }
        let upper = "\(containers.layersRoot)/\(container.id)/upper"
        let layer = DirectoryTree.usage(upper)
        return ContainerUsage(
            container: container,
            cgroup: cgroup,
            nanoCores: nanoCores,
            writableLayerBytes: UInt64(max(0, layer.bytes)),
            writableLayerInodes: UInt64(max(0, layer.inodes)),
            writableLayerMountpoint: containers.options.rootDir,
            timestamp: now
        )
    }

    /// A container in a gVisor sandbox: its cgroup stays empty, so its usage is the sentry's
    /// (`runsc events --stats`). Memory is the sandbox's, reported for each of its containers.
    private func sandboxedUsage(of container: Container) async -> CgroupUsage? {
        do throws(SkiffError) {
            guard let runtime = try containers.runtime(for: container) as? SandboxedRuntime else { return nil }
            let usage = try await runtime.stats(id: container.id)
            return CgroupUsage(
                timestampNanos: WallClock.nanoseconds(),
                cpuUsageNanos: usage.cpuNanoseconds,
                memoryUsageBytes: usage.memoryBytes,
                memoryWorkingSetBytes: usage.memoryBytes,
                pids: usage.processes
            )
        } catch {
            logger.debug(
                "cannot read a sandboxed container's usage",
                metadata: ["id": "\(container.id)", "error": "\(error)"]
            )
            return nil
        }
    }
}
