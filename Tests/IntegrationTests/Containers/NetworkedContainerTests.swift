import CRIAPI
import Foundation
import GRPCCore
import ImageFixtures
import Testing

/// A container in a pod with a real CNI network (bridge + host-local on a per-run bridge).
@Suite(.serialized) struct NetworkedContainerTests {
    /// A skiffd on a per-run CNI bridge with the busybox image pulled and one pod `name` on the
    /// network; everything is removed and checked for leftovers afterwards.
    static func withNetworkedPod(
        _ name: String,
        _ body: (ContainerHarness, _ podIP: String) async throws -> Void
    ) async throws {
        try await withNetworkedPod(
            name,
            handler: "",
            configure: { _ in },
            { harness, podIP, _ in try await body(harness, podIP) }
        )
    }

    /// The same, with the pod's config adjusted by `configure` and run on `handler`.
    static func withNetworkedPod(
        _ name: String,
        handler: String,
        extraConfig: String = "",
        configure: (inout Runtime_V1_PodSandboxConfig) -> Void,
        _ body: (ContainerHarness, _ podIP: String, Runtime_V1_PodSandboxConfig) async throws -> Void
    ) async throws {
        let registry = try await TestRegistry.start()
        defer { registry.stop() }
        try await registry.withPusher {
            try await $0.push(
                BusyboxImages.standard(busybox: ContainerHarness.busybox),
                repository: "skiff/busybox",
                tag: "1.0"
            )
        }
        try await PodSandboxTests.withNetworkedDaemon(extraConfig: extraConfig) { daemon, _ in
            var pull = Runtime_V1_PullImageRequest()
            pull.image.image = "\(registry.host)/skiff/busybox:1.0"
            let image = try await daemon.images { try await $0.pullImage(pull) }.imageRef
            var podConfig = PodSandboxTests.config(name)
            podConfig.logDirectory = daemon.directory + "/logs"
            podConfig.linux.securityContext.namespaceOptions.pid = .container
            configure(&podConfig)
            let podID = try await PodSandboxTests.run(daemon, podConfig, handler: handler)
            let podIP = try await PodSandboxTests.status(daemon, podID).network.ip
            let harness = ContainerHarness(
                daemon: daemon,
                image: image,
                podID: podID,
                logDirectory: podConfig.logDirectory
            )
            do {
                try await body(harness, podIP, podConfig)
            } catch {
                try? await harness.tearDown()
                throw error
            }
            try await harness.tearDown()
        }
    }

    /// A directory on the node with `page` as its index.html, mounted read-only at /www.
    static func webRoot(_ daemon: DaemonHarness, page: String) throws -> Runtime_V1_Mount {
        try FileManager.default.createDirectory(atPath: daemon.directory + "/www", withIntermediateDirectories: true)
        try page.write(toFile: daemon.directory + "/www/index.html", atomically: false, encoding: .utf8)
        var mount = Runtime_V1_Mount()
        mount.hostPath = daemon.directory + "/www"
        mount.containerPath = "/www"
        mount.readonly = true
        return mount
    }

    @Test func aContainerSeesThePodsNetworkAndAnotherPodReachesIt() async throws {
        try await Self.withNetworkedPod("served") { harness, podIP in
            let daemon = harness.daemon
            let webRoot = try Self.webRoot(daemon, page: "served by a container\n")
            let server = try await harness.run(
                harness.config("httpd", ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]) { $0.mounts = [webRoot] }
            )
            let addresses = String(
                decoding: try await harness.execSync(server, ["/bin/cat", "/proc/net/fib_trie"]).stdout,
                as: UTF8.self
            )
            #expect(addresses.contains(podIP), "the container is in the pod's network namespace")
            #expect(try await harness.execSync(server, ["/bin/hostname"]).stdout == Data("served-host\n".utf8))

            // A second pod on the same network fetches the page by the first pod's IP.
            var clientConfig = PodSandboxTests.config("client")
            clientConfig.logDirectory = daemon.directory + "/logs"
            clientConfig.linux.securityContext.namespaceOptions.pid = .container
            let clientPod = try await PodSandboxTests.run(daemon, clientConfig)
            let fetch = harness.config(
                "fetch",
                [
                    "/bin/sh", "-c",
                    "for i in 1 2 3 4 5 6 7 8 9 10; do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc \(podIP) 8080 && exit 0; sleep 0.2; done; exit 1",
                ]
            )
            let fetcher = try await harness.create(fetch, in: clientPod)
            try await harness.start(fetcher)
            #expect(try await harness.waitForExit(fetcher).exitCode == 0)
            #expect(harness.stdout("fetch").contains("served by a container"), "\(harness.stdout("fetch"))")
        }
    }
}
