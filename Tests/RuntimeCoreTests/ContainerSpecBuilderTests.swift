import Foundation
import ImageCore
import LinuxSys
import SkiffCommon
import Testing

@testable import RuntimeCore

/// The merge rules the kubelet expects of a CRI runtime, pinned below the integration level:
/// kubelet config + image config + pod in, OCI spec fields out. The expected values are what
/// containerd 1.7 and cri-o 1.28 generate for the same CRI config (noted where they differ).
@Suite struct ContainerSpecBuilderTests {
    static let podDirectory = "/tmp/skiff-spec-unit-pod-\(UUID().uuidString.prefix(8).lowercased())"

    static func sandbox(
        hostNetwork: Bool = false,
        hostIPC: Bool = false,
        sharedPID: Bool = false,
        shm: String? = nil
    ) -> PodSandbox {
        var sandbox = PodSandbox.placeholder(id: "pod1", directory: podDirectory)
        (sandbox.name, sandbox.namespace, sandbox.uid, sandbox.state) = ("web", "default", "u1", .ready)
        (sandbox.runtimeHandler, sandbox.hostname) = ("runc", "web-0")
        (sandbox.hostNetwork, sandbox.hostIPC) = (hostNetwork, hostIPC)
        sandbox.sharedPID = sharedPID
        sandbox.shmPath = shm
        sandbox.namespaces = PinnedNamespaces(
            directory: podDirectory + "/ns",
            network: hostNetwork ? nil : "/ns/net",
            ipc: hostIPC ? nil : "/ns/ipc",
            uts: hostNetwork ? nil : "/ns/uts"
        )
        return sandbox
    }

    static func context(
        _ spec: ContainerSpec,
        image: ImageConfiguration.Defaults = .init(),
        sandbox: PodSandbox = sandbox(),
        home: String? = nil,
        layout: CgroupLayout? = .legacy,
        target: String? = nil
    ) -> ContainerSpecBuilder.Context {
        ContainerSpecBuilder.Context(
            id: "c1",
            spec: spec,
            image: image,
            sandbox: sandbox,
            user: .init(uid: 0, gid: 0, additionalGids: [], home: home),
            rootfs: "/rootfs",
            cgroupsPath: "/skiff/c1",
            cgroupLayout: layout,
            minimumOOMScoreAdj: 0,
            targetPIDNamespace: target
        )
    }

    // MARK: Command

    @Test(
        arguments: [
            // command, args, image entrypoint, image cmd → process args
            ([], [], ["/ep"], ["cmd"], ["/ep", "cmd"]),
            (["/bin/run"], [], ["/ep"], ["cmd"], ["/bin/run"]),
            (["/bin/run"], ["-v"], ["/ep"], ["cmd"], ["/bin/run", "-v"]),
            ([], ["-v"], ["/ep"], ["cmd"], ["/ep", "-v"]),
            ([], ["/bin/sh"], [], ["cmd"], ["/bin/sh"]),
            ([], [], [], ["cmd"], ["cmd"]),
        ] as [([String], [String], [String], [String], [String])]
    )
    func commandReplacesEntrypointAndArgsReplaceCmd(
        command: [String],
        args: [String],
        entrypoint: [String],
        cmd: [String],
        expected: [String]
    ) throws {
        let spec = ContainerSpec(name: "c", image: "img", command: command, args: args)
        #expect(
            try ContainerSpecBuilder.processArguments(spec, image: .init(entrypoint: entrypoint, cmd: cmd)) == expected
        )
    }

    @Test func aContainerWithNoCommandAnywhereIsRefusedByName() {
        let error = #expect(throws: SkiffError.self) {
            try ContainerSpecBuilder.processArguments(ContainerSpec(name: "empty", image: "img"), image: .init())
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("\"empty\" has no command") == true)
    }

    // MARK: Environment

    @Test func environmentMergesByKeyAndAddsTheDefaults() {
        var spec = ContainerSpec(
            name: "c",
            image: "img",
            env: [("B", "from-config"), ("C", "c=with=equals"), ("", "dropped")]
        )
        spec.tty = true
        let image = ImageConfiguration.Defaults(env: ["A=1", "B=from-image", "EMPTY"])
        let env = ContainerSpecBuilder.environment(Self.context(spec, image: image, home: "/home/app"))
        #expect(
            env == [
                "A=1", "B=from-config", "EMPTY=", "C=c=with=equals",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOSTNAME=web-0", "HOME=/home/app", "TERM=xterm",
            ]
        )
    }

    @Test func theImagesPathAndHomeWinOverTheDefaults() {
        let image = ImageConfiguration.Defaults(env: ["PATH=/opt/bin", "HOME=/srv"])
        let env = ContainerSpecBuilder.environment(
            Self.context(ContainerSpec(name: "c", image: "img"), image: image, home: "/root")
        )
        #expect(env.contains("PATH=/opt/bin") && env.contains("HOME=/srv"))
        #expect(!env.contains { $0.hasPrefix("TERM=") }, "TERM only with a tty")
        let noHome = ContainerSpecBuilder.environment(Self.context(ContainerSpec(name: "c", image: "img"), home: ""))
        #expect(noHome.contains("HOME=/"), "a user without a home directory gets /")
    }

    @Test func hostNetworkPodsGetTheNodesHostname() {
        let env = ContainerSpecBuilder.environment(
            Self.context(ContainerSpec(name: "c", image: "img"), sandbox: Self.sandbox(hostNetwork: true))
        )
        #expect(env.contains("HOSTNAME=\(SandboxService.nodeHostname())"))
    }

    // MARK: Namespaces

    @Test func namespacesFollowThePodAndThePIDMode() throws {
        func types(
            _ mode: ContainerSpec.PIDMode,
            sandbox: PodSandbox = Self.sandbox(),
            layout: CgroupLayout? = .legacy,
            target: String? = nil
        ) throws -> [String] {
            var spec = ContainerSpec(name: "c", image: "img")
            spec.security.pidMode = mode
            return try ContainerSpecBuilder.namespaces(
                Self.context(spec, sandbox: sandbox, layout: layout, target: target)
            )
            .map { "\($0.type)\($0.path.map { "=" + $0 } ?? "")" }
        }
        #expect(try types(.container) == ["mount", "network=/ns/net", "ipc=/ns/ipc", "uts=/ns/uts", "pid"])
        #expect(try types(.node) == ["mount", "network=/ns/net", "ipc=/ns/ipc", "uts=/ns/uts"])
        #expect(try types(.container, sandbox: Self.sandbox(hostNetwork: true, hostIPC: true)) == ["mount", "pid"])
        #expect(
            try types(.pod, sandbox: Self.sandbox(sharedPID: false)).last == "pid",
            "no shared namespace: one of its own, as containerd"
        )
        #expect(
            try types(.pod, sandbox: Self.sandbox(sharedPID: true), target: "/proc/7/ns/pid").last
                == "pid=/proc/7/ns/pid"
        )
        #expect(try types(.target("other"), target: "/proc/9/ns/pid").last == "pid=/proc/9/ns/pid")
        #expect(
            try types(.container, layout: .unified).last == "cgroup",
            "cgroup v2 gets a cgroup namespace, as runc's default spec"
        )

        let unpinned = #expect(throws: SkiffError.self) { try types(.pod, sandbox: Self.sandbox(sharedPID: true)) }
        #expect(unpinned?.code == .failedPrecondition)
        let missingTarget = #expect(throws: SkiffError.self) { try types(.target("gone")) }
        #expect(missingTarget?.code == .notFound)
        var stopped = Self.sandbox()
        stopped.namespaces = nil
        let noNetwork = #expect(throws: SkiffError.self) { try types(.container, sandbox: stopped) }
        #expect(noNetwork?.message.contains("has no network namespace") == true)
    }

    // MARK: Resources

    @Test func zeroResourcesAreLeftOutAndUnifiedOnlyOnV2() {
        #expect(ContainerSpecBuilder.resources(.init(), layout: .legacy) == RuntimeSpec.Resources())
        var requested = ContainerSpec.Resources()
        requested.cpuShares = 512
        requested.cpuQuota = 50_000
        requested.cpuPeriod = 100_000
        requested.memoryLimitBytes = 64 << 20
        requested.hugepageLimits = ["2MB": 4 << 20, "1GB": 0]
        requested.unified = ["memory.high": "50M"]
        let legacy = ContainerSpecBuilder.resources(requested, layout: .legacy)
        #expect(legacy.cpu?.shares == 512 && legacy.cpu?.quota == 50_000 && legacy.cpu?.period == 100_000)
        #expect(legacy.memory?.limit == 64 << 20 && legacy.memory?.swap == nil)
        #expect(legacy.hugepageLimits?.map(\.pageSize) == ["1GB", "2MB"], "sorted, as the kubelet lists them")
        #expect(legacy.unified == nil, "cgroup v1 has no unified files")
        #expect(ContainerSpecBuilder.resources(requested, layout: .unified).unified == ["memory.high": "50M"])
    }

    @Test(
        arguments: [(0, 0, 0), (-999, 0, 0), (-999, -998, -998), (500, -998, 500), (5000, 0, 1000)]
            as [(Int64, Int, Int)]
    )
    func oomScoreAdjIsClampedToWhatTheKernelAllows(requested: Int64, minimum: Int, expected: Int) {
        #expect(ContainerSpecBuilder.oomScoreAdj(requested, minimum: minimum) == expected)
    }

    // MARK: Mounts

    static func mounts(_ spec: ContainerSpec, sandbox: PodSandbox = sandbox()) throws -> ([RuntimeSpec.Mount], String?)
    {
        try ContainerSpecBuilder.mounts(Self.context(spec, sandbox: sandbox))
    }

    @Test func bindMountsGoParentsFirstWithTheirPropagation() throws {
        let base = "/tmp/skiff-spec-unit-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: base) }
        var spec = ContainerSpec(
            name: "c",
            image: "img",
            mounts: [
                .init(containerPath: "/data/cache/deep", hostPath: base + "/deep", readOnly: true),
                .init(containerPath: "/data", hostPath: base + "/data", propagation: .hostToContainer),
                .init(containerPath: "/data/cache", hostPath: base + "/cache"),
            ]
        )
        let (mounts, propagation) = try Self.mounts(spec)
        let binds = mounts.filter { $0.type == "bind" && $0.destination.hasPrefix("/data") }
        #expect(binds.map(\.destination) == ["/data", "/data/cache", "/data/cache/deep"])
        #expect(binds.map(\.options) == [["rbind", "rslave"], ["rbind", "rprivate"], ["rbind", "rprivate", "ro"]])
        #expect(propagation == "rslave", "a host-to-container mount needs a slave root")
        #expect(
            FileManager.default.fileExists(atPath: base + "/deep"),
            "a missing source becomes a directory, as in containerd"
        )

        spec.mounts = [.init(containerPath: "/shared", hostPath: base + "/shared", propagation: .bidirectional)]
        let unprivileged = #expect(throws: SkiffError.self) { try Self.mounts(spec) }
        #expect(unprivileged?.message.contains("needs a privileged container") == true)
        spec.security.privileged = true
        #expect(try Self.mounts(spec).1 == "rshared")
        #expect(
            try Self.mounts(spec).0.first { $0.destination == "/sys" }?.options?.contains("rw") == true,
            "privileged gets a writable /sys"
        )
    }

    /// api.proto's rules for `recursive_read_only`, as cri-o and containerd apply them: only with
    /// `readonly`, only with private propagation, only on a handler whose runtime lists `rro`.
    @Test func recursiveReadOnlyMountsFollowTheCRIsRules() throws {
        let base = "/tmp/skiff-spec-unit-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: base) }
        func options(
            _ mount: ContainerSpec.Mount,
            supported: Bool = true
        ) throws(SkiffError) -> [String]? {
            var context = Self.context(ContainerSpec(name: "c", image: "img", mounts: [mount]))
            context.recursiveReadOnlyMounts = supported
            return try ContainerSpecBuilder.mounts(context).0.first { $0.destination == "/data" }?.options
        }
        let rro = ContainerSpec.Mount(containerPath: "/data", hostPath: base, readOnly: true, recursiveReadOnly: true)
        #expect(try options(rro) == ["rbind", "rprivate", "ro", "rro"])
        var writable = rro
        writable.readOnly = false
        let notReadOnly = #expect(throws: SkiffError.self) { try options(writable) }
        #expect(notReadOnly?.code == .invalidArgument && notReadOnly?.message.contains("must also be readonly") == true)
        for propagation in [ContainerSpec.Mount.Propagation.hostToContainer, .bidirectional] {
            var propagating = rro
            propagating.propagation = propagation
            let refused = #expect(throws: SkiffError.self) { try options(propagating) }
            #expect(refused?.message.contains("needs private propagation") == true)
        }
        let unsupported = #expect(throws: SkiffError.self) { try options(rro, supported: false) }
        #expect(unsupported?.message.contains("does not support recursive read-only mounts") == true)
        var plain = rro
        plain.recursiveReadOnly = false
        #expect(try options(plain, supported: false) == ["rbind", "rprivate", "ro"])
    }

    @Test(arguments: [("relative", "/src", "destination"), ("/dst", "relative", "source")])
    func relativeMountPathsAreRefused(destination: String, source: String, named: String) {
        let spec = ContainerSpec(name: "c", image: "img", mounts: [.init(containerPath: destination, hostPath: source)])
        let error = #expect(throws: SkiffError.self) { try Self.mounts(spec) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("mount \(named)") == true, "\(String(describing: error))")
    }

    @Test func devShmIsThePodsTheNodesOrAPrivateTmpfs() throws {
        func shm(_ sandbox: PodSandbox) throws -> RuntimeSpec.Mount? {
            try Self.mounts(ContainerSpec(name: "c", image: "img"), sandbox: sandbox).0.first {
                $0.destination == "/dev/shm"
            }
        }
        #expect(try shm(Self.sandbox(shm: "/pod/shm"))?.source == "/pod/shm")
        #expect(try shm(Self.sandbox(hostIPC: true))?.source == "/dev/shm")
        #expect(try shm(Self.sandbox())?.type == "tmpfs")
        let own = ContainerSpec(name: "c", image: "img", mounts: [.init(containerPath: "/dev/shm/", hostPath: "/tmp")])
        #expect(
            try Self.mounts(own).0.filter { $0.destination.hasPrefix("/dev/shm") }.map(\.source) == ["/tmp"],
            "the kubelet's own wins"
        )
    }

    @Test func thePodsEtcFilesAreBoundUnlessTheKubeletMountsItsOwn() throws {
        try FileManager.default.createDirectory(atPath: Self.podDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: Self.podDirectory) }
        for file in ["hostname", "resolv.conf", "hosts"] {
            try "x\n".write(toFile: Self.podDirectory + "/" + file, atomically: true, encoding: .utf8)
        }
        var spec = ContainerSpec(
            name: "c",
            image: "img",
            mounts: [.init(containerPath: "/etc/hosts", hostPath: "/tmp")]
        )
        spec.security.readOnlyRootfs = true
        let etc = try Self.mounts(spec).0.filter { $0.destination.hasPrefix("/etc/") }
        #expect(etc.map(\.destination) == ["/etc/hostname", "/etc/resolv.conf", "/etc/hosts"])
        #expect(etc.first?.options == ["rbind", "rprivate", "ro"], "a read-only root keeps the pod's files read-only")
        #expect(etc.last?.source == "/tmp", "the kubelet's /etc/hosts replaces the pod's")
    }

    // MARK: Security

    @Test func privilegedContainersAreNeitherMaskedNorFiltered() throws {
        var spec = ContainerSpec(name: "c", image: "img", command: ["/bin/true"])
        spec.security.seccomp = .runtimeDefault
        spec.security.noNewPrivileges = true
        spec.security.apparmorProfile = "unconfined"
        let confined = try ContainerSpecBuilder.build(Self.context(spec))
        #expect(confined.linux.maskedPaths == RuntimeSpec.defaultMaskedPaths)
        #expect(confined.linux.seccomp != nil)
        #expect(confined.process.noNewPrivileges == true)
        #expect(confined.process.apparmorProfile == nil, "unconfined means no profile")
        spec.security.privileged = true
        let privileged = try ContainerSpecBuilder.build(Self.context(spec))
        #expect(privileged.linux.maskedPaths == nil && privileged.linux.readonlyPaths == nil)
        #expect(privileged.linux.seccomp == nil)
        #expect(privileged.process.noNewPrivileges == false, "privileged ignores no_new_privs, as containerd")
        #expect(privileged.linux.resources?.devices?.first?.allow == true)
    }

    @Test func aRelativeWorkingDirectoryIsRefusedAndTheImagesIsTheDefault() throws {
        let spec = ContainerSpec(name: "c", image: "img", command: ["/bin/true"])
        #expect(
            try ContainerSpecBuilder.build(Self.context(spec, image: .init(workingDir: "/srv"))).process.cwd == "/srv"
        )
        #expect(try ContainerSpecBuilder.build(Self.context(spec)).process.cwd == "/")
        var relative = spec
        relative.workingDir = "srv"
        let error = #expect(throws: SkiffError.self) { try ContainerSpecBuilder.build(Self.context(relative)) }
        #expect(error?.message.contains("not an absolute path") == true)
    }
}
