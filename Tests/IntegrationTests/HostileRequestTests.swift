import CRIAPI
import Foundation
import GRPCCore
import Testing

/// Bad, malformed and hostile CRI requests over the real socket, each with its good counterpart:
/// every refusal is INVALID_ARGUMENT (or RESOURCE_EXHAUSTED for size) naming the field in a
/// short message, and nothing changes on the node — kernel settings, files outside skiffd's
/// directories, cgroups — nor is anything left in them.
@Suite(.serialized) struct HostileRequestTests {
    /// Expects `code` with a message that names `field` and stays short (a megabyte sent is
    /// never echoed back).
    static func expectRefusal(
        _ code: RPCError.Code = .invalidArgument,
        naming field: String,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () async throws -> Void
    ) async {
        do {
            try await body()
            Issue.record("expected \(code) naming \(field), got success", sourceLocation: sourceLocation)
        } catch let error as RPCError {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(
                error.message.contains(field),
                "the message names \(field): \(error.message)",
                sourceLocation: sourceLocation
            )
            #expect(
                error.message.utf8.count < 1024,
                "a short message, got \(error.message.utf8.count) bytes",
                sourceLocation: sourceLocation
            )
        } catch {
            Issue.record("expected \(code), got \(error)", sourceLocation: sourceLocation)
        }
    }

    static func sysctl(_ name: String) -> String {
        ((try? String(contentsOfFile: "/proc/sys/" + name.replacingOccurrences(of: ".", with: "/"), encoding: .utf8))
            ?? "?")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Entries of the state and root directories where pods and containers leave files.
    static func objectFiles(_ daemon: DaemonHarness) -> [String] {
        ["state/sandboxes", "state/containers", "state/attach", "state/exits", "root/containers"].flatMap { directory in
            ((try? FileManager.default.contentsOfDirectory(atPath: daemon.directory + "/" + directory)) ?? [])
                .filter { !$0.hasPrefix(".") }.map { directory + "/" + $0 }
        }
    }

    @Test func hostileSandboxConfigsAreRefusedAndChangeNothing() async throws {
        let panic = Self.sysctl("kernel.panic")
        let shmRmid = Self.sysctl("kernel.shm_rmid_forced")
        let cgroupEscapes = [
            "/sys/fs/cgroup/memory/tmp/skiff-escape", "/sys/fs/cgroup/pids/tmp/skiff-escape",
            "/sys/fs/cgroup/tmp/skiff-escape",
        ]
        // Should a regression let a hostile sysctl through, the node gets its values back.
        defer {
            try? panic.write(toFile: "/proc/sys/kernel/panic", atomically: false, encoding: .utf8)
            try? shmRmid.write(toFile: "/proc/sys/kernel/shm_rmid_forced", atomically: false, encoding: .utf8)
        }
        try await withDaemon { daemon in
            var attempt = 0
            func run(_ configure: (inout Runtime_V1_PodSandboxConfig) -> Void) async throws {
                // A name of its own per case: one accepted by mistake does not hide the next.
                attempt += 1
                var config = PodSandboxTests.config("hostile-\(attempt)", hostNetwork: true)
                configure(&config)
                _ = try await PodSandboxTests.run(daemon, config)
            }
            await Self.expectRefusal(naming: "kernel.panic") {
                try await run { $0.linux.sysctls = ["kernel.panic": "77"] }
            }
            await Self.expectRefusal(naming: "IPC namespace") {
                try await run {
                    $0.linux.securityContext.namespaceOptions.ipc = .node
                    $0.linux.sysctls = ["kernel.shm_rmid_forced": "1"]
                }
            }
            await Self.expectRefusal(naming: "linux.sysctls key") {
                try await run { $0.linux.sysctls = ["net/../kernel/panic": "77"] }
            }
            await Self.expectRefusal(naming: "network namespace") {
                try await run { $0.linux.sysctls = ["net.ipv4.ip_forward": "1"] }
            }
            await Self.expectRefusal(naming: "dns_config.servers[0]") {
                try await run { $0.dnsConfig.servers = ["1.1.1.1\nnameserver 6.6.6.6"] }
            }
            await Self.expectRefusal(naming: "dns_config.servers[0]") {
                try await run { $0.dnsConfig.servers = ["resolver.example"] }
            }
            await Self.expectRefusal(naming: "dns_config.searches[0]") {
                try await run { $0.dnsConfig.searches = ["a\nnameserver 6.6.6.6"] }
            }
            await Self.expectRefusal(naming: "dns_config.options[0]") {
                try await run { $0.dnsConfig.options = ["ndots:1\nnameserver 6.6.6.6"] }
            }
            await Self.expectRefusal(naming: "linux.cgroup_parent") {
                try await run { $0.linux.cgroupParent = "../../../../../../tmp/skiff-escape" }
            }
            await Self.expectRefusal(naming: "log_directory") {
                try await run { $0.logDirectory = "skiff-relative-logs" }
            }
            await Self.expectRefusal(naming: "port_mappings[0].protocol") {
                try await run {
                    var mapping = Runtime_V1_PortMapping()
                    mapping.protocol = .UNRECOGNIZED(7)
                    mapping.containerPort = 80
                    $0.portMappings = [mapping]
                }
            }
            await Self.expectRefusal(naming: "port_mappings[0].host_port") {
                try await run {
                    var mapping = Runtime_V1_PortMapping()
                    mapping.containerPort = 80
                    mapping.hostPort = -80
                    $0.portMappings = [mapping]
                }
            }
            await Self.expectRefusal(naming: "port_mappings[0].container_port") {
                try await run {
                    var mapping = Runtime_V1_PortMapping()
                    mapping.containerPort = 70000
                    $0.portMappings = [mapping]
                }
            }
            await Self.expectRefusal(naming: "port_mappings[0].host_ip") {
                try await run {
                    var mapping = Runtime_V1_PortMapping()
                    mapping.containerPort = 80
                    mapping.hostPort = 8080
                    mapping.hostIp = "not-an-ip"
                    $0.portMappings = [mapping]
                }
            }
            await Self.expectRefusal(naming: "port_mappings[1]") {
                try await run {
                    var first = Runtime_V1_PortMapping()
                    first.containerPort = 80
                    first.hostPort = 18080
                    var second = first
                    second.containerPort = 81
                    $0.portMappings = [first, second]
                }
            }
            await Self.expectRefusal(naming: "namespace_options.pid") {
                try await run { $0.linux.securityContext.namespaceOptions.pid = .UNRECOGNIZED(99) }
            }
            await Self.expectRefusal(naming: "userns_options") {
                try await run { $0.linux.securityContext.namespaceOptions.usernsOptions.mode = .pod }
            }
            await Self.expectRefusal(naming: "metadata.name") {
                try await run { $0.metadata.name = String(repeating: "n", count: 1 << 20) }
            }
            await Self.expectRefusal(naming: "metadata.name") { try await run { $0.metadata.name = "web;IP=10.0.0.9" } }
            await Self.expectRefusal(naming: "hostname") { try await run { $0.hostname = "web\n6.6.6.6 evil" } }
            // A digest Skiff cannot verify is refused before any registry is asked.
            await Self.expectRefusal(naming: "digest") {
                var pull = Runtime_V1_PullImageRequest()
                pull.image.image = "registry.invalid/skiff/busybox@md5:d41d8cd98f00b204e9800998ecf8427e"
                _ = try await daemon.images { try await $0.pullImage(pull) }
            }
            // Over the 16 MiB message limit: RESOURCE_EXHAUSTED, not a reset stream (CANCELLED).
            await Self.expectRefusal(.resourceExhausted, naming: "limit") {
                try await run { $0.annotations["big"] = String(repeating: "x", count: 17 << 20) }
            }

            #expect(Self.sysctl("kernel.panic") == panic, "the node's kernel.panic is unchanged")
            #expect(Self.sysctl("kernel.shm_rmid_forced") == shmRmid, "the node's kernel.shm_rmid_forced is unchanged")
            #expect(
                cgroupEscapes.allSatisfy { !FileManager.default.fileExists(atPath: $0) },
                "no cgroup outside the hierarchy's pod parents"
            )
            #expect(
                !FileManager.default.fileExists(
                    atPath: FileManager.default.currentDirectoryPath + "/skiff-relative-logs"
                )
            )
            #expect(Self.objectFiles(daemon).isEmpty, "left: \(Self.objectFiles(daemon))")
            let pods = try await daemon.runtime { try await $0.listPodSandbox(Runtime_V1_ListPodSandboxRequest()) }
                .items
            #expect(pods.isEmpty)

            // The good counterpart: an IPC sysctl in the pod's own IPC namespace is set there only.
            var config = PodSandboxTests.config("good-sysctl", hostNetwork: true)
            config.linux.sysctls = ["kernel.shm_rmid_forced": shmRmid == "1" ? "0" : "1"]
            config.dnsConfig.servers = ["10.96.0.10"]
            config.dnsConfig.searches = ["skiff-test.svc.cluster.local"]
            config.dnsConfig.options = ["ndots:5"]
            let id = try await PodSandboxTests.run(daemon, config)
            let inside = try PodSandboxTests.nsenter([
                "--ipc=\(daemon.stateDir)/sandboxes/\(id)/ns/ipc", "cat", "/proc/sys/kernel/shm_rmid_forced",
            ]).output
            #expect(
                inside.trimmingCharacters(in: .whitespacesAndNewlines) == config.linux.sysctls["kernel.shm_rmid_forced"]
            )
            #expect(Self.sysctl("kernel.shm_rmid_forced") == shmRmid)
            let resolv = try String(contentsOfFile: "\(daemon.stateDir)/sandboxes/\(id)/resolv.conf", encoding: .utf8)
            #expect(resolv == "search skiff-test.svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n")
            try await PodSandboxTests.remove(daemon, id)
            #expect(Self.objectFiles(daemon).isEmpty)
        }
    }

    @Test func hostileContainerConfigsAreRefusedBeforeTheRuntimeRunsAndLeaveNothing() async throws {
        try await ContainerHarness.with { harness in
            let daemon = harness.daemon
            var attempt = 0
            func create(_ configure: @escaping (inout Runtime_V1_ContainerConfig) -> Void) async throws {
                attempt += 1
                _ = try await harness.create(harness.config("hostile-\(attempt)", ["/bin/true"], configure: configure))
            }
            await Self.expectRefusal(naming: "seccomp.profile_type") {
                try await create { $0.linux.securityContext.seccomp.profileType = .UNRECOGNIZED(9) }
            }
            await Self.expectRefusal(naming: "privileged") {
                try await create { $0.linux.securityContext.privileged = true }
            }
            await Self.expectRefusal(naming: "userns_options") {
                try await create { $0.linux.securityContext.namespaceOptions.usernsOptions.mode = .pod }
            }
            await Self.expectRefusal(naming: "mounts[0].propagation") {
                try await create {
                    var mount = Runtime_V1_Mount()
                    mount.containerPath = "/data"
                    mount.hostPath = harness.daemon.directory
                    mount.propagation = .UNRECOGNIZED(7)
                    $0.mounts = [mount]
                }
            }
            await Self.expectRefusal(naming: "mounts[0].container_path") {
                try await create {
                    var mount = Runtime_V1_Mount()
                    mount.containerPath = "/"
                    mount.hostPath = harness.daemon.directory
                    $0.mounts = [mount]
                }
            }
            await Self.expectRefusal(naming: "mounts[0].container_path") {
                try await create {
                    var mount = Runtime_V1_Mount()
                    mount.containerPath = "/proc/sys/kernel"
                    mount.hostPath = harness.daemon.directory
                    $0.mounts = [mount]
                }
            }
            await Self.expectRefusal(naming: "log_path") {
                try await create { $0.logPath = "../../../skiff-escape.log" }
            }
            await Self.expectRefusal(naming: "masked_paths[0]") {
                try await create { $0.linux.securityContext.maskedPaths = ["proc/kcore"] }
            }
            await Self.expectRefusal(naming: "cpuset_cpus") {
                try await create { $0.linux.resources.cpusetCpus = "abc" }
            }
            await Self.expectRefusal(naming: "cpu_period") { try await create { $0.linux.resources.cpuPeriod = 1 } }
            await Self.expectRefusal(naming: "memory_limit_in_bytes") {
                try await create { $0.linux.resources.memoryLimitInBytes = 1 }
            }
            await Self.expectRefusal(naming: "hugepage_limits") {
                try await create {
                    var limit = Runtime_V1_HugepageLimit()
                    limit.pageSize = "3MB"
                    limit.limit = 1
                    $0.linux.resources.hugepageLimits = [limit]
                }
            }
            await Self.expectRefusal(naming: "oom_score_adj") {
                try await create { $0.linux.resources.oomScoreAdj = -5000 }
            }
            await Self.expectRefusal(naming: "envs[0]") {
                try await create {
                    var env = Runtime_V1_KeyValue()
                    env.key = "A=B"
                    env.value = Data("1".utf8)
                    $0.envs = [env]
                }
            }
            await Self.expectRefusal(naming: "/bin/no-such-command") {
                try await create { $0.command = ["/bin/no-such-command"] }
            }
            await Self.expectRefusal(naming: "no-such-command") {
                try await create { $0.command = ["no-such-command"] }
            }
            // Refused by the OCI runtime itself (the kernel refuses the CPU): nothing left behind either.
            do {
                try await create { $0.linux.resources.cpusetCpus = "4000" }
                Issue.record("a container on a CPU the node does not have was created")
            } catch {}
            #expect(!FileManager.default.fileExists(atPath: harness.logDirectory + "/../../skiff-escape.log"))
            let containers = try await daemon.runtime {
                try await $0.listContainers(Runtime_V1_ListContainersRequest())
            }.containers
            #expect(containers.isEmpty)
            #expect(
                Self.objectFiles(daemon).filter { !$0.hasPrefix("state/sandboxes") }.isEmpty,
                "left: \(Self.objectFiles(daemon))"
            )

            // The good counterpart runs.
            let id = try await harness.run(
                harness.config("good", ["/bin/sh", "-c", "echo fine"]) { config in
                    config.linux.resources.cpuPeriod = 100_000
                    config.linux.resources.cpuQuota = 50_000
                    config.linux.resources.memoryLimitInBytes = 64 << 20
                    config.linux.resources.cpusetCpus = "0"
                    config.linux.securityContext.seccomp.profileType = .runtimeDefault
                }
            )
            let status = try await harness.waitForExit(id)
            #expect(status.exitCode == 0)
        }
    }
}
