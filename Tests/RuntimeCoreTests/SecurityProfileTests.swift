import Foundation
import LinuxSys
import SkiffCommon
import Testing

@testable import RuntimeCore

/// The default capability set, CRI add/drop resolution, and the RuntimeDefault seccomp profile,
/// ending with the profile loaded by real runc.
@Suite(.serialized) struct SecurityProfileTests {
    // MARK: capabilities

    @Test func capabilityNumbersFollowTheKernel() {
        #expect(CapabilitySet.knownNames.count == 41)
        #expect(CapabilitySet.knownNames[0] == "CAP_CHOWN")
        #expect(CapabilitySet.knownNames[21] == "CAP_SYS_ADMIN")
        #expect(CapabilitySet.knownNames[37] == "CAP_AUDIT_READ")
        #expect(CapabilitySet.knownNames[39] == "CAP_BPF")
        #expect(CapabilitySet.knownNames[40] == "CAP_CHECKPOINT_RESTORE")
        #expect(Set(CapabilitySet.knownNames).count == 41)
        #expect(Set(CapabilitySet.runtimeDefault).isSubset(of: CapabilitySet.knownNames))
        #expect(CapabilitySet.runtimeDefault.count == 14)
    }

    @Test func allStopsAtTheKernelsLastCapability() throws {
        #expect(CapabilitySet.names(throughLastCap: 37).last == "CAP_AUDIT_READ")
        #expect(CapabilitySet.names(throughLastCap: 37).count == 38)
        #expect(CapabilitySet.names(throughLastCap: 63) == CapabilitySet.knownNames, "newer than the table: the table")
        #expect(CapabilitySet.names(throughLastCap: nil) == CapabilitySet.knownNames)
        let lastCap = CapabilitySet.kernelLastCap()
        #expect(lastCap != nil, "this node has /proc/sys/kernel/cap_last_cap")
        let bounding = try #require(CapabilitySet.ownBoundingSet())
        let held = (0...min(lastCap ?? 40, 40)).filter { bounding & (UInt64(1) << UInt64($0)) != 0 }.count
        #expect(CapabilitySet.all().count == held, "all() is what the kernel knows and this process may hold")
    }

    @Test func resolveWithoutChangesIsTheRuntimeDefault() throws {
        #expect(
            try CapabilitySet.resolve(add: [], drop: [], privileged: false) == CapabilitySet.runtimeDefault.sorted()
        )
    }

    @Test func resolveTakesNamesWithOrWithoutThePrefixInAnyCase() throws {
        let caps = try CapabilitySet.resolve(
            add: ["NET_ADMIN", "net_admin", "CAP_NET_ADMIN", "sys_time", "Cap_Sys_Ptrace"],
            drop: ["mknod", "CAP_NET_RAW", "cap_kill", "SYS_ADMIN"],
            privileged: false
        )
        var expected = Set(CapabilitySet.runtimeDefault)
        expected.formUnion(["CAP_NET_ADMIN", "CAP_SYS_TIME", "CAP_SYS_PTRACE"])
        expected.subtract(["CAP_MKNOD", "CAP_NET_RAW", "CAP_KILL"])
        #expect(caps == expected.sorted())
        #expect(caps == caps.sorted() && Set(caps).count == caps.count, "sorted, unique")
        #expect(
            try CapabilitySet.resolve(add: ["CHOWN"], drop: ["chown"], privileged: false).contains("CAP_CHOWN")
                == false,
            "a capability both added and dropped is dropped"
        )
    }

    @Test func resolveAllInAddAndDrop() throws {
        let everything = CapabilitySet.knownNames
        let allButChown = try CapabilitySet.resolve(
            add: ["ALL"],
            drop: ["CHOWN"],
            privileged: false,
            available: everything
        )
        #expect(allButChown == everything.filter { $0 != "CAP_CHOWN" }.sorted())

        let onlyBind = try CapabilitySet.resolve(
            add: ["NET_BIND_SERVICE"],
            drop: ["all"],
            privileged: false,
            available: everything
        )
        #expect(onlyBind == ["CAP_NET_BIND_SERVICE"])
        #expect(try CapabilitySet.resolve(add: [], drop: ["ALL"], privileged: false).isEmpty)
        #expect(try CapabilitySet.resolve(add: ["all"], drop: [], privileged: false) == CapabilitySet.all().sorted())
    }

    @Test func resolvePrivilegedIsEverythingTheKernelKnows() throws {
        let caps = try CapabilitySet.resolve(add: [], drop: ["ALL", "NOT_A_CAP"], privileged: true)
        #expect(caps == CapabilitySet.all().sorted())
        #expect(caps.contains("CAP_SYS_ADMIN"))
        let older = try CapabilitySet.resolve(
            add: [],
            drop: [],
            privileged: true,
            available: CapabilitySet.names(throughLastCap: 37)
        )
        #expect(older.count == 38 && !older.contains("CAP_BPF"))
    }

    @Test func resolveRefusesAnUnknownName() {
        let inAdd = #expect(throws: SkiffError.self) {
            try CapabilitySet.resolve(add: ["NET_ADMIN", "NET_ADMINN"], drop: [], privileged: false)
        }
        #expect(inAdd?.code == .invalidArgument)
        #expect(inAdd?.message == "unknown capability \"NET_ADMINN\" in add_capabilities")
        let inDrop = #expect(throws: SkiffError.self) {
            try CapabilitySet.resolve(add: [], drop: ["CAP_"], privileged: false)
        }
        #expect(inDrop?.message == "unknown capability \"CAP_\" in drop_capabilities")
    }

    // MARK: seccomp profile

    /// Names the profile allows whatever their arguments.
    static func unconditional(_ profile: RuntimeSpec.Seccomp) -> Set<String> {
        Set((profile.syscalls ?? []).filter { $0.action == "SCMP_ACT_ALLOW" && $0.args == nil }.flatMap(\.names))
    }

    static func rules(for name: String, in profile: RuntimeSpec.Seccomp) -> [RuntimeSpec.Seccomp.Rule] {
        (profile.syscalls ?? []).filter { $0.names.contains(name) }
    }

    @Test func theDefaultProfileIsAnAllowlist() {
        let profile = DefaultSeccompProfile.profile(capabilities: Set(CapabilitySet.runtimeDefault))
        #expect(profile.defaultAction == "SCMP_ACT_ERRNO")
        #expect(profile.defaultErrnoRet == 1)
        #if arch(x86_64)
        #expect(profile.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        #elseif arch(arm64)
        #expect(profile.architectures == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
        #endif
        let allowed = Self.unconditional(profile)
        for name in [
            "read", "write", "openat", "execve", "exit_group", "futex", "mmap", "rt_sigaction", "wait4", "chroot",
            "ptrace",
        ] {
            #expect(allowed.contains(name), "\(name)")
        }
        for name in [
            "mount", "umount2", "unshare", "setns", "reboot", "init_module", "kexec_load", "bpf", "acct",
            "syslog", "settimeofday", "iopl", "open_by_handle_at", "keyctl", "userfaultfd", "clone", "clone3",
            "socket", "personality",
        ] {
            #expect(!allowed.contains(name), "\(name)")
        }
        #expect(DefaultSeccompProfile.allowedSyscalls.count == Set(DefaultSeccompProfile.allowedSyscalls).count)
        let gated = Set(DefaultSeccompProfile.capabilityGroups.flatMap(\.syscalls))
        #expect(gated.intersection(DefaultSeccompProfile.allowedSyscalls).isEmpty)
    }

    @Test func withoutSysAdminCloneIsMaskedAndClone3FallsBack() {
        let profile = DefaultSeccompProfile.profile(capabilities: Set(CapabilitySet.runtimeDefault))
        let clone3 = Self.rules(for: "clone3", in: profile)
        #expect(clone3 == [RuntimeSpec.Seccomp.Rule(names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38)])
        let clone = Self.rules(for: "clone", in: profile)
        #expect(clone.count == 1)
        #expect(clone.first?.action == "SCMP_ACT_ALLOW")
        #expect(
            clone.first?.args == [
                RuntimeSpec.Seccomp.Argument(index: 0, value: 0x7E02_0000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ")
            ]
        )
    }

    @Test func sysAdminAllowsMountAndNamespaces() {
        let profile = DefaultSeccompProfile.profile(capabilities: Set(CapabilitySet.runtimeDefault + ["CAP_SYS_ADMIN"]))
        let allowed = Self.unconditional(profile)
        for name in ["mount", "umount2", "unshare", "setns", "clone", "clone3", "sethostname", "fsopen", "move_mount"] {
            #expect(allowed.contains(name), "\(name)")
        }
        #expect(Self.rules(for: "clone3", in: profile).allSatisfy { $0.action == "SCMP_ACT_ALLOW" })
        #expect(Self.rules(for: "clone", in: profile).allSatisfy { $0.args == nil }, "no flag mask with CAP_SYS_ADMIN")
    }

    @Test func eachCapabilityOpensItsOwnSyscalls() {
        let expectations: [(String, [String])] = [
            ("CAP_SYS_PTRACE", ["kcmp", "pidfd_getfd", "process_madvise"]),
            ("CAP_SYS_MODULE", ["init_module", "finit_module", "delete_module"]),
            ("CAP_SYS_BOOT", ["reboot"]), ("CAP_SYS_TIME", ["settimeofday", "clock_settime"]),
            ("CAP_SYS_NICE", ["mbind", "set_mempolicy"]), ("CAP_SYS_RAWIO", ["iopl", "ioperm"]),
            ("CAP_SYS_PACCT", ["acct"]),
            ("CAP_SYSLOG", ["syslog"]), ("CAP_BPF", ["bpf"]), ("CAP_PERFMON", ["perf_event_open"]),
            ("CAP_DAC_READ_SEARCH", ["open_by_handle_at"]), ("CAP_SYS_TTY_CONFIG", ["vhangup"]),
        ]
        let base = Self.unconditional(DefaultSeccompProfile.profile(capabilities: []))
        for (capability, names) in expectations {
            let allowed = Self.unconditional(DefaultSeccompProfile.profile(capabilities: [capability]))
            for name in names {
                #expect(!base.contains(name), "\(name) without \(capability)")
                #expect(allowed.contains(name), "\(name) with \(capability)")
            }
            #expect(!allowed.contains("mount"), "\(capability) does not open mount")
        }
    }

    @Test func personalityAndSocketTakeArgumentRules() {
        let profile = DefaultSeccompProfile.profile(capabilities: [])
        let personality = Self.rules(for: "personality", in: profile)
        #expect(personality.compactMap { $0.args?.first?.value } == [0, 8, 0x20000, 0x20008, 0xffff_ffff])
        #expect(personality.allSatisfy { $0.args?.count == 1 && $0.args?.first?.op == "SCMP_CMP_EQ" })
        let socket = Self.rules(for: "socket", in: profile).compactMap(\.args)
        let everyFamilyButALGAndVSOCK: [[RuntimeSpec.Seccomp.Argument]] = [
            [.init(index: 0, value: 38, op: "SCMP_CMP_LT")], [.init(index: 0, value: 39, op: "SCMP_CMP_EQ")],
            [.init(index: 0, value: 40, op: "SCMP_CMP_GT")],
        ]
        #expect(socket == everyFamilyButALGAndVSOCK, "AF_ALG (38) and AF_VSOCK (40) fall to the default action")
    }

    @Test func theProfileEncodesWithTheOCIKeys() throws {
        let profile = DefaultSeccompProfile.profile(capabilities: Set(CapabilitySet.runtimeDefault))
        let data = try JSONEncoder().encode(profile)
        #expect(try JSONDecoder().decode(RuntimeSpec.Seccomp.self, from: data) == profile)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["defaultAction", "defaultErrnoRet", "architectures", "syscalls"])
        #expect(object["defaultAction"] as? String == "SCMP_ACT_ERRNO")
        #expect(object["defaultErrnoRet"] as? Int == 1)
        let rules = try #require(object["syscalls"] as? [[String: Any]])
        #expect(Set(rules[0].keys) == ["names", "action"], "no args key when there are none")
        let clone3 = try #require(rules.first { ($0["names"] as? [String]) == ["clone3"] })
        #expect(Set(clone3.keys) == ["names", "action", "errnoRet"])
        #expect(clone3["errnoRet"] as? Int == 38)
        let clone = try #require(rules.first { ($0["names"] as? [String]) == ["clone"] })
        let argument = try #require((clone["args"] as? [[String: Any]])?.first)
        #expect(Set(argument.keys) == ["index", "value", "valueTwo", "op"])
        #expect(argument["value"] as? Int == 2_114_060_288)
        #expect(argument["op"] as? String == "SCMP_CMP_MASKED_EQ")
    }

    // MARK: real runc

    /// The script run in the container: ordinary commands, then two ways to make a namespace.
    /// With no `process.capabilities` runc gives the container no capabilities, so `unshare -n`
    /// fails whatever the profile; `unshare -U` (a user namespace needs no capability) fails only
    /// because the profile refuses `unshare` without CAP_SYS_ADMIN.
    static let script =
        "echo ok; mkdir /tmp/x && echo made; unshare -n true; echo unshare=$?; unshare -U true; echo userns=$?; grep '^Seccomp:' /proc/self/status"

    static func runUnderRunc(profile: RuntimeSpec.Seccomp, directory: String) async throws -> ChildProcess.Result {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var spec = RuntimeSpec.basic(args: ["/bin/sh", "-c", script])
        spec.linux.seccomp = profile
        let bundle = try OCIRuntimeTests.bundle(in: directory, spec: spec)
        for applet in ["mkdir", "unshare", "true", "grep"] {
            try FileManager.default.createSymbolicLink(
                atPath: "\(bundle)/rootfs/bin/\(applet)",
                withDestinationPath: "busybox"
            )
        }
        let runtime = RuncCompatibleRuntime(name: "runc", binary: "/usr/sbin/runc", root: directory + "/runc-root")
        let id = "skiff-test-\(UUID().uuidString.prefix(8).lowercased())"
        let result = try await runtime.run(id: id, bundle: bundle, timeout: .seconds(30))
        try await runtime.delete(id: id, force: true)  // `run` has removed it already; this is a no-op then
        return result
    }

    static func value(of key: String, in output: String) -> String? {
        output.split(separator: "\n").first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
    }

    @Test func runcEnforcesTheProfile() async throws {
        let directory = "/tmp/skiff-seccomp-\(UUID().uuidString.prefix(8).lowercased())"
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let confined = try await Self.runUnderRunc(
            profile: DefaultSeccompProfile.profile(capabilities: Set(CapabilitySet.runtimeDefault)),
            directory: directory + "/default"
        )
        let output = confined.stdoutText
        #expect(confined.status == 0, "\(confined.stderrText)")
        #expect(output.hasPrefix("ok\nmade\n"), "ordinary commands work: \(output) \(confined.stderrText)")
        #expect(Self.value(of: "unshare", in: output).map { $0 != "0" } == true, "\(output)")
        #expect(Self.value(of: "userns", in: output).map { $0 != "0" } == true, "unshare refused by seccomp: \(output)")
        #expect(confined.stderrText.contains("Operation not permitted"), "EPERM, the profile's default errno")
        #expect(output.contains("Seccomp:\t2"), "the filter is loaded: \(output)")

        // The same script with CAP_SYS_ADMIN in the profile's capabilities: `unshare` passes the
        // filter, so a user namespace can be made (where the node allows them at all).
        let opened = try await Self.runUnderRunc(
            profile: DefaultSeccompProfile.profile(capabilities: Set(CapabilitySet.runtimeDefault + ["CAP_SYS_ADMIN"])),
            directory: directory + "/sys-admin"
        )
        #expect(opened.stdoutText.hasPrefix("ok\nmade\n"), "\(opened.stdoutText) \(opened.stderrText)")
        #expect(
            Self.value(of: "unshare", in: opened.stdoutText).map { $0 != "0" } == true,
            "still no CAP_SYS_ADMIN in the container"
        )
        let maxUserNamespaces =
            (try? String(contentsOfFile: "/proc/sys/user/max_user_namespaces", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        if maxUserNamespaces > 0 {
            #expect(Self.value(of: "userns", in: opened.stdoutText) == "0", "\(opened.stdoutText) \(opened.stderrText)")
        }
    }
}
