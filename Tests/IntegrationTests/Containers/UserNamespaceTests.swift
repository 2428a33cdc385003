import CRIAPI
import Foundation
import GRPCCore
import ImageFixtures
import Testing

/// Pods with their own user namespace (userns_options mode POD, KEP-127): the pod's root is an
/// unprivileged uid on the node, its image and idmapped volumes are owned by its root inside,
/// and every malformed request is refused with the field it got wrong.
@Suite(.serialized) struct UserNamespaceTests {
    /// A host ID range per run (the IDs only need to be unused by the node's own files).
    static let hostBase = UInt32(200_000 + (getpid() % 1000) * 65_536)

    static func mapping(
        containerID: UInt32 = 0,
        hostID: UInt32 = hostBase,
        length: UInt32 = 65_536
    )
        -> Runtime_V1_IDMapping
    {
        var mapping = Runtime_V1_IDMapping()
        mapping.containerID = containerID
        mapping.hostID = hostID
        mapping.length = length
        return mapping
    }

    static func podUserNamespace(
        _ uids: [Runtime_V1_IDMapping] = [mapping()],
        gids: [Runtime_V1_IDMapping]? = nil
    )
        -> Runtime_V1_UserNamespace
    {
        var userns = Runtime_V1_UserNamespace()
        userns.mode = .pod
        userns.uids = uids
        userns.gids = gids ?? uids
        return userns
    }

    /// A skiffd on a per-run CNI bridge with one pod that has a user namespace (runc).
    static func withUserNamespacePod(
        sharedPID: Bool = false,
        _ body: (ContainerHarness, Runtime_V1_PodSandboxConfig) async throws -> Void
    ) async throws {
        try await NetworkedContainerTests.withNetworkedPod("userns", handler: "runc") { pod in
            pod.linux.securityContext.namespaceOptions.pid = sharedPID ? .pod : .container
            pod.linux.securityContext.namespaceOptions.usernsOptions = podUserNamespace()
        } _: { harness, _, pod in
            try await body(harness, pod)
        }
    }

    /// A config whose namespace options are the pod's, as the kubelet sends them.
    static func config(
        _ harness: ContainerHarness,
        _ pod: Runtime_V1_PodSandboxConfig,
        _ name: String,
        _ command: [String],
        configure: (inout Runtime_V1_ContainerConfig) -> Void = { _ in }
    ) -> Runtime_V1_ContainerConfig {
        harness.config(name, command) { config in
            config.linux.securityContext.namespaceOptions.usernsOptions =
                pod.linux.securityContext.namespaceOptions.usernsOptions
            configure(&config)
        }
    }

    @Test func thePodsRootOwnsItsImageAndVolumesAndIsUnprivilegedOnTheNode() async throws {
        try await Self.withUserNamespacePod { harness, pod in
            let daemon = harness.daemon
            let volume = daemon.directory + "/userns-volume"
            try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)
            try "only root reads this\n".write(toFile: volume + "/secret", atomically: false, encoding: .utf8)
            chmod(volume + "/secret", 0o600)
            var idmapped = Runtime_V1_Mount()
            idmapped.hostPath = volume
            idmapped.containerPath = "/vol"
            idmapped.uidMappings = [Self.mapping()]
            idmapped.gidMappings = [Self.mapping()]
            let script = [
                "cat /proc/self/uid_map /proc/self/gid_map", "id -u", "stat -c '%u:%g' / /bin/busybox",
                "echo written > /new && stat -c '%u' /new", "stat -c '%u:%g' /vol/secret", "cat /vol/secret",
                "stat -c '%u' /dev/shm", "stat -c '%u:%g' /iv/bin/busybox /iv/home/app",
                "touch /dev/shm/x && echo shm-writable", "sleep 600",
            ].joined(separator: "; ")
            var imageVolume = Runtime_V1_Mount()
            imageVolume.containerPath = "/iv"
            imageVolume.image.image = harness.image
            imageVolume.readonly = true
            let id = try await harness.run(
                Self.config(harness, pod, "inside", ["/bin/sh", "-c", script]) { $0.mounts = [idmapped, imageVolume] }
            )
            try await harness.waitForLog("inside", containing: "shm-writable")
            let base = Self.hostBase
            #expect(
                harness.stdout("inside")
                    == "         0 \(String(base).leftPadded(10))      65536\n"
                    + "         0 \(String(base).leftPadded(10))      65536\n"
                    + "0\n0:0\n0:0\n0\n0:0\nonly root reads this\n0\n0:0\n1000:1000\nshm-writable\n",
                "inside the pod: root, owning its image, its writes, its idmapped volume and image volume"
            )
            // On the node: the process is the mapped uid, the file it wrote is the mapped uid's,
            // and the volume and the image layers are untouched.
            let status = try await harness.status(id, verbose: true)
            let pid = try #require(Self.pid(from: status.info["info"] ?? ""))
            let uids = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
                .split(separator: "\n").first { $0.hasPrefix("Uid:") }
            #expect(uids?.split(separator: "\t").dropFirst().first == Substring(String(base)))
            let upper = daemon.directory + "/root/containers/\(id)/upper/new"
            let attributes = try FileManager.default.attributesOfItem(atPath: upper)
            #expect((attributes[.ownerAccountID] as? NSNumber)?.uint32Value == base)
            let secret = try FileManager.default.attributesOfItem(atPath: volume + "/secret")
            #expect((secret[.ownerAccountID] as? NSNumber)?.uint32Value == 0)
            #expect(try await harness.execSync(id, ["/bin/id", "-u"]).stdout == Data("0\n".utf8))
            let mounts = status.status.mounts
            #expect(mounts.first?.uidMappings == [Self.mapping()], "ContainerStatus reports the volume's mappings")

            // A process identity the namespace does not map, a container leaving the pod's user
            // namespace, and a volume with other mappings are refused, naming the field.
            await expectCode(.invalidArgument, containing: "uid 70000") {
                _ = try await harness.create(
                    Self.config(harness, pod, "unmapped", ["/bin/true"]) {
                        $0.linux.securityContext.runAsUser.value = 70_000
                    }
                )
            }
            await expectCode(.invalidArgument, containing: "mode NODE") {
                _ = try await harness.create(
                    harness.config("node-userns", ["/bin/true"]) {
                        $0.linux.securityContext.namespaceOptions.usernsOptions.mode = .node
                    }
                )
            }
            var otherMapping = idmapped
            otherMapping.uidMappings = [Self.mapping(hostID: Self.hostBase + 65_536)]
            await expectCode(.invalidArgument, containing: "mounts[0]") {
                _ = try await harness.create(
                    Self.config(harness, pod, "other-mapping", ["/bin/true"]) { $0.mounts = [otherMapping] }
                )
            }
            // A pod whose mapping stops short of the image's files (the fixture's /home/app is
            // uid 1000's) is refused at CreateContainer, naming the owner.
            var shortPod = PodSandboxTests.config("userns-short")
            shortPod.linux.securityContext.namespaceOptions.pid = .container
            shortPod.linux.securityContext.namespaceOptions.usernsOptions = Self.podUserNamespace(
                [Self.mapping(hostID: Self.hostBase + 65_536, length: 1000)]
            )
            let shortPodID = try await PodSandboxTests.run(daemon, shortPod, handler: "runc")
            await expectCode(.failedPrecondition, containing: "uid 1000") {
                _ = try await harness.create(
                    Self.config(harness, shortPod, "short", ["/bin/true"]),
                    in: shortPodID
                )
            }
            let handlers = try await daemon.runtime { try await $0.status(.init()) }.runtimeHandlers
            let features = Dictionary(
                handlers.map { ($0.name, $0.features.userNamespaces) },
                uniquingKeysWith: { first, _ in first }
            )
            #expect(features["runc"] == true, "runc lists the user namespace in `runc features`; the node idmaps")
            #expect(features["crun"] == false, "crun 1.8 has no `crun features`: nothing is claimed for it")
        }
    }

    @Test func aSharedPIDPodRunsItsPauseProcessInThePodsUserNamespace() async throws {
        try await Self.withUserNamespacePod(sharedPID: true) { harness, pod in
            let id = try await harness.run(
                Self.config(
                    harness,
                    pod,
                    "ps",
                    ["/bin/sh", "-c", "cat /proc/1/cmdline; echo; cat /proc/1/uid_map; sleep 600"]
                ) {
                    $0.linux.securityContext.namespaceOptions.pid = .pod
                }
            )
            try await harness.waitForLog("ps", containing: "65536")
            #expect(harness.stdout("ps").hasPrefix("/pause"), "\(harness.stdout("ps"))")
            #expect(
                harness.stdout("ps").contains(" \(Self.hostBase) "),
                "the pause process is in the pod's user namespace"
            )

            // A SIGKILL of skiffd and a restart: the pinned user namespace is still there, the
            // pod READY, and a new container joins the same namespace.
            try await harness.daemon.stop(signal: SIGKILL)
            try await harness.daemon.start()
            #expect(try await PodSandboxTests.status(harness.daemon, harness.podID).state == .sandboxReady)
            #expect(try await harness.status(id).status.state == .containerRunning)
            let later = try await harness.run(
                Self.config(harness, pod, "later", ["/bin/sh", "-c", "cat /proc/self/uid_map; sleep 600"]) {
                    $0.linux.securityContext.namespaceOptions.pid = .pod
                }
            )
            try await harness.waitForLog("later", containing: "65536")
            #expect(harness.stdout("later").contains(" \(Self.hostBase) "))
            _ = later
        }
    }

    @Test func malformedUserNamespaceRequestsAreRefusedAndLeaveNothing() async throws {
        try await PodSandboxTests.withNetworkedDaemon { daemon, _ in
            func attempt(
                _ name: String,
                handler: String = "runc",
                _ configure: (inout Runtime_V1_PodSandboxConfig) -> Void
            )
                async throws
            {
                var config = PodSandboxTests.config(name)
                config.linux.securityContext.namespaceOptions.usernsOptions = Self.podUserNamespace()
                configure(&config)
                _ = try await PodSandboxTests.run(daemon, config, handler: handler)
            }
            let podUserNamespace = Self.podUserNamespace
            await expectCode(.invalidArgument, containing: "2 mappings") {
                try await attempt("two") {
                    $0.linux.securityContext.namespaceOptions.usernsOptions = podUserNamespace(
                        [Self.mapping(), Self.mapping(containerID: 0, hostID: Self.hostBase + 65_536)],
                        nil
                    )
                }
            }
            await expectCode(.invalidArgument, containing: "container ID 0") {
                try await attempt("no-root") {
                    $0.linux.securityContext.namespaceOptions.usernsOptions = podUserNamespace(
                        [Self.mapping(containerID: 1)],
                        nil
                    )
                }
            }
            await expectCode(.invalidArgument, containing: "node's ID 0") {
                try await attempt("host-root") {
                    $0.linux.securityContext.namespaceOptions.usernsOptions = podUserNamespace(
                        [Self.mapping(hostID: 0)],
                        nil
                    )
                }
            }
            for mode in [Runtime_V1_NamespaceMode.container, .target] {
                await expectCode(.invalidArgument, containing: "mode \("\(mode)".uppercased())") {
                    try await attempt("mode-\(mode)") {
                        $0.linux.securityContext.namespaceOptions.usernsOptions.mode = mode
                    }
                }
            }
            await expectCode(.invalidArgument, containing: "network NODE") {
                try await attempt("hostnet") { $0.linux.securityContext.namespaceOptions.network = .node }
            }
            await expectCode(.invalidArgument, containing: "handler \"crun\"") {
                try await attempt("crun", handler: "crun") { _ in }
            }
            let pods = try await daemon.runtime { try await $0.listPodSandbox(.init()) }.items
            #expect(pods.isEmpty)
            #expect(try PodSandboxTests.leftovers(daemon).isEmpty, "mounts left under \(daemon.directory)")
        }
    }

    /// The container's pid from ContainerStatus' verbose info.
    static func pid(from info: String) -> Int32? {
        struct Info: Decodable { var pid: Int32 }
        return try? JSONDecoder().decode(Info.self, from: Data(info.utf8)).pid
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        String(repeating: " ", count: max(0, width - count)) + self
    }
}
