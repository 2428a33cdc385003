import CRIAPI
import Foundation
import GRPCCore
import LinuxSys
import Testing

/// Pod sandboxes through a real skiffd: skiff-pinns namespaces and Debian's CNI plugins on a
/// bridge and subnet unique to the run. Traffic only between the test pods and their gateway.
@Suite(.serialized) struct PodSandboxTests {
    struct Network {
        let bridge = "skp" + UUID().uuidString.prefix(8).lowercased()
        let third = RunUnique.subnetOctet()
        var subnet: String { "10.251.\(third).0/24" }

        func conflist(ipamDir: String) -> String {
            """
            {"cniVersion":"1.0.0","name":"\(bridge)","plugins":[
              {"type":"bridge","bridge":"\(bridge)","isGateway":true,"ipMasq":false,
               "ipam":{"type":"host-local","ranges":[[{"subnet":"\(subnet)"}]],"dataDir":"\(ipamDir)"}},
              {"type":"portmap","capabilities":{"portMappings":true}},
              {"type":"loopback"}]}
            """
        }

        func removeBridge() {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["link", "del", bridge]
            process.standardError = FileHandle.nullDevice
            try? process.run()
            for _ in 0..<200 where process.isRunning { usleep(10_000) }
        }
    }

    static func config(_ name: String, hostNetwork: Bool = false, dns: Bool = false) -> Runtime_V1_PodSandboxConfig {
        var config = Runtime_V1_PodSandboxConfig()
        config.metadata.name = name
        config.metadata.namespace = "skiff-test"
        config.metadata.uid = "uid-\(name)"
        config.hostname = "\(name)-host"
        config.labels = ["app": name, "suite": "sandbox"]
        config.annotations = ["note": "from the test"]
        if hostNetwork { config.linux.securityContext.namespaceOptions.network = .node }
        if dns {
            config.dnsConfig.servers = ["10.96.0.10"]
            config.dnsConfig.searches = ["skiff-test.svc.cluster.local", "svc.cluster.local"]
            config.dnsConfig.options = ["ndots:5"]
        }
        return config
    }

    static func run(
        _ daemon: DaemonHarness,
        _ config: Runtime_V1_PodSandboxConfig,
        handler: String = ""
    ) async throws -> String {
        var request = Runtime_V1_RunPodSandboxRequest()
        request.config = config
        request.runtimeHandler = handler
        return try await daemon.runtime { try await $0.runPodSandbox(request) }.podSandboxID
    }

    static func status(_ daemon: DaemonHarness, _ id: String) async throws -> Runtime_V1_PodSandboxStatus {
        var request = Runtime_V1_PodSandboxStatusRequest()
        request.podSandboxID = id
        return try await daemon.runtime { try await $0.podSandboxStatus(request) }.status
    }

    static func stop(_ daemon: DaemonHarness, _ id: String) async throws {
        var request = Runtime_V1_StopPodSandboxRequest()
        request.podSandboxID = id
        _ = try await daemon.runtime { try await $0.stopPodSandbox(request) }
    }

    static func remove(_ daemon: DaemonHarness, _ id: String) async throws {
        var request = Runtime_V1_RemovePodSandboxRequest()
        request.podSandboxID = id
        _ = try await daemon.runtime { try await $0.removePodSandbox(request) }
    }

    static func nsenter(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func leftovers(_ daemon: DaemonHarness) throws -> [String] {
        let mounts = nodeMountInfo()
        return mounts.split(separator: "\n").filter { $0.contains(daemon.directory) }.map(String.init)
    }

    static func withNetworkedDaemon(
        extraConfig: String = "",
        _ body: (DaemonHarness, Network) async throws -> Void
    ) async throws {
        let network = Network()
        defer { network.removeBridge() }
        try await PortmapChains.whileInUse {
            try await withDaemon(extraConfig: extraConfig, start: false) { daemon in
                try network.conflist(ipamDir: daemon.directory + "/ipam").write(
                    toFile: daemon.cniConfDir + "/10-test.conflist",
                    atomically: true,
                    encoding: .utf8
                )
                try await daemon.start()
                try await body(daemon, network)
            }
        }
    }

    @Test func runTwoPodsThatReachEachOtherThenStopAndRemove() async throws {
        try await Self.withNetworkedDaemon { daemon, network in
            let first = try await Self.run(daemon, Self.config("web", dns: true))
            let second = try await Self.run(daemon, Self.config("db"))
            let status = try await Self.status(daemon, first)
            #expect(status.state == .sandboxReady)
            #expect(status.metadata.name == "web")
            #expect(status.labels["app"] == "web")
            #expect(status.runtimeHandler == "runc")
            #expect(status.network.ip.hasPrefix("10.251.\(network.third)."), "\(status.network)")
            let peer = try await Self.status(daemon, second).network.ip

            // Hostname and DNS as the pod sees them.
            let netns = "\(daemon.stateDir)/sandboxes/\(first)/ns"
            #expect(try Self.nsenter(["--uts=\(netns)/uts", "hostname"]).output == "web-host\n")
            let resolv = try String(
                contentsOfFile: "\(daemon.stateDir)/sandboxes/\(first)/resolv.conf",
                encoding: .utf8
            )
            #expect(
                resolv
                    == "search skiff-test.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"
            )
            let hosts = try String(contentsOfFile: "\(daemon.stateDir)/sandboxes/\(first)/hosts", encoding: .utf8)
            #expect(hosts.contains("\(status.network.ip)\tweb-host"))

            // The pods reach each other by IP.
            let ping = try Self.nsenter(["--net=\(netns)/net", "/bin/busybox", "ping", "-c", "1", "-W", "2", peer])
            #expect(ping.status == 0, "\(ping.output)")

            // List with filters.
            var filter = Runtime_V1_ListPodSandboxRequest()
            filter.filter.labelSelector = ["app": "db"]
            #expect(try await daemon.runtime { try await $0.listPodSandbox(filter) }.items.map(\.id) == [second])
            #expect(try await daemon.runtime { try await $0.listPodSandbox(.init()) }.items.count == 2)
            var prefix = Runtime_V1_ListPodSandboxRequest()
            prefix.filter.id = String(first.prefix(12))
            #expect(try await daemon.runtime { try await $0.listPodSandbox(prefix) }.items.map(\.id) == [first])

            // A second RunPodSandbox of the same pod fails clearly.
            let again = await #expect(throws: RPCError.self) { try await Self.run(daemon, Self.config("web")) }
            #expect(again?.code == .alreadyExists)

            try await Self.stop(daemon, first)
            try await Self.stop(daemon, first)  // idempotent
            #expect(try await Self.status(daemon, first).state == .sandboxNotready)
            var ready = Runtime_V1_ListPodSandboxRequest()
            ready.filter.state.state = .sandboxReady
            #expect(try await daemon.runtime { try await $0.listPodSandbox(ready) }.items.map(\.id) == [second])

            for id in [first, second] {
                try await Self.remove(daemon, id)
                try await Self.remove(daemon, id)  // idempotent
            }
            let gone = await #expect(throws: RPCError.self) { try await Self.status(daemon, first) }
            #expect(gone?.code == .notFound)
            #expect(try Self.leftovers(daemon).isEmpty, "no namespace mount left")
            #expect(try FileManager.default.contentsOfDirectory(atPath: daemon.stateDir + "/sandboxes").isEmpty)
        }
    }

    @Test func hostNetworkPodsUnknownHandlersAndFailingPlugins() async throws {
        try await Self.withNetworkedDaemon { daemon, _ in
            let host = try await Self.run(daemon, Self.config("host", hostNetwork: true))
            let status = try await Self.status(daemon, host)
            #expect(status.linux.namespaces.options.network == .node)
            #expect(status.network.ip.isEmpty)
            try await Self.remove(daemon, host)

            let unknown = await #expect(throws: RPCError.self) {
                try await Self.run(daemon, Self.config("odd"), handler: "kata")
            }
            #expect(unknown?.code == .invalidArgument)
            #expect(unknown?.message.contains("kata") == true)
            let missing = await #expect(throws: RPCError.self) {
                try await daemon.runtime { try await $0.runPodSandbox(.init()) }
            }
            #expect(missing?.code == .invalidArgument)
        }
        // A plugin that fails: the pod is refused and nothing is left behind.
        try await withDaemon(start: false) { daemon in
            let bin = daemon.directory + "/cni-bin"
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            try
                "#!/bin/sh\nif [ \"$CNI_COMMAND\" = ADD ]; then echo '{\"code\":7,\"msg\":\"plugin says no\"}'; exit 1; fi\nexit 0\n"
                .write(toFile: bin + "/refuse", atomically: true, encoding: .utf8)
            chmod(bin + "/refuse", 0o755)
            try #"{"cniVersion":"1.0.0","name":"refusing","plugins":[{"type":"loopback"},{"type":"refuse"}]}"#
                .write(toFile: daemon.cniConfDir + "/10-refuse.conflist", atomically: true, encoding: .utf8)
            // The harness's config ends inside [network].
            try await daemon.start(extraConfigAppend: "cni_bin_dirs = [\"\(bin)\", \"/usr/lib/cni\"]\n")
            let refused = await #expect(throws: RPCError.self) { try await Self.run(daemon, Self.config("refused")) }
            #expect(refused?.message.contains("plugin says no") == true, "\(String(describing: refused))")
            #expect(try await daemon.runtime { try await $0.listPodSandbox(.init()) }.items.isEmpty)
            #expect(try Self.leftovers(daemon).isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: daemon.stateDir + "/sandboxes").isEmpty)
        }
    }

    @Test func aPortMappingIsReachableFromTheHostThroughPortmap() async throws {
        try await Self.withNetworkedDaemon { daemon, _ in
            let hostPort = RunUnique.hostPorts()
            var config = Self.config("published")
            var mapping = Runtime_V1_PortMapping()
            mapping.containerPort = 8080
            mapping.hostPort = hostPort
            mapping.protocol = .tcp
            config.portMappings = [mapping]
            let id = try await Self.run(daemon, config, handler: "crun")
            #expect(try await Self.status(daemon, id).runtimeHandler == "crun")
            // A web server inside the pod's network namespace (started by the test, not a container yet).
            let site = daemon.directory + "/site"
            try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
            try "hello from the pod\n".write(toFile: site + "/index.html", atomically: true, encoding: .utf8)
            let server = Process()
            server.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
            server.arguments = [
                "--net=\(daemon.stateDir)/sandboxes/\(id)/ns/net", "/bin/busybox", "httpd", "-f", "-p", "8080", "-h",
                site,
            ]
            try server.run()
            defer { stopProcess(server) }
            var body = ""
            for _ in 0..<50 {
                let fetch = Process()
                fetch.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
                fetch.arguments = ["-s", "-m", "2", "http://127.0.0.1:\(hostPort)/index.html"]
                let pipe = Pipe()
                fetch.standardOutput = pipe
                fetch.standardError = FileHandle.nullDevice
                try fetch.run()
                body = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                if body.contains("hello") { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(body == "hello from the pod\n", "127.0.0.1:\(hostPort) → pod :8080 through portmap")
            stopProcess(server)
            try await Self.remove(daemon, id)
            #expect(try Self.leftovers(daemon).isEmpty)
            let nat = Process()
            nat.executableURL = URL(fileURLWithPath: "/usr/sbin/iptables")
            nat.arguments = ["-t", "nat", "-S"]
            let rules = Pipe()
            nat.standardOutput = rules
            try nat.run()
            let natRules = String(decoding: rules.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(!natRules.contains("id: \"\(id)\""), "portmap's DNAT rules went with the pod")
        }
    }

    /// A SIGKILLed skiffd leaves its CNI ADD running. The restarted daemon releases the pod it
    /// never recorded with DEL, which must wait for that ADD: interleaved, portmap's DEL failed
    /// (its chain still referenced) and its NAT rules stayed for a pod that no longer existed.
    /// The pod shares its PID namespace, so its pause started beside the ADD: it goes too.
    @Test func aPluginRunLeftByAKilledDaemonEndsBeforeItsPodIsReleased() async throws {
        try await withDaemon(start: false) { daemon in
            let bin = daemon.directory + "/cni-bin"
            let journal = daemon.directory + "/plugin-journal"
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            try """
            #!/bin/sh
            echo "$CNI_COMMAND start" >> \(journal)
            if [ "$CNI_COMMAND" = ADD ]; then sleep 2; fi
            echo "$CNI_COMMAND end" >> \(journal)
            [ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0"}'
            exit 0

            """.write(toFile: bin + "/slow", atomically: true, encoding: .utf8)
            chmod(bin + "/slow", 0o755)
            try #"{"cniVersion":"1.0.0","name":"slow","plugins":[{"type":"loopback"},{"type":"slow"}]}"#
                .write(toFile: daemon.cniConfDir + "/10-slow.conflist", atomically: true, encoding: .utf8)
            // The harness's config ends inside [network].
            let extra = "cni_bin_dirs = [\"\(bin)\", \"/usr/lib/cni\"]\n"
            try await daemon.start(extraConfigAppend: extra)
            let running = Task { try await Self.run(daemon, Self.config("interrupted")) }
            var started = false
            for _ in 0..<500 where !started {
                started = ((try? String(contentsOfFile: journal, encoding: .utf8)) ?? "").contains("ADD start")
                if !started { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(started, "the plugin's ADD never started")
            // The pause runs before the ADD ends.
            let podID = try #require(
                FileSystem.directoryEntries(daemon.stateDir + "/sandboxes")?.first { !$0.hasPrefix(".") }
            )
            var pause: Int32?
            for _ in 0..<150 where pause == nil {
                let procs = (try? FileSystem.readText(PausePodTests.pauseCgroup(of: podID) + "/cgroup.procs")) ?? ""
                pause = procs.split(separator: "\n").compactMap { Int32($0) }.first
                if pause == nil { try await Task.sleep(for: .milliseconds(10)) }
            }
            let pausePID = try #require(pause, "the pause did not start while CNI ADD ran")
            try await daemon.stop(signal: SIGKILL)
            _ = await running.result
            try await daemon.start()
            // Gone, or a zombie left to whichever process inherited it from the killed skiffd.
            #expect(ProcessTree.waitForExit(pausePID, milliseconds: 0), "the pause of the removed pod still runs")
            #expect(!FileSystem.exists(PausePodTests.pauseCgroup(of: podID)), "the pause's cgroup is left")
            let lines = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(
                lines == ["ADD start", "ADD end", "DEL start", "DEL end"],
                "the DEL interleaved with the ADD: \(lines)"
            )
            #expect(try await daemon.runtime { try await $0.listPodSandbox(.init()) }.items.isEmpty)
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: daemon.stateDir + "/sandboxes").filter {
                    !$0.hasPrefix(".")
                }.isEmpty
            )
            #expect(try Self.leftovers(daemon).isEmpty)
        }
    }

    @Test func anUnreadableRecordIsLeftInPlaceAndReportedAtStart() async throws {
        try await withDaemon { daemon in
            let id = try await Self.run(daemon, Self.config("unreadable", hostNetwork: true))
            try await daemon.stop(signal: SIGKILL)
            try Data("{torn".utf8).write(to: URL(fileURLWithPath: "\(daemon.stateDir)/sandboxes/\(id)/sandbox.json"))
            try await daemon.start()
            #expect(
                FileManager.default.fileExists(atPath: "\(daemon.stateDir)/sandboxes/\(id)/ns/ipc"),
                "recovery did not remove what it cannot read"
            )
            #expect(daemon.log().contains("a pod sandbox's record cannot be read"), "\(daemon.log().suffix(2000))")
            let pods = try await daemon.runtime { try await $0.listPodSandbox(Runtime_V1_ListPodSandboxRequest()) }
                .items
            #expect(pods.isEmpty)
        }
    }

    @Test func aSandboxSurvivesSIGKILLOfTheDaemonAndLostNamespacesShowNotReady() async throws {
        try await Self.withNetworkedDaemon { daemon, network in
            let kept = try await Self.run(daemon, Self.config("kept"))
            let broken = try await Self.run(daemon, Self.config("broken"))
            let unplugged = try await Self.run(daemon, Self.config("unplugged"))
            // A port mapping on the default network (Debian's portmap fails CNI CHECK for an
            // IPv4-only pod: skiffd must not trust CHECK), and a pod whose pause holds its PIDs.
            var publishedConfig = Self.config("published-kept")
            var mapping = Runtime_V1_PortMapping()
            mapping.containerPort = 8080
            mapping.hostPort = RunUnique.hostPorts()
            mapping.protocol = .tcp
            publishedConfig.portMappings = [mapping]
            let published = try await Self.run(daemon, publishedConfig)
            var sharedConfig = Self.config("shared-pid-kept")
            sharedConfig.linux.securityContext.namespaceOptions.pid = .pod
            let shared = try await Self.run(daemon, sharedConfig)
            let ip = try await Self.status(daemon, kept).network.ip
            try await daemon.stop(signal: SIGKILL)
            // Something outside skiffd destroys one pod's network namespace while it is down,
            // and another pod's interface (with the address CNI gave it).
            _ = umount2("\(daemon.stateDir)/sandboxes/\(broken)/ns/net", Int32(MNT_DETACH))
            let deleted = try Self.nsenter([
                "--net=\(daemon.stateDir)/sandboxes/\(unplugged)/ns/net", "/usr/sbin/ip", "link", "del", "eth0",
            ])
            #expect(deleted.status == 0, "\(deleted.output)")
            try await daemon.start()
            #expect(try await Self.status(daemon, unplugged).state == .sandboxNotready)
            try await Self.remove(daemon, unplugged)
            let status = try await Self.status(daemon, kept)
            #expect(status.state == .sandboxReady)
            #expect(status.network.ip == ip)
            #expect(try await Self.status(daemon, broken).state == .sandboxNotready)
            // A pod whose namespace is gone still stops (CNI DEL without a namespace releases its
            // address): before, loopback's DEL refused the pin file and StopPodSandbox failed forever.
            try await Self.stop(daemon, broken)
            #expect(try await Self.status(daemon, published).state == .sandboxReady)
            #expect(try await Self.status(daemon, shared).state == .sandboxReady)
            for id in [kept, broken, published, shared] { try await Self.remove(daemon, id) }
            #expect(try Self.leftovers(daemon).isEmpty)
            _ = network
        }
    }
}
