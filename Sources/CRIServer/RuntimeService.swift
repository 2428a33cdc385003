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
    let sandboxes: SandboxService
    let pods: PodService
    let containers: ContainerService
    let exec: ExecService
    let stats: StatsService
    /// nil in unit tests without a streaming server.
    let streaming: StreamingHTTPServer?

    public init(
        statusProbe: NodeStatusProbe,
        settings: RuntimeSettings,
        cgroupDriver: DaemonConfiguration.CgroupDriver,
        sandboxes: SandboxService,
        pods: PodService,
        containers: ContainerService,
        exec: ExecService,
        stats: StatsService,
        streaming: StreamingHTTPServer? = nil
    ) {
        self.pods = pods
        self.containers = containers
        self.exec = exec
        self.stats = stats
        self.streaming = streaming
        self.statusProbe = statusProbe
        self.settings = settings
        self.cgroupDriver = cgroupDriver
        self.sandboxes = sandboxes
    }
}
