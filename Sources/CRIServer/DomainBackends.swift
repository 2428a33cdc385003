import ImageCore
import RuntimeCore
import SkiffCommon
import StreamingServer

// What the CRI adapter needs of the domain: one protocol per owner, as narrow as the rpcs use
// it. The daemon passes the real owners (conformances below); the adapter's tests pass fakes,
// so a conversion or a status can be tested without a node.

/// Run, stop and remove pods (`PodService`).
public protocol PodLifecycle: Sendable {
    func run(_ spec: SandboxSpec) async throws(SkiffError) -> PodSandbox
    func stop(_ sandboxID: String) async throws(SkiffError)
    func remove(_ sandboxID: String) async throws(SkiffError)
    func updateResources(_ sandboxID: String, _ resources: PodResources) async throws(SkiffError)
}

/// The pods' records, for status, lists and port-forward (`SandboxService`).
public protocol PodDirectory: Sendable {
    func sandbox(_ id: String) async throws(SkiffError) -> PodSandbox
    func find(_ id: String) async -> PodSandbox?
    func list(idPrefix: String?, state: PodSandbox.State?, labels: [String: String]) async -> [PodSandbox]
    func validatePortForward(_ id: String) async throws(SkiffError) -> PodSandbox
}

/// The container lifecycle and records (`ContainerService`).
public protocol ContainerLifecycle: Sendable {
    func create(in sandboxID: String, _ spec: ContainerSpec) async throws(SkiffError) -> Container
    func start(_ id: String) async throws(SkiffError)
    func stop(_ id: String, timeout: Int64) async throws(SkiffError)
    func remove(_ id: String) async throws(SkiffError)
    func container(_ id: String) async throws(SkiffError) -> Container
    func exists(_ id: String) async -> Bool
    func running(_ id: String, toAllow purpose: String) async throws(SkiffError) -> Container
    func list(
        idPrefix: String?,
        state: Container.State?,
        sandboxID: String?,
        labels: [String: String]
    ) async
        -> [Container]
    func runtimeSpecJSON(of id: String) async -> String?
    func updateResources(_ id: String, _ resources: ContainerSpec.Resources) async throws(SkiffError)
    func reopenLog(_ id: String) async throws(SkiffError)
    func subscribeToEvents() async -> AsyncStream<ContainerEvent>
}

/// Commands in running containers, and attach checks (`ExecService`).
public protocol ContainerExec: Sendable {
    func execSync(_ id: String, command: [String], timeout: Int64) async throws(SkiffError) -> ExecService.ExecResult
    func validateAttach(_ id: String, stdin: Bool) async throws(SkiffError) -> Container
}

/// Container and pod usage (`StatsService`).
public protocol UsageStatistics: Sendable {
    func stats(of id: String) async throws(SkiffError) -> StatsService.ContainerUsage
    func stats(idPrefix: String?, sandboxID: String?, labels: [String: String]) async -> [StatsService.ContainerUsage]
    func podStats(of id: String) async throws(SkiffError) -> StatsService.PodUsage
    func podStats(idPrefix: String?, labels: [String: String]) async -> [StatsService.PodUsage]
}

/// cAdvisor's container metrics for the CRI (`PodMetricsCollector`).
public protocol PodMetricsSource: Sendable {
    /// The metrics `podMetrics()` may return; the same at every call (the kubelet reads them once).
    func metricDescriptors() async -> [ContainerMetric]
    func podMetrics() async -> [PodMetrics]
}

/// Single-use URLs on the streaming server (`StreamingHTTPServer`).
public protocol StreamURLIssuer: Sendable {
    func url(for request: StreamRequest) async throws(SkiffError) -> String
}

/// The node's images (`ImageManager`).
public protocol ImageStore: Sendable {
    func list(matching reference: String?) async -> [ImageRecord]
    func image(_ reference: String) async -> ImageRecord?
    func configuration(of record: ImageRecord) async throws(SkiffError) -> ImageConfiguration?
    func pull(_ reference: String, credentials: RegistryCredentials?) async throws(SkiffError) -> ImageRecord
    func remove(_ reference: String) async throws(SkiffError)
    func usage() async -> (bytes: Int64, inodes: Int64, mountpoint: String)
    func importArchive(at path: String) async throws(SkiffError) -> [ImageRecord]
}

extension PodService: PodLifecycle {}
extension SandboxService: PodDirectory {}
extension ContainerService: ContainerLifecycle {
    public func subscribeToEvents() async -> AsyncStream<ContainerEvent> { await events.subscribe() }
}
extension ExecService: ContainerExec {}
extension StatsService: UsageStatistics {}
extension PodMetricsCollector: PodMetricsSource {}
extension StreamingHTTPServer: StreamURLIssuer {}
extension ImageManager: ImageStore {}
