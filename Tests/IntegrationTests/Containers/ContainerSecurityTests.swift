import CRIAPI
import Foundation
import GRPCCore
import ImageFixtures
import Testing

/// Security settings as the container's own process sees them: capabilities, seccomp,
/// privileged, devices, and the termination message.
@Suite(.serialized) struct ContainerSecurityTests {
    /// CapEff from /proc/self/status, as a bit set.
    static func effectiveCapabilities(_ output: String) -> UInt64? {
        output.split(separator: "\n").first { $0.hasPrefix("CapEff:") }
            .flatMap { UInt64($0.split(separator: "\t").last ?? "", radix: 16) }
    }

    static func field(_ name: String, _ output: String) -> String? {
        output.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map {
            $0.split(separator: "\t").last.map(String.init) ?? ""
        }
    }

    @Test func capabilitiesSeccompAndPrivileged() async throws {
        try await ContainerHarness.with(privilegedPod: true) { harness in
            let plain = try await harness.run(harness.config("plain", ["/bin/cat", "/proc/self/status"]))
            let tuned = try await harness.run(
                harness.config("tuned", ["/bin/cat", "/proc/self/status"]) { config in
                    config.linux.securityContext.capabilities.addCapabilities = ["NET_ADMIN"]
                    config.linux.securityContext.capabilities.dropCapabilities = ["chown", "CAP_KILL"]
                    config.linux.securityContext.seccomp.profileType = .runtimeDefault
                    config.linux.securityContext.noNewPrivs = true
                }
            )
            let privileged = try await harness.run(
                harness.config("privileged", ["/bin/sh", "-c", "cat /proc/self/status; ls /dev | wc -l"]) { config in
                    config.linux.securityContext.privileged = true
                }
            )
            for id in [plain, tuned, privileged] { #expect(try await harness.waitForExit(id).exitCode == 0) }

            let plainCaps = try #require(Self.effectiveCapabilities(harness.stdout("plain")))
            // containerd's default set: CHOWN(0) DAC_OVERRIDE(1) FOWNER(3) FSETID(4) KILL(5) SETGID(6)
            // SETUID(7) SETPCAP(8) NET_BIND_SERVICE(10) NET_RAW(13) SYS_CHROOT(18) MKNOD(27) AUDIT_WRITE(29) SETFCAP(31)
            let defaults: UInt64 = [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31].reduce(0) { $0 | (1 << $1) }
            #expect(plainCaps == defaults, "\(String(plainCaps, radix: 16))")
            #expect(Self.field("Seccomp", harness.stdout("plain")) == "0", "Unconfined is the CRI default")

            let tunedCaps = try #require(Self.effectiveCapabilities(harness.stdout("tuned")))
            #expect(
                tunedCaps == (defaults | (1 << 12)) & ~UInt64(1 << 0) & ~UInt64(1 << 5),
                "\(String(tunedCaps, radix: 16))"
            )
            #expect(Self.field("Seccomp", harness.stdout("tuned")) == "2", "RuntimeDefault installs a filter")
            #expect(Self.field("NoNewPrivs", harness.stdout("tuned")) == "1")

            let privilegedOutput = harness.stdout("privileged")
            let privilegedCaps = try #require(Self.effectiveCapabilities(privilegedOutput))
            #expect(privilegedCaps.nonzeroBitCount >= 38, "\(String(privilegedCaps, radix: 16))")
            #expect(Self.field("Seccomp", privilegedOutput) == "0")
            let devices = Int(privilegedOutput.split(separator: "\n").last ?? "") ?? 0
            #expect(devices > 20, "a privileged container sees the node's devices: \(devices)")
        }
    }

    /// SupplementalGroupsPolicy as critest checks it: uid 1000 belongs to group 50000 in the
    /// image's /etc/group; with Merge (the default) the process gets it besides the listed 1234,
    /// with Strict only the listed one. ContainerStatus.user says what the process got, and
    /// RuntimeStatus advertises the feature.
    @Test func supplementalGroupsPolicyMergeAddsTheImagesGroupsAndStrictDoesNot() async throws {
        try await ContainerHarness.with { harness in
            var groups = TarBuilder()
            groups.directory("etc")
            groups.file("etc/group", "root:x:0:\napp:x:1000:\ngroup-defined-in-image:x:50000:app\n")
            let image = FixtureImage(
                layers: [BusyboxImages.baseLayer(busybox: ContainerHarness.busybox), .init(tar: groups.finished())],
                config: .init(env: ["PATH=/bin"], cmd: ["/bin/sh"])
            )
            let archive = harness.daemon.directory + "/groups-image.tar"
            try Data(image.ociLayoutArchive(name: "example.com/skiff/groups:1.0")).write(
                to: URL(fileURLWithPath: archive)
            )
            _ = try await ImageImportTests.importArchive(harness.daemon, archive)
            for (name, policy, expected) in [
                ("merge", Runtime_V1_SupplementalGroupsPolicy.merge, [1000, 1234, 50000]),
                ("strict", .strict, [1000, 1234]),
            ] as [(String, Runtime_V1_SupplementalGroupsPolicy, [Int64])] {
                let id = try await harness.run(
                    harness.config(name, ["/bin/id", "-G"]) { config in
                        config.image.image = "example.com/skiff/groups:1.0"
                        config.linux.securityContext.runAsUser.value = 1000
                        config.linux.securityContext.supplementalGroups = [1234]
                        config.linux.securityContext.supplementalGroupsPolicy = policy
                    }
                )
                #expect(try await harness.waitForExit(id).exitCode == 0)
                #expect(harness.stdout(name) == expected.map(String.init).joined(separator: " ") + "\n", "\(name)")
                let user = try await harness.status(id).status.user.linux
                #expect(user.uid == 1000 && user.gid == 1000 && user.supplementalGroups == expected, "\(name)")
            }
            let status = try await harness.daemon.runtime { try await $0.status(.init()) }
            #expect(status.features.supplementalGroupsPolicy)
        }
    }

    @Test func aDeviceAndTheTerminationMessage() async throws {
        try await ContainerHarness.with { harness in
            let messageFile = harness.daemon.directory + "/termination-log"
            FileManager.default.createFile(atPath: messageFile, contents: nil)
            let id = try await harness.run(
                harness.config(
                    "device",
                    [
                        "/bin/sh", "-c",
                        "echo to-device > /dev/skiffnull && echo wrote; echo 'it broke' > /dev/termination-log; exit 2",
                    ]
                ) { config in
                    var device = Runtime_V1_Device()
                    device.hostPath = "/dev/null"
                    device.containerPath = "/dev/skiffnull"
                    device.permissions = "rw"
                    config.devices = [device]
                    var mount = Runtime_V1_Mount()
                    mount.hostPath = messageFile
                    mount.containerPath = "/dev/termination-log"
                    config.mounts = [mount]
                    config.annotations["io.kubernetes.container.terminationMessagePath"] = "/dev/termination-log"
                }
            )
            let status = try await harness.waitForExit(id)
            #expect(status.exitCode == 2)
            #expect(harness.stdout("device") == "wrote\n")
            #expect(status.message == "it broke\n")
            await expectCode(.invalidArgument) {
                _ = try await harness.create(
                    harness.config("nodevice", ["/bin/true"]) { config in
                        var device = Runtime_V1_Device()
                        device.hostPath = "/dev/no-such-device"
                        device.containerPath = "/dev/x"
                        config.devices = [device]
                    }
                )
            }
            await expectCode(.invalidArgument) {
                _ = try await harness.create(
                    harness.config("badcap", ["/bin/true"]) {
                        $0.linux.securityContext.capabilities.addCapabilities = ["NOT_A_CAP"]
                    }
                )
            }
        }
    }
}
