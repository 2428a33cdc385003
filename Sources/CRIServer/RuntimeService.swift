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
    let containers: ContainerService
    /// nil in unit tests without a streaming server.
    let streaming: StreamingHTTPServer?

    public init(
        statusProbe: NodeStatusProbe,
        settings: RuntimeSettings,
        cgroupDriver: DaemonConfiguration.CgroupDriver,
        sandboxes: SandboxService,
        containers: ContainerService,
        streaming: StreamingHTTPServer? = nil
    ) {
        self.containers = containers
        self.streaming = streaming
        self.statusProbe = statusProbe
        self.settings = settings
        self.cgroupDriver = cgroupDriver
        self.sandboxes = sandboxes
    }
}
