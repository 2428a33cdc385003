import SkiffCommon
import Testing

@testable import RuntimeCore

/// CDI edits merged into the generated OCI spec as the CDI library merges them.
@Suite struct ContainerSpecBuilderCDITests {
    static func edits() -> CDIEdits {
        var edits = CDIEdits()
        edits.devices = [CDIDeviceName(kind: ("vendor.example", "null"), name: "0")]
        edits.env = ["PATH=/cdi/bin", "CDI_VISIBLE=0"]
        edits.deviceNodes = [
            .init(
                node: .init(path: "/dev/cdi-null", type: "c", major: 1, minor: 3, fileMode: 0o666),
                cgroupAccess: "rw"
            ),
            .init(node: .init(path: "/dev/fifo", type: "p", major: 0, minor: 0), cgroupAccess: nil),
        ]
        edits.mounts = [
            .init(destination: "/a/b/c", type: nil, source: "/tmp", options: ["rbind", "ro"]),
            .init(destination: "/etc/hosts", type: nil, source: "/etc/hosts", options: ["rbind"]),
        ]
        edits.hooks.append(.init(path: "/bin/true", args: ["true"]), stage: "createContainer")
        edits.hooks.append(.init(path: "/bin/false", timeout: 3), stage: "poststop")
        edits.additionalGids = [44, 44, 0].filter { $0 != 0 }
        return edits
    }

    static func build(uid: UInt32 = 0, edits: CDIEdits = edits()) throws -> RuntimeSpec {
        let spec = ContainerSpec(name: "c", image: "img", command: ["/bin/sh"])
        var context = ContainerSpecBuilderTests.context(spec)
        context.user = .init(uid: uid, gid: uid, additionalGids: [44], home: nil)
        context.cdiEdits = edits
        return try ContainerSpecBuilder.build(context)
    }

    @Test func envIsReplacedByNameOrAppended() throws {
        let env = try Self.build().process.env
        #expect(env.filter { $0.hasPrefix("PATH=") } == ["PATH=/cdi/bin"])
        #expect(env.last == "CDI_VISIBLE=0")
    }

    @Test func deviceNodesGetAnAllowRuleWhenTheCgroupControlsThem() throws {
        let spec = try Self.build()
        #expect(spec.linux.devices?.map(\.path) == ["/dev/cdi-null", "/dev/fifo"])
        let rules = try #require(spec.linux.resources?.devices)
        #expect(rules.first == .init(allow: false, access: "rwm"))
        #expect(rules.dropFirst().map { $0 } == [.init(allow: true, type: "c", major: 1, minor: 3, access: "rw")])
        // Unowned nodes belong to a non-root process's user.
        let owned = try Self.build(uid: 1000)
        #expect(owned.linux.devices?.first?.uid == 1000 && owned.linux.devices?.first?.gid == 1000)
        #expect(try Self.build().linux.devices?.first?.uid == nil)
    }

    @Test func mountsReplaceTheSameDestinationAndParentsComeFirst() throws {
        let mounts = try Self.build().mounts
        #expect(mounts.filter { $0.destination == "/etc/hosts" }.count <= 1)
        let depths = mounts.map { ContainerSpecBuilder.depth($0.destination) }
        #expect(depths == depths.sorted())
        #expect(mounts.last?.destination == "/a/b/c")
        #expect(mounts.first?.destination == "/proc")
    }

    @Test func hooksAndGroupsAreAdded() throws {
        let spec = try Self.build()
        #expect(spec.hooks?.createContainer == [.init(path: "/bin/true", args: ["true"])])
        #expect(spec.hooks?.poststop == [.init(path: "/bin/false", timeout: 3)])
        #expect(spec.hooks?.prestart == nil)
        #expect(spec.process.user.additionalGids == [44])
    }

    @Test func aMissingBindSourceIsRefusedNamingTheDevice() throws {
        var edits = CDIEdits()
        edits.devices = [CDIDeviceName(kind: ("vendor.example", "null"), name: "0")]
        edits.mounts = [.init(destination: "/x", source: "/skiff-no-such-dir", options: ["rbind"])]
        do {
            _ = try Self.build(edits: edits)
            Issue.record("built")
        } catch let error as SkiffError {
            #expect(error.message.contains("vendor.example/null=0") && error.message.contains("/skiff-no-such-dir"))
        }
    }

    @Test func noDevicesLeaveTheSpecAsItWas() throws {
        let spec = ContainerSpec(name: "c", image: "img", command: ["/bin/sh"])
        let plain = try ContainerSpecBuilder.build(ContainerSpecBuilderTests.context(spec))
        #expect(try Self.build(edits: CDIEdits()).hooks == plain.hooks)
        #expect(plain.hooks == nil)
    }
}
