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

    static func service(
        stateDir: String,
        lookup: @escaping @Sendable (String) -> String? = { "/usr/bin/\($0)" }
    ) async throws -> RuntimeService {
        let configuration = try ConfigLoader.parse("[network]\ncni_conf_dir = \"/nonexistent\"", file: "t.toml")
        let domain = FakeDomain()
        return RuntimeService(
            statusProbe: NodeStatusProbe(configuration: configuration, lookup: lookup),
            settings: try RuntimeSettings(stateDir: stateDir),
            cgroupDriver: .cgroupfs,
            sandboxes: domain,
            pods: domain.podLifecycle,
            containers: domain,
            exec: domain,
            stats: domain,
            metrics: domain
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
        #expect(response.runtimeHandlers.map(\.name) == ["crun", "", "runc", "runsc"])
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
