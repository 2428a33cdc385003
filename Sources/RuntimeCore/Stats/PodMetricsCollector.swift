import LinuxSys

/// The CRI metrics (ListMetricDescriptors, ListPodSandboxMetrics): for every ready pod, its
/// network counters (read inside its network namespace) and, for each of its running
/// containers, cAdvisor's container metrics from the container's cgroup, writable layer and
/// processes. Everything is read when asked (the CRI's "gathered live", so samples carry no
/// timestamp); nothing is kept between calls.
///
/// A container whose cgroup is already gone (it exited and its exit is not yet recorded) is
/// left out, as a pod that is no longer ready is: stopped and removed pods have no metrics.
public struct PodMetricsCollector: Sendable {
    let containers: ContainerService
    let sandboxes: SandboxService
    let cgroups: CgroupReader?

    public init(containers: ContainerService, sandboxes: SandboxService) {
        self.containers = containers
        self.sandboxes = sandboxes
        cgroups = containers.options.cgroupLayout.map { CgroupReader(layout: $0) }
    }

    /// Every metric `podMetrics()` may return; the same at every call.
    public func metricDescriptors() async -> [ContainerMetric] { ContainerMetric.all }

    public func podMetrics() async -> [PodMetrics] {
        let pods = await sandboxes.list(state: .ready)
        guard !pods.isEmpty else { return [] }
        let running = Dictionary(grouping: await containers.list(state: .running), by: \.sandboxID)
        let layers = containers.layersRoot
        // try?: without mountinfo the filesystem metrics are labelled with the directory itself.
        let device = (try? MountTable.current()).flatMap { FilesystemDevice.source(of: layers, in: $0) } ?? layers
        // try?: a filesystem that cannot be measured leaves out its limit and inode counts.
        let capacity = try? FileSystem.capacity(of: layers)
        let now = UInt64(max(0, WallClock.nanoseconds())) / 1_000_000_000

        var result: [PodMetrics] = []
        for sandbox in pods {
            let interfaces =
                if let netns = sandbox.namespaces?.network, !sandbox.hostNetwork {
                    await PodNetworkStats.read(networkNamespace: netns)
                } else {
                    [InterfaceCounters]()
                }
            var pod = PodMetrics(
                sandboxID: sandbox.id,
                samples: ContainerMetricSamples.pod(sandbox, interfaces: interfaces),
                containers: []
            )
            for container in running[sandbox.id] ?? [] {
                guard let reading = cgroups?.metrics(ofCgroup: container.cgroupsPath) else { continue }
                let layer = DirectoryTree.usage("\(layers)/\(container.id)/upper")
                let samples = ContainerMetricSamples.container(
                    container,
                    in: sandbox,
                    reading: reading,
                    filesystem: .init(device: device, usedBytes: UInt64(max(0, layer.bytes)), capacity: capacity),
                    descriptors: ProcessDescriptors.count(pids: reading.processes),
                    nowSeconds: now,
                    deviceName: { BlockDeviceNames.name(major: $0, minor: $1) }
                )
                pod.containers.append(.init(containerID: container.id, samples: samples))
            }
            result.append(pod)
        }
        return result
    }
}
