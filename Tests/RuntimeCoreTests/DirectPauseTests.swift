import LinuxSys
import Logging
import SkiffCommon
import Testing

@testable import RuntimeCore

@Suite struct DirectPauseTests {
    static let hybrid = MountTable(
        mountinfo: """
            22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
            30 22 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
            31 30 0:27 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw,nsdelegate
            32 30 0:28 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,xattr,name=systemd
            33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw shared:13 - cgroup cgroup rw,cpu,cpuacct
            34 30 0:30 / /sys/fs/cgroup/memory rw shared:14 - cgroup cgroup rw,memory
            35 30 0:31 / /sys/fs/cgroup/cpuset rw shared:15 - cgroup cgroup rw,cpuset
            36 22 0:32 / /mnt/cgroup rw shared:16 - cgroup cgroup rw,pids
            """
    )

    static func pause(hierarchies: [String]) -> DirectPause {
        DirectPause(
            pauseBinary: "/nonexistent/skiff-pause",
            emptyRoot: "/tmp/empty",
            cgroupLayout: .hybrid,
            hierarchies: hierarchies,
            defaultCgroupParent: "/skiff",
            minimumOOMScoreAdj: 0,
            timeout: .seconds(5),
            logger: Logger(label: "test")
        )
    }

    /// Every hierarchy under /sys/fs/cgroup but cpuset (its new cgroups take no process until
    /// their cpus and mems are set), v1 and v2 alike; nothing mounted elsewhere.
    @Test func thePauseJoinsEveryHierarchyButCpuset() {
        #expect(
            DirectPause.hierarchies(in: Self.hybrid) == [
                "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/systemd",
                "/sys/fs/cgroup/unified",
            ]
        )
        let unified = MountTable(mountinfo: "30 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate")
        #expect(DirectPause.hierarchies(in: unified) == ["/sys/fs/cgroup"])
    }

    @Test func thePauseCgroupIsBelowThePodsParentAndNeverOutsideTheHierarchy() {
        let pause = Self.pause(hierarchies: ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified"])
        var sandbox = PodSandbox.placeholder(id: "abc", directory: "/tmp/pod")
        #expect(
            pause.cgroupDirectories(of: sandbox) == [
                "/sys/fs/cgroup/memory/skiff/skiff-pause-abc", "/sys/fs/cgroup/unified/skiff/skiff-pause-abc",
            ]
        )
        sandbox.cgroupParent = "/kubepods/besteffort/pod123/"
        #expect(
            pause.cgroupDirectories(of: sandbox).first
                == "/sys/fs/cgroup/memory/kubepods/besteffort/pod123/skiff-pause-abc"
        )
        sandbox.cgroupParent = "/kubepods/../../etc"
        #expect(pause.cgroupDirectories(of: sandbox).isEmpty)
    }

    @Test func aMissingPauseBinaryIsAFailedPreconditionNamingIt() async {
        let pause = Self.pause(hierarchies: [])
        await #expect {
            _ = try await pause.start(for: PodSandbox.placeholder(id: "abc", directory: "/tmp/pod"))
        } throws: { error in
            guard let error = error as? SkiffError else { return false }
            return error.code == .failedPrecondition && error.message.contains("/nonexistent/skiff-pause")
        }
    }
}
