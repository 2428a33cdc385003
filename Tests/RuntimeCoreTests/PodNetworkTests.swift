import Foundation
import LinuxSys
import SkiffCommon
import Testing

@testable import RuntimeCore

/// Real namespaces (skiff-pinns) and real CNI plugins from Debian's containernetworking-plugins,
/// on a bridge and subnet unique to this run; everything is removed even when a check fails.
@Suite(.serialized) struct PodNetworkTests {
    static let pinner = PinnsNamespacePinner.besideExecutable()
    static let pluginDirs = ["/usr/lib/cni", "/opt/cni/bin"]

    static func temporaryDirectory() throws -> String {
        let path = "/tmp/skiff-net-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func run(_ executable: String, _ arguments: [String]) async throws -> ChildProcess.Result {
        try await ChildProcess.run(executable, arguments: arguments, timeout: .seconds(20))
    }

    static func nsfsMounts(under directory: String) throws -> Int {
        try MountTable.current().entries.filter { $0.mountPoint.hasPrefix(directory) }.count
    }

    @Test func pinsNamespacesWithHostnameAndSysctlsAndReleasesThem() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pinned = try await Self.pinner.pin(
            NamespaceRequest(hostname: "pod-host", sysctls: ["net.ipv4.ip_unprivileged_port_start": "0"]),
            in: directory + "/ns"
        )
        #expect(try Self.nsfsMounts(under: directory) == 3)
        #expect(
            try await Self.run("/usr/bin/nsenter", ["--uts=\(pinned.uts!)", "hostname"]).stdoutText == "pod-host\n"
        )
        let sysctl = try await Self.run(
            "/usr/bin/nsenter",
            ["--net=\(pinned.network!)", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"]
        )
        #expect(sysctl.stdoutText == "0\n")
        #expect(
            try String(contentsOfFile: "/proc/sys/net/ipv4/ip_unprivileged_port_start", encoding: .utf8) != "0\n",
            "the host is untouched"
        )
        try Self.pinner.unpin(pinned)
        #expect(try Self.nsfsMounts(under: directory) == 0)
        #expect(!FileManager.default.fileExists(atPath: directory + "/ns"))

        // A bad sysctl fails cleanly: nothing stays pinned.
        let refused = await #expect(throws: SkiffError.self) {
            try await Self.pinner.pin(NamespaceRequest(sysctls: ["net.no.such.key": "1"]), in: directory + "/bad")
        }
        #expect(refused?.message.contains("net.no.such.key") == true)
        #expect(try Self.nsfsMounts(under: directory) == 0)
    }

    @Test func bridgeNetworkAddAndDeleteThroughThePluginChain() async throws {
        let directory = try Self.temporaryDirectory()
        let bridge = "skt" + UUID().uuidString.prefix(8).lowercased()
        let subnet = "10.250.\(Int.random(in: 1...250)).0/24"
        defer {
            _ = try? FileManager.default.removeItem(atPath: directory)
        }
        let conflist = """
            {"cniVersion":"1.0.0","name":"\(bridge)","plugins":[
              {"type":"bridge","bridge":"\(bridge)","isGateway":true,"ipMasq":false,
               "ipam":{"type":"host-local","ranges":[[{"subnet":"\(subnet)"}]],"dataDir":"\(directory)/ipam"}},
              {"type":"portmap","capabilities":{"portMappings":true}},
              {"type":"loopback"}]}
            """
        try FileManager.default.createDirectory(atPath: directory + "/conf", withIntermediateDirectories: true)
        try conflist.write(toFile: directory + "/conf/10-test.conflist", atomically: true, encoding: .utf8)
        let network = try #require(try CNINetworkList.load(directory: directory + "/conf"))
        #expect(network.pluginTypes == ["bridge", "portmap", "loopback"])

        let pinned = try await Self.pinner.pin(NamespaceRequest(ipc: false, uts: false), in: directory + "/ns")
        let runner = CNIPluginRunner(binDirs: Self.pluginDirs)
        let attachment = CNIAttachment(
            containerID: "pod-\(bridge)",
            netnsPath: pinned.network!,
            arguments: [("K8S_POD_NAMESPACE", "default"), ("K8S_POD_NAME", "test")],
            capabilities: ["portMappings": .array([])]
        )
        do {
            let result = try await runner.add(network, attachment)
            let address = try #require(result.addresses.first)
            #expect(address.address.hasPrefix(String(subnet.dropLast(4))), "\(address.address) in \(subnet)")
            let inside = try await Self.run(
                "/usr/bin/nsenter",
                ["--net=\(pinned.network!)", "ip", "-o", "-4", "addr", "show", "eth0"]
            )
            #expect(inside.stdoutText.contains(address.address), "\(inside.stdoutText)")
            // Traffic only to the pod's own gateway, on the test's bridge.
            let ping = try await Self.run(
                "/usr/bin/nsenter",
                ["--net=\(pinned.network!)", "/bin/busybox", "ping", "-c", "1", "-W", "2", address.gateway ?? ""]
            )
            #expect(ping.status == 0, "the pod reaches its gateway: \(ping.stdoutText)\(ping.stderrText)")
            try await runner.delete(network, attachment, previousResult: result.raw)
            let after = try await Self.run("/usr/bin/nsenter", ["--net=\(pinned.network!)", "ip", "-o", "link"])
            #expect(!after.stdoutText.contains("eth0"), "DEL removed the pod's interface")
        } catch {
            try? await runner.delete(network, attachment, previousResult: nil)
            Issue.record("\(error)")
        }
        try Self.pinner.unpin(pinned)
        _ = try await Self.run("/usr/sbin/ip", ["link", "del", bridge])
        #expect(try await Self.run("/usr/sbin/ip", ["link", "show", bridge]).status != 0, "the test bridge is gone")
    }

    @Test func aFailingPluginUndoesTheChainAndSaysWhy() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/bin", withIntermediateDirectories: true)
        let log = directory + "/calls"
        let fake =
            "#!/bin/sh\necho \"$CNI_COMMAND\" >> \(log)\nif [ \"$CNI_COMMAND\" = ADD ]; then echo '{\"code\":11,\"msg\":\"no addresses left\",\"details\":\"pool exhausted\"}'; exit 1; fi\nexit 0\n"
        try fake.write(toFile: directory + "/bin/failing", atomically: true, encoding: .utf8)
        chmod(directory + "/bin/failing", 0o755)
        let network = try CNINetworkList.parse(
            Data(#"{"cniVersion":"1.0.0","name":"fails","plugins":[{"type":"loopback"},{"type":"failing"}]}"#.utf8),
            file: "test"
        )
        let pinned = try await Self.pinner.pin(NamespaceRequest(ipc: false, uts: false), in: directory + "/ns")
        defer { try? Self.pinner.unpin(pinned) }
        let runner = CNIPluginRunner(binDirs: [directory + "/bin"] + Self.pluginDirs)
        let error = await #expect(throws: SkiffError.self) {
            try await runner.add(network, CNIAttachment(containerID: "x", netnsPath: pinned.network!))
        }
        #expect(error?.message.contains("no addresses left: pool exhausted") == true, "\(String(describing: error))")
        #expect(
            try String(contentsOfFile: log, encoding: .utf8) == "ADD\nDEL\n",
            "the chain was deleted after the failure"
        )

        let missing = try CNINetworkList.parse(
            Data(#"{"cniVersion":"1.0.0","name":"m","type":"no-such-plugin"}"#.utf8),
            file: "test"
        )
        let notInstalled = await #expect(throws: SkiffError.self) {
            try await runner.add(missing, CNIAttachment(containerID: "x", netnsPath: pinned.network!))
        }
        #expect(notInstalled?.code == .failedPrecondition)
    }
}
