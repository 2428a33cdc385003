import DaemonConfig
import Foundation
import LinuxSys
import Testing

@testable import RuntimeCore

@Suite struct NodeStatusProbeTests {
    static func configuration(cniDir: String) throws -> DaemonConfiguration {
        try ConfigLoader.parse("[network]\ncni_conf_dir = \"\(cniDir)\"", file: "test.toml")
    }

    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-probe-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func networkReadyFollowsTheCNIConfigDirectory() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let probe = NodeStatusProbe(
            configuration: try Self.configuration(cniDir: directory),
            lookup: { "/usr/bin/\($0)" }
        )
        let before = probe.conditions()
        #expect(before.map(\.type) == ["RuntimeReady", "NetworkReady"])
        #expect(before[0].isTrue)
        #expect(!before[1].isTrue)
        #expect(before[1].reason == "NetworkPluginNotReady")
        #expect(before[1].message.contains(directory))

        FileManager.default.createFile(atPath: directory + "/README", contents: Data())
        #expect(!probe.conditions()[1].isTrue, "only .conflist, .conf and .json count")
        FileManager.default.createFile(atPath: directory + "/20-b.conf", contents: Data())
        FileManager.default.createFile(atPath: directory + "/10-a.conflist", contents: Data())
        #expect(probe.conditions()[1].isTrue)
        #expect(NodeStatusProbe.firstNetworkConfig(in: directory) == directory + "/10-a.conflist")
    }

    @Test func runtimeReadyNeedsTheDefaultHandlerAndConmon() throws {
        let configuration = try Self.configuration(cniDir: "/nonexistent")
        let noRunc = NodeStatusProbe(configuration: configuration, lookup: { $0 == "runc" ? nil : "/bin/\($0)" })
        let condition = noRunc.conditions()[0]
        #expect(!condition.isTrue)
        #expect(condition.reason == "OCIRuntimeNotFound")
        #expect(condition.message.contains("apt-get install runc"))

        let noConmon = NodeStatusProbe(configuration: configuration, lookup: { $0 == "conmon" ? nil : "/bin/\($0)" })
        #expect(noConmon.conditions()[0].reason == "ConmonNotFound")

        let noCrun = NodeStatusProbe(configuration: configuration, lookup: { $0 == "crun" ? nil : "/bin/\($0)" })
        #expect(noCrun.conditions()[0].isTrue, "a missing non-default handler does not make the runtime unready")
    }

    @Test func handlerSetResolvesDefaultAndRoots() throws {
        let configuration = try Self.configuration(cniDir: "/x")
        let handlers = RuntimeHandlerSet(
            configuration: configuration,
            lookup: { $0 == "crun" ? nil : "/usr/sbin/\($0)" }
        )
        #expect(handlers.handlers.map(\.name) == ["crun", "runc", "runsc"])
        #expect(handlers.handler(named: "runsc")?.sandboxed == true, "runsc always runs pods as sandboxes")
        #expect(handlers.handler(named: "runc")?.sandboxed == false)
        #expect(handlers.handler(named: "")?.name == "runc")
        #expect(handlers.handler(named: "runc")?.resolvedPath == "/usr/sbin/runc")
        #expect(handlers.handler(named: "crun")?.resolvedPath == nil)
        #expect(handlers.handler(named: "kata") == nil)
        #expect(handlers.handler(named: "runc")?.root == "/run/skiff/runtime/runc")
    }
}

@Suite struct NodeCheckTests {
    static func node(
        programs: Set<String>,
        mountinfo: String,
        filesystems: String = "nodev\toverlay\n"
    ) -> NodeCheck.Node {
        NodeCheck.Node(
            isRoot: true,
            resolveProgram: { programs.contains($0) ? "/usr/bin/\($0)" : nil },
            isExecutable: { path in programs.contains(String(path.split(separator: "/").last ?? "")) },
            mounts: MountTable(mountinfo: mountinfo),
            filesystems: filesystems,
            overlayModuleAvailable: false,
            seccompAvailable: true
        )
    }

    static let unified = "25 1 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw"

    @Test func aCompleteNodePasses() async {
        let node = Self.node(
            programs: ["runc", "crun", "conmon", "bridge", "host-local", "loopback", "portmap"],
            mountinfo: Self.unified
        )
        let findings = await NodeCheck(configuration: .defaults, node: node).run()
        #expect(!findings.contains { $0.outcome == .failure }, "\(findings)")
        #expect(findings.contains { $0.subject == "cgroups" && $0.detail.contains("cgroup v2") })
    }

    @Test func anOldRunscWithoutAChosenNetworkIsAWarningWithItsFix() async throws {
        var node = Self.node(
            programs: [
                "runc", "crun", "runsc", "conmon", "bridge", "host-local", "loopback", "portmap", "skiff-sandbox-shim",
            ],
            mountinfo: Self.unified
        )
        node.programVersion = { _ in "runsc version 0.0~20221219.0" }
        node.sandboxFailure = { _ in nil }
        let finding = await NodeCheck(configuration: .defaults, node: node).run()
            .first { $0.subject == "runtime handler runsc" }
        #expect(finding?.outcome == .warning)
        #expect(finding?.detail.contains("--network=host") == true, "\(String(describing: finding))")

        var configuration = DaemonConfiguration.defaults
        configuration.runtime.handlers["runsc"]?.runtimeArguments = ["--network=host"]
        let chosen = await NodeCheck(configuration: configuration, node: node).run()
            .first { $0.subject == "runtime handler runsc" }
        #expect(chosen?.outcome == .ok, "\(String(describing: chosen))")
        node.programVersion = { _ in "runsc version release-20240807.0" }
        let newer = await NodeCheck(configuration: .defaults, node: node).run()
            .first { $0.subject == "runtime handler runsc" }
        #expect(newer?.outcome == .ok)
        #expect(NodeCheck.runscRelease("runsc version 0.0~20221219.0") == 20_221_219)
        node.sandboxFailure = { _ in "runsc do /bin/true failed (exit 128): no platform" }
        let broken = await NodeCheck(configuration: configuration, node: node).run()
            .first { $0.subject == "runtime handler runsc" }
        #expect(broken?.outcome == .warning && broken?.detail.contains("no platform") == true)
    }

    @Test func missingPiecesFailWithAFix() async {
        let node = Self.node(
            programs: ["crun"],
            mountinfo: "34 30 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory",
            filesystems: ""
        )
        let failures = await NodeCheck(configuration: .defaults, node: node).run().filter { $0.outcome == .failure }
        let subjects = failures.map(\.subject)
        #expect(subjects.contains("runtime handler runc"))
        #expect(subjects.contains("conmon"))
        #expect(subjects.contains("CNI plugin bridge"))
        #expect(subjects.contains("cgroups"))
        #expect(subjects.contains("overlayfs"))
        #expect(failures.first { $0.subject == "conmon" }?.detail.contains("apt-get install conmon") == true)
        #expect(
            failures.first { $0.subject == "CNI plugin bridge" }?.detail.contains("containernetworking-plugins") == true
        )
        #expect(failures.first { $0.subject == "cgroups" }?.detail.contains("cpu") == true)
    }
}

@Suite struct RuntimeSettingsTests {
    @Test func podCIDRIsValidatedAndSurvivesARestart() async throws {
        let directory = try NodeStatusProbeTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let settings = try RuntimeSettings(stateDir: directory)
        #expect(await settings.podCIDR == "")
        try await settings.updatePodCIDR("10.244.1.0/24,fd00:10:244::/64")
        try await settings.updatePodCIDR("")
        await #expect(throws: (any Error).self) { try await settings.updatePodCIDR("10.244.1.0") }
        await #expect(throws: (any Error).self) { try await settings.updatePodCIDR("300.1.1.1/24") }
        let reopened = try RuntimeSettings(stateDir: directory)
        #expect(await reopened.podCIDR == "10.244.1.0/24,fd00:10:244::/64")
    }
}
