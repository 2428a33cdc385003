import CRIAPI
import DaemonConfig
import GRPCCore
import RuntimeCore
import StreamingServer

/// CRI `runtime.v1.RuntimeService`: decodes requests, calls the domain services, encodes
/// answers. The rpcs live in one extension file per group (`RuntimeService+PodSandbox.swift`,
/// `+Container.swift`, `+Exec.swift`, `+Stats.swift`, `+Runtime.swift`).
public struct RuntimeService: Runtime_V1_RuntimeService.SimpleServiceProtocol {
    let statusProbe: NodeStatusProbe
    let settings: RuntimeSettings
    let cgroupDriver: DaemonConfiguration.CgroupDriver
    let sandboxes: any PodDirectory
    let pods: any PodLifecycle
    let containers: any ContainerLifecycle
    let exec: any ContainerExec
    let stats: any UsageStatistics
    let metrics: any PodMetricsSource
    /// nil in unit tests without a streaming server.
    let streaming: (any StreamURLIssuer)?

    public init(
        statusProbe: NodeStatusProbe,
        settings: RuntimeSettings,
        cgroupDriver: DaemonConfiguration.CgroupDriver,
        sandboxes: any PodDirectory,
        pods: any PodLifecycle,
        containers: any ContainerLifecycle,
        exec: any ContainerExec,
        stats: any UsageStatistics,
        metrics: any PodMetricsSource,
        streaming: (any StreamURLIssuer)? = nil
    ) {
        self.pods = pods
        self.containers = containers
        self.exec = exec
        self.stats = stats
        self.metrics = metrics
        self.streaming = streaming
        self.statusProbe = statusProbe
        self.settings = settings
        self.cgroupDriver = cgroupDriver
        self.sandboxes = sandboxes
    }
}
