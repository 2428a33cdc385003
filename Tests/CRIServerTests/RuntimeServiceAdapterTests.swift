import CRIAPI
import DaemonConfig
import Foundation
import GRPCCore
import SkiffCommon
import StreamingServer
import Synchronization
import Testing

@testable import CRIServer
@testable import RuntimeCore

/// The adapter over fakes: each rpc converts its request into the domain call it should make,
/// and the domain's answer (or error) into the response, without a node.
@Suite struct RuntimeServiceAdapterTests {
    static func service(_ domain: FakeDomain, streaming: Bool = true) throws -> RuntimeService {
        let configuration = try ConfigLoader.parse("[network]\ncni_conf_dir = \"/nonexistent\"", file: "t.toml")
        return RuntimeService(
            statusProbe: NodeStatusProbe(configuration: configuration, lookup: { "/usr/bin/\($0)" }),
            settings: try RuntimeSettings(stateDir: NSTemporaryDirectory() + "skiff-adapter-\(UUID().uuidString)"),
            cgroupDriver: .cgroupfs,
            sandboxes: domain,
            pods: domain.podLifecycle,
            containers: domain,
            exec: domain,
            stats: domain,
            metrics: domain,
            streaming: streaming ? domain : nil
        )
    }

    static func context(_ method: String) -> ServerContext { RuntimeServiceTests.context(method) }

    @Test func runPodSandboxHandsTheConvertedConfigToThePodOwnerAndAnswersItsID() async throws {
        let domain = FakeDomain()
        var request = Runtime_V1_RunPodSandboxRequest()
        request.config.metadata.name = "web"
        request.config.metadata.namespace = "shop"
        request.config.metadata.uid = "u-1"
        request.config.metadata.attempt = 2
        request.config.hostname = "web-0"
        request.config.labels = ["app": "web"]
        var mapping = Runtime_V1_PortMapping()
        mapping.containerPort = 80
        mapping.hostPort = 8080
        mapping.protocol = .udp
        request.config.portMappings = [mapping]
        request.runtimeHandler = "crun"
        let response = try await Self.service(domain).runPodSandbox(
            request: request,
            context: Self.context("RunPodSandbox")
        )
        #expect(response.podSandboxID == "pod-1")
        let spec = try #require(await domain.lastSandboxSpec)
        #expect(spec.name == "web" && spec.namespace == "shop" && spec.uid == "u-1" && spec.attempt == 2)
        #expect(spec.hostname == "web-0" && spec.labels == ["app": "web"] && spec.runtimeHandler == "crun")
        #expect(spec.portMappings == [.init(containerPort: 80, hostPort: 8080, protocol: "udp", hostIP: "")])
    }

    @Test func userNamespaceOptionsReachThePodOwnerAsMappings() async throws {
        let domain = FakeDomain()
        var request = Runtime_V1_RunPodSandboxRequest()
        request.config.metadata.name = "web"
        var range = Runtime_V1_IDMapping()
        (range.containerID, range.hostID, range.length) = (0, 65_536, 65_536)
        request.config.linux.securityContext.namespaceOptions.usernsOptions.mode = .pod
        request.config.linux.securityContext.namespaceOptions.usernsOptions.uids = [range]
        request.config.linux.securityContext.namespaceOptions.usernsOptions.gids = [range]
        _ = try await Self.service(domain).runPodSandbox(request: request, context: Self.context("RunPodSandbox"))
        let spec = try #require(await domain.lastSandboxSpec)
        let expected = IDMapRange(containerID: 0, hostID: 65_536, length: 65_536)
        #expect(spec.userNamespace == .init(mode: .pod, mapping: .init(uids: [expected], gids: [expected])))

        var plain = Runtime_V1_RunPodSandboxRequest()
        plain.config.metadata.name = "plain"
        _ = try await Self.service(domain).runPodSandbox(request: plain, context: Self.context("RunPodSandbox"))
        #expect(await domain.lastSandboxSpec?.userNamespace == nil, "no userns_options: the node's namespace")
    }

    @Test func updatePodSandboxResourcesHandsBothPartsToThePodOwner() async throws {
        let domain = FakeDomain()
        var request = Runtime_V1_UpdatePodSandboxResourcesRequest()
        request.podSandboxID = "pod-1"
        request.resources.memoryLimitInBytes = 256 << 20
        request.resources.cpuShares = 512
        _ = try await Self.service(domain).updatePodSandboxResources(
            request: request,
            context: Self.context("UpdatePodSandboxResources")
        )
        let recorded = try #require(await domain.lastPodResources)
        #expect(recorded.overhead == nil, "no overhead was sent")
        #expect(recorded.resources?.memoryLimitBytes == 256 << 20 && recorded.resources?.cpuShares == 512)
    }

    @Test func aDomainErrorReachesTheCallerAsItsStatusAndMessage() async throws {
        let domain = FakeDomain()
        await domain.setFailure("run", SkiffError(.alreadyExists, "pod sandbox shop/web already exists"))
        var request = Runtime_V1_RunPodSandboxRequest()
        request.config.metadata.name = "web"
        request.config.metadata.namespace = "shop"
        let service = try Self.service(domain)
        let error = await #expect(throws: SkiffError.self) {
            _ = try await service.runPodSandbox(request: request, context: Self.context("RunPodSandbox"))
        }
        let status = try #require(error)
        #expect(status.rpcErrorCode == .alreadyExists)
        #expect(status.rpcErrorMessage.contains("shop/web already exists"))
    }

    @Test func stopContainerOfAContainerThatIsGoneSucceedsWithoutAStop() async throws {
        let domain = FakeDomain()
        var request = Runtime_V1_StopContainerRequest()
        request.containerID = "gone"
        request.timeout = -5
        _ = try await Self.service(domain).stopContainer(request: request, context: Self.context("StopContainer"))
        #expect(await domain.calls.filter { $0.hasPrefix("stop(") }.isEmpty)

        await domain.add(FakeDomain.container(id: "here", sandboxID: "p", state: .running))
        request.containerID = "here"
        _ = try await Self.service(domain).stopContainer(request: request, context: Self.context("StopContainer"))
        // A negative timeout is no grace period, not an error.
        #expect(await domain.calls.contains("stop(here,0)"))
    }

    @Test func containerStatusAddsTheRuntimeSpecOnlyWhenVerbose() async throws {
        let domain = FakeDomain()
        await domain.add(FakeDomain.container(id: "c1", sandboxID: "p", state: .exited))
        let service = try Self.service(domain)
        var request = Runtime_V1_ContainerStatusRequest()
        request.containerID = "c1"
        let plain = try await service.containerStatus(request: request, context: Self.context("ContainerStatus"))
        #expect(plain.status.id == "c1" && plain.status.state == .containerExited)
        #expect(plain.info.isEmpty)
        request.verbose = true
        let verbose = try await service.containerStatus(request: request, context: Self.context("ContainerStatus"))
        #expect(verbose.info["runtimeSpec"] == #"{"ociVersion":"1.1.0"}"#)
        #expect(verbose.info["info"]?.contains("\"sandboxID\":\"p\"") == true)
    }

    @Test func listContainersPassesTheFilterThrough() async throws {
        let domain = FakeDomain()
        await domain.add(FakeDomain.container(id: "c1", sandboxID: "p", state: .running))
        var request = Runtime_V1_ListContainersRequest()
        request.filter.id = "c"
        request.filter.podSandboxID = "p"
        request.filter.state.state = .containerRunning
        request.filter.labelSelector = ["app": "web"]
        let response = try await Self.service(domain).listContainers(
            request: request,
            context: Self.context("ListContainers")
        )
        #expect(response.containers.map(\.id) == ["c1"])
        #expect(await domain.calls.contains(#"listContainers(c,running,p,[(key: "app", value: "web")])"#))
    }

    @Test func execSyncClampsTheTimeoutAndConvertsTheResult() async throws {
        let domain = FakeDomain()
        await domain.setExecResult(.init(stdout: Array("out".utf8), stderr: Array("err".utf8), exitCode: 3))
        var request = Runtime_V1_ExecSyncRequest()
        request.containerID = "c1"
        request.cmd = ["sh", "-c", "exit 3"]
        request.timeout = -1
        let response = try await Self.service(domain).execSync(request: request, context: Self.context("ExecSync"))
        #expect(await domain.calls.contains("execSync(c1,sh -c exit 3,0)"))
        #expect(response.stdout == Data("out".utf8) && response.stderr == Data("err".utf8) && response.exitCode == 3)
    }

    @Test func execRefusesATerminalWithStderrAndMintsNoURL() async throws {
        let domain = FakeDomain()
        await domain.add(FakeDomain.container(id: "c1", sandboxID: "p", state: .running))
        var request = Runtime_V1_ExecRequest()
        request.containerID = "c1"
        request.cmd = ["sh"]
        request.tty = true
        request.stdout = true
        request.stderr = true
        let service = try Self.service(domain)
        let error = await #expect(throws: SkiffError.self) {
            _ = try await service.exec(request: request, context: Self.context("Exec"))
        }
        #expect(error?.code == .invalidArgument)
        #expect(await domain.issuedStreams.isEmpty)

        request.stderr = false
        let response = try await service.exec(request: request, context: Self.context("Exec"))
        #expect(response.url == "http://127.0.0.1:1/1")
        let issued = await domain.issuedStreams
        #expect(
            issued == [
                .exec(
                    ExecStreamRequest(
                        containerID: "c1",
                        command: ["sh"],
                        tty: true,
                        stdin: false,
                        stdout: true,
                        stderr: false
                    )
                )
            ]
        )
    }

    @Test func execInAContainerThatDoesNotRunIsAFailedPrecondition() async throws {
        let domain = FakeDomain()
        await domain.add(FakeDomain.container(id: "c1", sandboxID: "p", state: .exited))
        var request = Runtime_V1_ExecRequest()
        request.containerID = "c1"
        request.cmd = ["sh"]
        request.stdout = true
        let service = try Self.service(domain)
        let error = await #expect(throws: SkiffError.self) {
            _ = try await service.exec(request: request, context: Self.context("Exec"))
        }
        #expect(error?.code == .failedPrecondition)
        #expect(await domain.issuedStreams.isEmpty)
    }

    @Test func attachToATerminalAsksNoSeparateStderr() async throws {
        let domain = FakeDomain()
        await domain.add(FakeDomain.container(id: "c1", sandboxID: "p", state: .running, tty: true))
        var request = Runtime_V1_AttachRequest()
        request.containerID = "c1"
        request.stdout = true
        request.stderr = true
        _ = try await Self.service(domain).attach(request: request, context: Self.context("Attach"))
        let issued = await domain.issuedStreams
        #expect(
            issued == [
                .attach(AttachStreamRequest(containerID: "c1", tty: true, stdin: false, stdout: true, stderr: false))
            ]
        )
    }

    @Test func streamingRPCsWithoutAStreamingServerAreUnimplemented() async throws {
        let domain = FakeDomain()
        var request = Runtime_V1_PortForwardRequest()
        request.podSandboxID = "p"
        request.port = [80]
        let service = try Self.service(domain, streaming: false)
        let error = await #expect(throws: SkiffError.self) {
            _ = try await service.portForward(request: request, context: Self.context("PortForward"))
        }
        #expect(error?.rpcErrorCode == .unimplemented)
    }

    @Test func portForwardRefusesAPortOutsideTCPsRangeBeforeAskingThePod() async throws {
        let domain = FakeDomain()
        var request = Runtime_V1_PortForwardRequest()
        request.podSandboxID = "p"
        request.port = [80, 70000]
        let service = try Self.service(domain)
        let error = await #expect(throws: SkiffError.self) {
            _ = try await service.portForward(request: request, context: Self.context("PortForward"))
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("70000") == true)
        #expect(await domain.calls.isEmpty)
    }

    @Test func containerEventsCarryThePodsStatus() async throws {
        let domain = FakeDomain()
        var pod = PodSandbox.placeholder(id: "p", directory: "/nonexistent")
        pod.state = .ready
        await domain.add(pod)
        let container = FakeDomain.container(id: "c1", sandboxID: "p", state: .running)
        await domain.setEvents([
            ContainerEvent(kind: .started, container: container, timestamp: 7),
            ContainerEvent(kind: .deleted, container: container, timestamp: 8),
        ])
        let collected = EventCollector()
        try await Self.service(domain).getContainerEvents(
            request: .init(),
            response: RPCWriter(wrapping: collected),
            context: Self.context("GetContainerEvents")
        )
        let messages = collected.messages
        #expect(messages.map(\.containerEventType) == [.containerStartedEvent, .containerDeletedEvent])
        #expect(messages.map(\.createdAt) == [7, 8])
        #expect(messages.allSatisfy { $0.podSandboxStatus.id == "p" && $0.podSandboxStatus.state == .sandboxReady })
        #expect(messages[0].containersStatuses.map(\.id) == ["c1"])
        #expect(messages[1].containersStatuses.isEmpty)
    }

    @Test func podSandboxStatusOfAnUnknownPodIsNotFound() async throws {
        let domain = FakeDomain()
        var request = Runtime_V1_PodSandboxStatusRequest()
        request.podSandboxID = "nope"
        let service = try Self.service(domain)
        let error = await #expect(throws: SkiffError.self) {
            _ = try await service.podSandboxStatus(request: request, context: Self.context("PodSandboxStatus"))
        }
        #expect(error?.rpcErrorCode == .notFound)
    }
}

/// Collects what a server-streaming rpc writes.
final class EventCollector: RPCWriterProtocol, Sendable {
    private let collected = Mutex<[Runtime_V1_ContainerEventResponse]>([])

    var messages: [Runtime_V1_ContainerEventResponse] { collected.withLock { $0 } }

    func write(_ element: Runtime_V1_ContainerEventResponse) async throws {
        collected.withLock { $0.append(element) }
    }

    func write(contentsOf elements: some Sequence<Runtime_V1_ContainerEventResponse>) async throws {
        let all = Array(elements)
        collected.withLock { $0.append(contentsOf: all) }
    }
}

/// ContainerConfig.stop_signal and ContainerStatus.stop_signal: every CRI signal survives the
/// round trip through its Linux number.
@Suite struct StopSignalConversionTests {
    @Test func everyCRISignalMapsToANumberAndBack() {
        for signal in Runtime_V1_Signal.allCases where signal != .runtimeDefault {
            let name = ContainerConversions.signalName(signal)
            let number = SignalNames.number(name)
            #expect(number != nil, "\(signal) → \(name ?? "nil")")
            // SIGCLD, SIGIOT and SIGPOLL are aliases: they come back as SIGCHLD, SIGABRT, SIGIO.
            let aliases: [Runtime_V1_Signal: Runtime_V1_Signal] = [
                .sigcld: .sigchld, .sigiot: .sigabrt, .sigpoll: .sigio,
            ]
            #expect(ContainerConversions.signal(number ?? 0) == (aliases[signal] ?? signal), "\(signal)")
        }
    }

    @Test func theStopSignalReachesTheSpecAndAnUnknownOneIsRefusedByName() throws {
        var config = Runtime_V1_ContainerConfig()
        config.metadata.name = "c"
        config.image.image = "img"
        config.stopSignal = .sigusr1
        #expect(try ContainerConversions.spec(config).stopSignal == "SIGUSR1")
        config.stopSignal = .runtimeDefault
        #expect(try ContainerConversions.spec(config).stopSignal == nil)
        config.stopSignal = .UNRECOGNIZED(99)
        #expect(try ContainerConversions.spec(config).unrecognized.map(\.field) == ["stop_signal"])
    }
}
