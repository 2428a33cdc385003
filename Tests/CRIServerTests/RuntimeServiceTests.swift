import CRIAPI
import DaemonConfig
import Foundation
import GRPCCore
import ImageCore
import Logging
import RuntimeCore
import SkiffCommon
import Testing

@testable import CRIServer

@Suite struct RuntimeServiceTests {
    static func context(_ method: String) -> ServerContext {
        ServerContext(
            descriptor: MethodDescriptor(fullyQualifiedService: "runtime.v1.RuntimeService", method: method),
            remotePeer: "test",
            localPeer: "test",
            cancellation: ServerContext.RPCCancellationHandle()
        )
    }

    struct NoNamespaces: NamespacePinning {
        func pin(_ request: NamespaceRequest, in directory: String) async throws(SkiffError) -> PinnedNamespaces {
            throw SkiffError.unimplemented("not in unit tests")
        }
        func unpin(_ namespaces: PinnedNamespaces) throws(SkiffError) {}
    }

    /// One image manager for the suite, never released: its HTTP client must be shut down
    /// before it goes, and these tests never pull.
    /// Its directory goes when the test process exits.
    static let images: ImageManager = {
        atexit { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "skiff-rs-images-\(getpid())") }
        return try! ImageManager(
            options: .init(
                rootDir: NSTemporaryDirectory() + "skiff-rs-images-\(getpid())",
                registry: RegistrySettings()
            ),
            logger: Logger(label: "test")
        )
    }()

    static func service(
        stateDir: String,
        lookup: @escaping @Sendable (String) -> String? = { "/usr/bin/\($0)" }
    ) async throws -> RuntimeService {
        let configuration = try ConfigLoader.parse("[network]\ncni_conf_dir = \"/nonexistent\"", file: "t.toml")
        let probe = NodeStatusProbe(configuration: configuration, lookup: lookup)
        let sandboxes = try await SandboxService(
            options: .init(stateDir: stateDir, cniConfDir: "/nonexistent", cniBinDirs: [], handlers: probe.handlers()),
            pinner: NoNamespaces(),
            logger: Logger(label: "test")
        )
        let logger = Logger(label: "test")
        let monitor = ConmonMonitor(binary: "/nonexistent/conmon")
        let exits = try ExitFileWatcher(directory: stateDir + "/exits", logger: logger)
        let containers = try await ContainerService(
            options: .init(
                stateDir: stateDir,
                rootDir: stateDir + "/root",
                handlers: probe.handlers(),
                cgroupLayout: nil
            ),
            sandboxes: sandboxes,
            images: Self.images,
            monitor: monitor,
            exits: exits,
            logger: logger
        )
        return RuntimeService(
            statusProbe: probe,
            settings: try RuntimeSettings(stateDir: stateDir),
            cgroupDriver: .cgroupfs,
            sandboxes: sandboxes,
            pods: await PodService(
                options: .init(),
                sandboxes: sandboxes,
                containers: containers,
                monitor: monitor,
                exits: exits,
                logger: logger
            ),
            containers: containers,
            exec: ExecService(containers: containers, logger: logger),
            stats: StatsService(containers: containers, sandboxes: sandboxes, logger: logger)
        )
    }

    @Test func statusConvertsConditionsAndHandlers() async throws {
        let directory = NSTemporaryDirectory() + "skiff-rs-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let service = try await Self.service(stateDir: directory)
        var request = Runtime_V1_StatusRequest()
        request.verbose = true
        let response = try await service.status(request: request, context: Self.context("Status"))
        #expect(response.status.conditions.map(\.type) == ["RuntimeReady", "NetworkReady"])
        #expect(response.status.conditions[0].status)
        #expect(!response.status.conditions[1].status)
        #expect(response.status.conditions[1].reason == "NetworkPluginNotReady")
        #expect(response.runtimeHandlers.map(\.name) == ["crun", "", "runc"])
        #expect(response.info["config"]?.contains("\"defaultHandler\":\"runc\"") == true)
    }

    @Test func versionAndRuntimeConfig() async throws {
        let directory = NSTemporaryDirectory() + "skiff-rs-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let service = try await Self.service(stateDir: directory)
        let version = try await service.version(request: .init(), context: Self.context("Version"))
        #expect(version.runtimeName == "skiff")
        #expect(version.runtimeApiVersion == "v1")
        let config = try await service.runtimeConfig(request: .init(), context: Self.context("RuntimeConfig"))
        #expect(config.linux.cgroupDriver == .cgroupfs)
    }
}
