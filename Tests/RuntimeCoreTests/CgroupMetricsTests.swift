import Foundation
import LinuxSys
import Testing

@testable import RuntimeCore

#if canImport(Glibc)
import Glibc
#endif

/// CgroupReader.metrics(ofCgroup:) on fake cgroup trees (v1 with cpu and cpuacct mounted apart, as on this
/// project's CI nodes, and v2), and the samples ContainerMetricSamples makes of a reading.
@Suite struct CgroupMetricsTests {
    typealias FakeTree = CgroupStatsTests.FakeTree
    static let cgroup = "/kubepods/pod1/skiff-abc"

    /// What both layouts' files below say of the CPU (v1 in nanoseconds, v2 in microseconds).
    static let cpu = CgroupMetricsReading.CPU(
        total: 7_500_000_000,
        user: 5_200_000_000,
        system: 2_300_000_000,
        periods: 120,
        throttledPeriods: 30,
        throttledTime: 4_000_000_000
    )

    static func writeV1(_ tree: FakeTree) throws {
        let cpuacct = "cpuacct" + cgroup
        try tree.write("\(cpuacct)/cgroup.procs", "41\n42\n")
        try tree.write("\(cpuacct)/cpuacct.usage", "7500000000\n")
        try tree.write("\(cpuacct)/cpuacct.usage_user", "5200000000\n")
        try tree.write("\(cpuacct)/cpuacct.usage_sys", "2300000000\n")
        let cpu = "cpu" + cgroup
        try tree.write("\(cpu)/cgroup.procs", "41\n42\n")
        try tree.write("\(cpu)/cpu.stat", "nr_periods 120\nnr_throttled 30\nthrottled_time 4000000000\n")
        try tree.write("\(cpu)/cpu.cfs_period_us", "100000\n")
        try tree.write("\(cpu)/cpu.cfs_quota_us", "20000\n")
        try tree.write("\(cpu)/cpu.shares", "1024\n")
        let memory = "memory" + cgroup
        try tree.write("\(memory)/cgroup.procs", "41\n42\n")
        try tree.write("\(memory)/memory.usage_in_bytes", "10485760\n")
        try tree.write("\(memory)/memory.max_usage_in_bytes", "20971520\n")
        try tree.write("\(memory)/memory.memsw.usage_in_bytes", "11534336\n")
        try tree.write("\(memory)/memory.kmem.usage_in_bytes", "262144\n")
        try tree.write("\(memory)/memory.failcnt", "3\n")
        try tree.write(
            "\(memory)/memory.stat",
            """
            pgfault 400
            pgmajfault 5
            total_cache 6291456
            total_rss 4194304
            total_mapped_file 1048576
            total_inactive_file 2097152
            total_pgfault 12345
            total_pgmajfault 67

            """
        )
        try tree.write("\(memory)/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
        try tree.write("\(memory)/memory.limit_in_bytes", "67108864\n")
        try tree.write("\(memory)/memory.soft_limit_in_bytes", "9223372036854771712\n")
        try tree.write("\(memory)/memory.memsw.limit_in_bytes", "67108864\n")
        let pids = "pids" + cgroup
        try tree.write("\(pids)/cgroup.procs", "41\n42\n")
        try tree.write("\(pids)/pids.current", "5\n")
        try tree.write("\(pids)/pids.max", "max\n")
        try tree.write(
            "blkio\(cgroup)/blkio.throttle.io_service_bytes_recursive",
            "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Total 12288\nTotal 12288\n"
        )
        try tree.write(
            "blkio\(cgroup)/blkio.throttle.io_serviced_recursive",
            "8:0 Read 1\n8:0 Write 2\n8:0 Total 3\nTotal 3\n"
        )
    }

    static func writeV2(_ tree: FakeTree) throws {
        let directory = String(cgroup.dropFirst())
        try tree.write("\(directory)/cgroup.procs", "41\n")
        try tree.write("\(directory)/child/cgroup.procs", "43\n")
        try tree.write(
            "\(directory)/cpu.stat",
            "usage_usec 7500000\nuser_usec 5200000\nsystem_usec 2300000\nnr_periods 120\nnr_throttled 30\nthrottled_usec 4000000\n"
        )
        try tree.write("\(directory)/cpu.max", "20000 100000\n")
        try tree.write("\(directory)/cpu.weight", "39\n")
        try tree.write("\(directory)/memory.current", "10485760\n")
        try tree.write("\(directory)/memory.peak", "20971520\n")
        try tree.write("\(directory)/memory.swap.current", "1048576\n")
        try tree.write(
            "\(directory)/memory.stat",
            """
            anon 4194304
            file 6291456
            kernel 262144
            file_mapped 1048576
            inactive_file 2097152
            pgfault 12345
            pgmajfault 67

            """
        )
        try tree.write("\(directory)/memory.events", "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n")
        try tree.write("\(directory)/memory.max", "67108864\n")
        try tree.write("\(directory)/memory.low", "0\n")
        try tree.write("\(directory)/memory.swap.max", "max\n")
        try tree.write("\(directory)/pids.current", "5\n")
        try tree.write("\(directory)/pids.max", "1024\n")
        try tree.write("\(directory)/io.stat", "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n")
    }

    @Test func v1ReadsEveryControllerFromItsOwnHierarchy() throws {
        let tree = try FakeTree()
        defer { tree.remove() }
        try Self.writeV1(tree)
        let reading = try #require(CgroupReader(layout: .hybrid, root: tree.root).metrics(ofCgroup: Self.cgroup))
        #expect(reading.cpu == Self.cpu)
        #expect(reading.memory.usage == 10_485_760)
        #expect(reading.memory.maxUsage == 20_971_520)
        #expect(reading.memory.workingSet == 10_485_760 - 2_097_152)
        #expect(reading.memory.rss == 4_194_304 && reading.memory.cache == 6_291_456)
        #expect(reading.memory.mappedFile == 1_048_576)
        #expect(reading.memory.swap == 1_048_576, "memsw usage less memory usage")
        #expect(reading.memory.kernel == 262_144 && reading.memory.failcnt == 3)
        #expect(reading.memory.pageFaults == .init(container: 400, hierarchy: 12_345))
        #expect(reading.memory.majorPageFaults == .init(container: 5, hierarchy: 67))
        #expect(reading.memory.oomKills == 2)
        #expect(reading.io == [.init(major: 8, minor: 0, readBytes: 4096, writeBytes: 8192, reads: 1, writes: 2)])
        #expect(reading.threads == 5 && reading.threadsMax == 0)
        #expect(reading.processes == [41, 42])
        #expect(
            reading.spec
                == .init(
                    cpuPeriod: 100_000,
                    cpuQuota: 20_000,
                    cpuShares: 1024,
                    memoryLimit: 67_108_864,
                    memoryReservation: 0,
                    memorySwapLimit: 67_108_864
                )
        )
    }

    @Test func v1FallsBackToCpuacctStatTicksForUserAndSystemTime() throws {
        let tree = try FakeTree()
        defer { tree.remove() }
        try tree.write("cpuacct\(Self.cgroup)/cgroup.procs", "41\n")
        try tree.write("cpuacct\(Self.cgroup)/cpuacct.usage", "9000000000\n")
        try tree.write("cpuacct\(Self.cgroup)/cpuacct.stat", "user 520\nsystem 230\n")
        let reading = try #require(CgroupReader(layout: .hybrid, root: tree.root).metrics(ofCgroup: Self.cgroup))
        #expect(reading.cpu.user == 5_200_000_000 && reading.cpu.system == 2_300_000_000)
        #expect(reading.memory.usage == nil && reading.memory.swap == nil, "no memory hierarchy, no memory figures")
    }

    @Test func v2ReadsOneDirectoryAndCountsProcessesOfChildCgroups() throws {
        let tree = try FakeTree()
        defer { tree.remove() }
        try Self.writeV2(tree)
        let reading = try #require(CgroupReader(layout: .unified, root: tree.root).metrics(ofCgroup: Self.cgroup))
        #expect(reading.cpu == Self.cpu)
        #expect(reading.memory.usage == 10_485_760 && reading.memory.maxUsage == 20_971_520)
        #expect(reading.memory.workingSet == 10_485_760 - 2_097_152)
        #expect(reading.memory.rss == 4_194_304 && reading.memory.cache == 6_291_456)
        #expect(reading.memory.mappedFile == 1_048_576 && reading.memory.swap == 1_048_576)
        #expect(reading.memory.kernel == 262_144)
        #expect(reading.memory.failcnt == 3, "memory.events max: times usage reached memory.max")
        #expect(reading.memory.pageFaults == .init(container: 12_345, hierarchy: 12_345))
        #expect(reading.memory.oomKills == 2)
        #expect(reading.io == [.init(major: 8, minor: 0, readBytes: 4096, writeBytes: 8192, reads: 1, writes: 2)])
        #expect(reading.threads == 5 && reading.threadsMax == 1024)
        #expect(reading.processes.sorted() == [41, 43])
        #expect(
            reading.spec
                == .init(
                    cpuPeriod: 100_000,
                    cpuQuota: 20_000,
                    cpuShares: 999,
                    memoryLimit: 67_108_864,
                    memoryReservation: 0,
                    memorySwapLimit: 0
                )
        )
    }

    @Test func v2WithoutMemoryKernelLineSumsItsParts() throws {
        let tree = try FakeTree()
        defer { tree.remove() }
        let directory = String(Self.cgroup.dropFirst())
        try tree.write("\(directory)/cgroup.procs", "")
        try tree.write("\(directory)/memory.current", "100\n")
        try tree.write("\(directory)/memory.stat", "kernel_stack 10\npagetables 20\nslab 30\nsock 1\n")
        let reading = try #require(CgroupReader(layout: .unified, root: tree.root).metrics(ofCgroup: Self.cgroup))
        #expect(reading.memory.kernel == 61)
        #expect(reading.memory.swap == 0, "no swap controller: nothing swapped is charged")
        #expect(reading.memory.maxUsage == nil, "memory.peak is missing before Linux 5.19")
        #expect(reading.cpu.total == nil)
    }

    @Test func aMissingOrEscapingCgroupHasNoReading() throws {
        let tree = try FakeTree()
        defer { tree.remove() }
        try Self.writeV2(tree)
        #expect(CgroupReader(layout: .unified, root: tree.root).metrics(ofCgroup: "/kubepods/gone") == nil)
        #expect(CgroupReader(layout: .unified, root: tree.root).metrics(ofCgroup: "/../etc") == nil)
        #expect(CgroupReader(layout: .hybrid, root: tree.root).metrics(ofCgroup: Self.cgroup) == nil)
    }

    @Test func blkioKeepsReadsAndWritesPerDeviceInOrder() {
        let devices = CgroupMetricsReading.parseBlkio(
            bytes: "8:16 Read 1\n8:0 Write 2\n8:16 Write 3\n8:0 Total 2\nTotal 6\n",
            operations: "8:0 Write 4\n8:16 Read 5\ngarbage\n"
        )
        #expect(
            devices == [
                .init(major: 8, minor: 16, readBytes: 1, writeBytes: 3, reads: 5, writes: 0),
                .init(major: 8, minor: 0, readBytes: 0, writeBytes: 2, reads: 0, writes: 4),
            ]
        )
    }

    @Test func descriptorsAndSocketsOfThisProcessAreCounted() throws {
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        try #require(socket >= 0)
        defer { close(socket) }
        let counts = ProcessDescriptors.count(pids: [getpid()])
        #expect(counts.files >= 4, "stdio and the socket")
        #expect(counts.sockets >= 1)
        let gone = ProcessDescriptors.count(pids: [Int32.max])
        #expect(gone.files == 0 && gone.sockets == 0)
    }

    @Test func theFilesystemDeviceIsTheSourceOfTheLongestMountHoldingThePath() {
        let mounts = MountTable(
            mountinfo: """
                1 0 8:1 / / rw - ext4 /dev/vda1 rw
                2 1 8:2 / /var rw - xfs /dev/vdb rw
                3 2 8:3 / /var/lib rw - xfs /dev/vdc rw
                4 3 0:5 / /var/lib rw - tmpfs tmpfs rw
                5 2 8:4 / /var/li rw - xfs /dev/wrong rw
                """
        )
        #expect(FilesystemDevice.source(of: "/var/lib/skiff/containers", in: mounts) == "tmpfs")
        #expect(FilesystemDevice.source(of: "/var/log", in: mounts) == "/dev/vdb")
        #expect(FilesystemDevice.source(of: "/srv", in: mounts) == "/dev/vda1")
    }
}
