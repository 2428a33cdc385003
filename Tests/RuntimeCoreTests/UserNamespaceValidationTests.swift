import Foundation
import SkiffCommon
import Testing

@testable import RuntimeCore

/// userns_options and idmapped mounts: the rules RunPodSandbox and CreateContainer apply before
/// anything is made (the integration tests run the same requests against a real skiffd).
struct UserNamespaceValidationTests {
    static let range = IDMapRange(containerID: 0, hostID: 100_000, length: 65_536)
    static let mapping = UserNamespaceMapping(uids: [range], gids: [range])

    static func pod(_ option: UserNamespaceOption?, _ configure: (inout SandboxSpec) -> Void = { _ in }) -> SandboxSpec
    {
        RequestValidationTests.pod {
            $0.userNamespace = option
            configure(&$0)
        }
    }

    @Test func aPodMappingMustBeOneRangeFromContainerRootToNonRootNodeIDs() throws {
        let range = Self.range
        #expect(try UserNamespaceOption(mode: .pod, mapping: Self.mapping).validatedPodMapping() == Self.mapping)
        #expect(try UserNamespaceOption(mode: .node).validatedPodMapping() == nil)
        let refusals: [(UserNamespaceOption, String)] = [
            (.init(mode: .pod, mapping: .init(uids: [], gids: [Self.range])), "uids has 0 mappings"),
            (.init(mode: .pod, mapping: .init(uids: [Self.range, Self.range], gids: [Self.range])), "2 mappings"),
            (
                .init(mode: .pod, mapping: .init(uids: [.init(containerID: 1, hostID: 9, length: 5)], gids: [range])),
                "container ID 0"
            ),
            (
                .init(mode: .pod, mapping: .init(uids: [range], gids: [.init(containerID: 0, hostID: 0, length: 9)])),
                "node's ID 0"
            ),
            (
                .init(
                    mode: .pod,
                    mapping: .init(uids: [.init(containerID: 0, hostID: UInt32.max - 1, length: 9)], gids: [Self.range])
                ),
                "overflows"
            ),
            (.init(mode: .node, mapping: Self.mapping), "mode NODE with ID mappings"),
            (.init(mode: .container), "mode CONTAINER"),
            (.init(mode: .target), "mode TARGET"),
        ]
        for (option, text) in refusals {
            RequestValidationTests.expectRefused(Self.pod(option), naming: text)
        }
    }

    @Test func aPodUserNamespaceNeedsThePodsOwnNamespaces() {
        let option = UserNamespaceOption(mode: .pod, mapping: Self.mapping)
        RequestValidationTests.expectRefused(Self.pod(option) { $0.hostNetwork = true }, naming: "network NODE")
        RequestValidationTests.expectRefused(Self.pod(option) { $0.hostIPC = true }, naming: "ipc NODE")
        RequestValidationTests.expectRefused(Self.pod(option) { $0.hostPID = true }, naming: "pid NODE")
        #expect(RequestValidationTests.refusal { () throws(SkiffError) in try Self.pod(option).validate() } == nil)
    }

    @Test func aContainerRunsInItsPodsUserNamespaceWithItsMappings() {
        var podWithUserNamespace = RequestValidationTests.sandbox()
        podWithUserNamespace.userNamespace = Self.mapping
        let plain = RequestValidationTests.sandbox()
        let pod = UserNamespaceOption(mode: .pod, mapping: Self.mapping)
        let accepted: [(ContainerSpec, PodSandbox)] = [
            (RequestValidationTests.container { $0.userNamespace = pod }, podWithUserNamespace),
            (RequestValidationTests.container(), podWithUserNamespace),
            (RequestValidationTests.container { $0.userNamespace = .init(mode: .node) }, plain),
        ]
        for (spec, sandbox) in accepted {
            #expect(
                RequestValidationTests.refusal { () throws(SkiffError) in
                    try spec.validate(in: sandbox, node: RequestValidationTests.node)
                } == nil
            )
        }
        var other = Self.mapping
        other.uids[0].hostID += 65_536
        RequestValidationTests.expectRefused(
            RequestValidationTests.container { $0.userNamespace = .init(mode: .node) },
            in: podWithUserNamespace,
            naming: "mode NODE"
        )
        RequestValidationTests.expectRefused(
            RequestValidationTests.container { $0.userNamespace = .init(mode: .pod, mapping: other) },
            in: podWithUserNamespace,
            naming: "differ from pod sandbox"
        )
        RequestValidationTests.expectRefused(
            RequestValidationTests.container { $0.userNamespace = pod },
            in: plain,
            naming: "node's user namespace"
        )
        var mount = ContainerSpec.Mount(containerPath: "/data", hostPath: "/srv/data")
        mount.idMapping = other
        RequestValidationTests.expectRefused(
            RequestValidationTests.container { $0.mounts = [mount] },
            in: podWithUserNamespace,
            naming: "mounts[0]"
        )
        mount.idMapping = Self.mapping
        RequestValidationTests.expectRefused(
            RequestValidationTests.container { $0.mounts = [mount] },
            in: plain,
            naming: "has no user namespace"
        )
    }

    @Test func theProcessIdentityMustBeMapped() {
        let inside = UserResolver.Resolved(uid: 1000, gid: 1000, additionalGids: [65_535])
        #expect(RequestValidationTests.refusal { () throws(SkiffError) in try Self.mapping.checkCovers(inside) } == nil)
        let outsideUID = UserResolver.Resolved(uid: 65_536, gid: 0, additionalGids: [])
        #expect(
            RequestValidationTests.refusal { () throws(SkiffError) in try Self.mapping.checkCovers(outsideUID) }?
                .contains("uid 65536") == true
        )
        let outsideGroup = UserResolver.Resolved(uid: 0, gid: 0, additionalGids: [70_000])
        #expect(
            RequestValidationTests.refusal { () throws(SkiffError) in try Self.mapping.checkCovers(outsideGroup) }?
                .contains("gid 70000") == true
        )
        #expect(Self.mapping.hostRoot?.uid == 100_000)
        #expect(Self.mapping.hostUID(of: 65_535) == 165_535)
    }
}

/// A pod user namespace needs root_dir reachable by the pod's root (runc's init, inside the
/// namespace, mounts the root filesystem by its path): a closed ancestor turns the feature off.
struct IDMappedMountSupportTests {
    @Test func aDirectoryClosedToOthersOnThePathIsNamed() throws {
        let base = "/tmp/skiff-idmap-\(getpid())"
        defer { _ = try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base + "/closed/root", withIntermediateDirectories: true)
        chmod(base, 0o755)
        chmod(base + "/closed", 0o700)
        #expect(IDMappedMountSupport.firstUnsearchableAncestor(of: base + "/closed/root") == base + "/closed")
        chmod(base + "/closed", 0o711)
        #expect(IDMappedMountSupport.firstUnsearchableAncestor(of: base + "/closed/root") == nil)
    }
}
