import ImageCore
import SkiffCommon
import StreamingServer

@testable import CRIServer
@testable import RuntimeCore

/// The domain as the adapter sees it, in memory: pods and containers are what the test puts in,
/// calls are recorded, and a test can make any owner's call fail with a given error.
actor FakeDomain: PodDirectory, ContainerLifecycle, ContainerExec, UsageStatistics, PodMetricsSource, StreamURLIssuer {
    var pods: [String: PodSandbox] = [:]
    var containers: [String: Container] = [:]
    /// Every call, as "name(arguments)".
    private(set) var calls: [String] = []
    /// The error each named call throws (by the name before the parenthesis).
    var failures: [String: SkiffError] = [:]
    var execResult = ExecService.ExecResult(stdout: [], stderr: [], exitCode: 0)
    var runtimeSpec: String? = #"{"ociVersion":"1.1.0"}"#
    var events: [ContainerEvent] = []
    private(set) var issuedStreams: [StreamRequest] = []
    var metricDescriptorList: [ContainerMetric] = []
    var podMetricList: [PodMetrics] = []

    func setFailure(_ call: String, _ error: SkiffError) { failures[call] = error }
    func add(_ pod: PodSandbox) { pods[pod.id] = pod }
    func add(_ container: Container) { containers[container.id] = container }
    func setExecResult(_ result: ExecService.ExecResult) { execResult = result }
    func setEvents(_ list: [ContainerEvent]) { events = list }
    func setMetrics(descriptors: [ContainerMetric], pods: [PodMetrics]) {
        metricDescriptorList = descriptors
        podMetricList = pods
    }

    private func record(_ name: String, _ arguments: String = "") throws(SkiffError) {
        calls.append("\(name)(\(arguments))")
        if let failure = failures[name] { throw failure }
    }

    private func existingContainer(_ id: String) throws(SkiffError) -> Container {
        guard let container = containers[id] else { throw SkiffError.notFound("container \"\(id)\" does not exist") }
        return container
    }

    // MARK: PodLifecycle (through `podLifecycle`: its remove(_:) would clash with a container's)

    /// The pod owner's face of this fake.
    nonisolated var podLifecycle: some PodLifecycle { Pods(domain: self) }

    struct Pods: PodLifecycle {
        let domain: FakeDomain
        func run(_ spec: SandboxSpec) async throws(SkiffError) -> PodSandbox { try await domain.runPod(spec) }
        func stop(_ sandboxID: String) async throws(SkiffError) { try await domain.stopPod(sandboxID) }
        func remove(_ sandboxID: String) async throws(SkiffError) { try await domain.removePod(sandboxID) }
        func updateResources(_ sandboxID: String, _ resources: PodResources) async throws(SkiffError) {
            try await domain.updatePodResources(sandboxID, resources)
        }
    }

    var lastSandboxSpec: SandboxSpec?

    func runPod(_ spec: SandboxSpec) async throws(SkiffError) -> PodSandbox {
        try record("run", "\(spec.namespace)/\(spec.name)")
        lastSandboxSpec = spec
        var pod = PodSandbox.placeholder(id: "pod-\(pods.count + 1)", directory: "/nonexistent")
        pod.name = spec.name
        pod.namespace = spec.namespace
        pod.state = .ready
        pods[pod.id] = pod
        return pod
    }

    func stopPod(_ sandboxID: String) async throws(SkiffError) { try record("stopPod", sandboxID) }
    func removePod(_ sandboxID: String) async throws(SkiffError) { try record("removePod", sandboxID) }
    var lastPodResources: PodResources?
    func updatePodResources(_ sandboxID: String, _ resources: PodResources) async throws(SkiffError) {
        try record("updatePodResources", sandboxID)
        lastPodResources = resources
    }

    // MARK: PodDirectory

    func sandbox(_ id: String) async throws(SkiffError) -> PodSandbox {
        try record("sandbox", id)
        guard let pod = pods[id] else { throw SkiffError.notFound("pod sandbox \"\(id)\" does not exist") }
        return pod
    }

    func find(_ id: String) async -> PodSandbox? { pods[id] }

    func list(idPrefix: String?, state: PodSandbox.State?, labels: [String: String]) async -> [PodSandbox] {
        calls.append(
            "listPods(\(idPrefix ?? "nil"),\(state.map { "\($0)" } ?? "nil"),\(labels.sorted { $0.key < $1.key }))"
        )
        return pods.values.sorted { $0.id < $1.id }
    }

    func validatePortForward(_ id: String) async throws(SkiffError) -> PodSandbox {
        try record("validatePortForward", id)
        guard let pod = pods[id] else { throw SkiffError.notFound("pod sandbox \"\(id)\" does not exist") }
        return pod
    }

    // MARK: ContainerLifecycle

    var lastContainerSpec: ContainerSpec?

    func create(in sandboxID: String, _ spec: ContainerSpec) async throws(SkiffError) -> Container {
        try record("create", "\(sandboxID),\(spec.name)")
        lastContainerSpec = spec
        let container = Self.container(id: "ctr-\(containers.count + 1)", sandboxID: sandboxID, state: .created)
        containers[container.id] = container
        return container
    }

    func start(_ id: String) async throws(SkiffError) { try record("start", id) }
    func stop(_ id: String, timeout: Int64) async throws(SkiffError) { try record("stop", "\(id),\(timeout)") }
    func remove(_ id: String) async throws(SkiffError) { try record("removeContainer", id) }

    func container(_ id: String) async throws(SkiffError) -> Container {
        try record("container", id)
        return try existingContainer(id)
    }

    func exists(_ id: String) async -> Bool { containers[id] != nil }

    func running(_ id: String, toAllow purpose: String) async throws(SkiffError) -> Container {
        try record("running", id)
        let container = try existingContainer(id)
        guard container.state == .running else {
            throw SkiffError(.failedPrecondition, "container \(id) is \(container.state.rawValue); cannot \(purpose)")
        }
        return container
    }

    func list(
        idPrefix: String?,
        state: Container.State?,
        sandboxID: String?,
        labels: [String: String]
    ) async
        -> [Container]
    {
        calls.append(
            "listContainers(\(idPrefix ?? "nil"),\(state.map(\.rawValue) ?? "nil"),\(sandboxID ?? "nil"),\(labels.sorted { $0.key < $1.key }))"
        )
        return containers.values.sorted { $0.id < $1.id }
    }

    func runtimeSpecJSON(of id: String) async -> String? { runtimeSpec }

    func updateResources(_ id: String, _ resources: ContainerSpec.Resources) async throws(SkiffError) {
        try record("updateResources", id)
    }

    func reopenLog(_ id: String) async throws(SkiffError) { try record("reopenLog", id) }

    func subscribeToEvents() async -> AsyncStream<ContainerEvent> {
        let (stream, continuation) = AsyncStream<ContainerEvent>.makeStream()
        for event in events { continuation.yield(event) }
        continuation.finish()
        return stream
    }

    // MARK: ContainerExec

    func execSync(_ id: String, command: [String], timeout: Int64) async throws(SkiffError) -> ExecService.ExecResult {
        try record("execSync", "\(id),\(command.joined(separator: " ")),\(timeout)")
        return execResult
    }

    func validateAttach(_ id: String, stdin: Bool) async throws(SkiffError) -> Container {
        try record("validateAttach", "\(id),\(stdin)")
        return try existingContainer(id)
    }

    // MARK: UsageStatistics

    func stats(of id: String) async throws(SkiffError) -> StatsService.ContainerUsage {
        try record("stats", id)
        return StatsService.ContainerUsage(
            container: try existingContainer(id),
            cgroup: nil,
            nanoCores: nil,
            writableLayerBytes: 4096,
            writableLayerInodes: 2,
            writableLayerMountpoint: "/var/lib/skiff",
            timestamp: 1
        )
    }

    func stats(idPrefix: String?, sandboxID: String?, labels: [String: String]) async -> [StatsService.ContainerUsage] {
        []
    }

    func podStats(of id: String) async throws(SkiffError) -> StatsService.PodUsage {
        try record("podStats", id)
        throw SkiffError.notFound("pod sandbox \"\(id)\" does not exist")
    }

    func podStats(idPrefix: String?, labels: [String: String]) async -> [StatsService.PodUsage] { [] }

    // MARK: PodMetricsSource

    func metricDescriptors() async -> [ContainerMetric] {
        calls.append("metricDescriptors()")
        return metricDescriptorList
    }

    func podMetrics() async -> [PodMetrics] {
        calls.append("podMetrics()")
        return podMetricList
    }

    // MARK: StreamURLIssuer

    func url(for request: StreamRequest) async throws(SkiffError) -> String {
        try record("url")
        issuedStreams.append(request)
        return "http://127.0.0.1:1/\(issuedStreams.count)"
    }

    // MARK: Fixtures

    static func container(id: String, sandboxID: String, state: Container.State, tty: Bool = false) -> Container {
        Container(
            id: id,
            sandboxID: sandboxID,
            name: "c",
            attempt: 0,
            image: "docker.io/library/busybox:latest",
            imageID: "sha256:" + String(repeating: "a", count: 64),
            imageRef: "docker.io/library/busybox@sha256:" + String(repeating: "b", count: 64),
            labels: [:],
            annotations: [:],
            state: state,
            createdAt: 1,
            startedAt: state == .created ? 0 : 2,
            finishedAt: state == .exited ? 3 : 0,
            exitCode: 0,
            reason: "",
            message: "",
            logPath: "",
            mounts: [],
            resources: .init(),
            runtimeHandler: "runc",
            cgroupsPath: "/skiff/skiff-\(id)",
            layers: [],
            stopSignal: 15,
            pid: 0,
            monitorPID: 0,
            stdin: false,
            stdinOnce: false,
            tty: tty,
            terminationMessageHostPath: nil,
            runtimeBinary: nil,
            runtimeRoot: nil
        )
    }
}
