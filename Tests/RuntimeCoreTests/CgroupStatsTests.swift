import CLinuxShim
import Foundation
import LinuxSys
import Testing

@testable import RuntimeCore

#if canImport(Glibc)
import Glibc
#endif

/// CgroupReader and CgroupFiles on fake cgroup trees written into a temporary directory, one per
/// layout: v1 with a cpuacct hierarchy of its own, v1 with cpu and cpuacct co-mounted, and v2.
@Suite struct CgroupStatsTests {
    static let cgroup = "/skiff/abc"

    /// A temporary directory standing in for /sys/fs/cgroup, removed by `remove()`.
    struct FakeTree {
        let root: String

        init() throws {
            root =
                FileManager.default.temporaryDirectory.appendingPathComponent("skiff-cgroup-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }

        func write(_ relativePath: String, _ text: String) throws {
            let path = root + "/" + relativePath
            try FileManager.default.createDirectory(
                atPath: FileSystem.parentDirectory(of: path),
                withIntermediateDirectories: true
            )
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        }

        func makeDirectory(_ relativePath: String) throws {
            try FileManager.default.createDirectory(
                atPath: root + "/" + relativePath,
                withIntermediateDirectories: true
            )
        }

        func symlink(_ relativePath: String, to target: String) throws {
            try FileManager.default.createSymbolicLink(atPath: root + "/" + relativePath, withDestinationPath: target)
        }

        func remove() { try? FileManager.default.removeItem(atPath: root) }
    }

    /// The memory controller's files of a v1 cgroup; memory.stat carries both the cgroup's own
    /// counters and the hierarchical total_* ones, which are those the reader must use.
    static func writeV1Memory(_ tree: FakeTree, under directory: String) throws {
        try tree.write("\(directory)/memory.usage_in_bytes", "10485760\n")
        try tree.write(
            "\(directory)/memory.stat",
            """
            cache 1000
            rss 2000
            inactive_file 3000
            pgfault 4000
            pgmajfault 5
            total_cache 6291456
            total_rss 4194304
            total_inactive_file 2097152
            total_active_file 1048576
            total_pgfault 12345
            total_pgmajfault 67

            """
        )
        try tree.write("\(directory)/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
        try tree.write("\(directory)/memory.limit_in_bytes", "536870912\n")
        try tree.write("\(directory)/cgroup.procs", "41\n")
    }

    static func expectV1Usage(_ usage: CgroupUsage?, before: Int64, after: Int64) throws {
        let usage = try #require(usage)
        #expect(usage.timestampNanos >= before && usage.timestampNanos <= after)
        #expect(
            usage
                == CgroupUsage(
                    timestampNanos: usage.timestampNanos,
                    cpuUsageNanos: 123_456_789,
                    memoryUsageBytes: 10_485_760,
                    memoryWorkingSetBytes: 10_485_760 - 2_097_152,
                    memoryRSSBytes: 4_194_304,
                    pageFaults: 12345,
                    majorPageFaults: 67,
                    pids: 3,
                    oomKills: 2
                )
        )
    }

    // MARK: cgroup v1

    @Test func v1WithASeparateCpuacctHierarchy() throws {
        let tree = try FakeTree()
        defer { tree.remove() }
        try tree.write("cpuacct/skiff/abc/cpuacct.usage", "123456789\n")
        try Self.writeV1Memory(tree, under: "memory/skiff/abc")
        try tree.write("pids/skiff/abc/pids.current", "3\n")
        try tree.write("pids/skiff/abc/pids.max", "100\n")
        try tree.write("pids/skiff/abc/cgroup.procs", "12\n5\n12\n")
        try tree.write("cpu/skiff/abc/cpu.cfs_quota_us", "50000\n")
        try tree.write("cpu/skiff/abc/cpu.cfs_period_us", "100000\n")
        try tree.write("cpu/skiff/abc/cpu.shares", "512\n")

        for layout in [CgroupLayout.hybrid, .legacy] {
            let reader = CgroupReader(layout: layout, root: tree.root)
            let before = WallClock.nanoseconds()
            let usage = reader.usage(ofCgroup: Self.cgroup)
            try Self.expectV1Usage(usage, before: before, after: WallClock.nanoseconds())
            #expect(
                reader.pids(ofCgroup: Self.cgroup) == [5, 12],
                "from the pids hierarchy, sorted, without duplicates"
            )

            let limits = CgroupFiles.readLimits(ofCgroup: Self.cgroup, layout: layout, root: tree.root)
            #expect(limits.memoryLimit == 536_870_912)
            #expect(limits.cpuQuota == 50000)
            #expect(limits.cpuPeriod == 100_000)
            #expect(limits.cpuShares == 512)
            #expect(limits.pidsLimit == 100)
        }
        #expect(
            CgroupFiles.directory(for: "memory", cgroup: Self.cgroup, layout: .hybrid, root: tree.root)
                == tree.root + "/memory/skiff/abc"
        )
        #expect(
            CgroupFiles.directory(for: "cpuacct", cgroup: Self.cgroup, layout: .hybrid, root: tree.root)
                == tree.root + "/cpuacct/skiff/abc"
        )
    }

    @Test func v1WithCpuAndCpuacctCoMounted() throws {
        let tree = try FakeTree()
        defer { tree.remove() }
        try tree.write("cpu,cpuacct/skiff/abc/cpuacct.usage", "123456789\n")
        try tree.write("cpu,cpuacct/skiff/abc/cpu.cfs_quota_us", "-1\n")
        try tree.write("cpu,cpuacct/skiff/abc/cpu.cfs_period_us", "100000\n")
        try tree.write("cpu,cpuacct/skiff/abc/cpu.shares", "1024\n")
        try Self.writeV1Memory(tree, under: "memory/skiff/abc")
        try tree.write("memory/skiff/abc/memory.limit_in_bytes", "9223372036854771712\n")
        try tree.write("pids/skiff/abc/pids.current", "3\n")
        try tree.write("pids/skiff/abc/pids.max", "max\n")

        #expect(
            CgroupFiles.directory(for: "cpuacct", cgroup: Self.cgroup, layout: .hybrid, root: tree.root)
                == tree.root + "/cpu,cpuacct/skiff/abc"
        )
        #expect(
            CgroupFiles.directory(for: "cpu", cgroup: Self.cgroup, layout: .legacy, root: tree.root)
                == tree.root + "/cpu,cpuacct/skiff/abc"
        )
        let reader = CgroupReader(layout: .hybrid, root: tree.root)
        let before = WallClock.nanoseconds()
        try Self.expectV1Usage(
            reader.usage(ofCgroup: Self.cgroup),
            before: before,
            after: WallClock.nanoseconds()
        )
        #expect(reader.pids(ofCgroup: Self.cgroup) == [41], "from the memory hierarchy when pids has no cgroup.procs")

        let limits = CgroupFiles.readLimits(ofCgroup: Self.cgroup, layout: .hybrid, root: tree.root)
        #expect(limits.memoryLimit == nil, "v1's page-rounded LONG_MAX means no limit")
        #expect(limits.cpuQuota == nil, "-1 means no quota")
        #expect(limits.cpuPeriod == 100_000)
        #expect(limits.cpuShares == 1024)
        #expect(limits.pidsLimit == nil, "\"max\" means no limit")

        // Most distributions also add a symlink per controller name; the plain name is then used.
        try tree.symlink("cpuacct", to: "cpu,cpuacct")
        try tree.symlink("cpu", to: "cpu,cpuacct")
        #expect(
            CgroupFiles.directory(for: "cpuacct", cgroup: Self.cgroup, layout: .hybrid, root: tree.root)
                == tree.root + "/cpuacct/skiff/abc"
        )
        try Self.expectV1Usage(
            reader.usage(ofCgroup: Self.cgroup),
            before: before,
            after: WallClock.nanoseconds()
        )
        #expect(CgroupFiles.readLimits(ofCgroup: Self.cgroup, layout: .hybrid, root: tree.root).cpuShares == 1024)
    }

    @Test func v1WithOnlySomeControllersLeavesTheOthersNil() throws {
        let tree = try FakeTree()
        defer { tree.remove() }
        try tree.write("memory/skiff/abc/memory.usage_in_bytes", "4096\n")
        try tree.makeDirectory("cpuacct")
        let usage = try #require(CgroupReader(layout: .hybrid, root: tree.root).usage(ofCgroup: Self.cgroup))
        #expect(usage.memoryUsageBytes == 4096)
        #expect(usage.memoryWorkingSetBytes == 4096, "no memory.stat: the working set is the usage")
        #expect(usage.cpuUsageNanos == nil)
        #expect(usage.memoryRSSBytes == nil)
        #expect(usage.pageFaults == nil)
        #expect(usage.majorPageFaults == nil)
        #expect(usage.pids == nil)
        #expect(usage.oomKills == nil)
    }

    // MARK: cgroup v2

    @Test func v2() throws {
        let tree = try FakeTree()
        defer { tree.remove() }
        try tree.write("skiff/abc/cpu.stat", "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n")
        try tree.write("skiff/abc/memory.current", "8388608\n")
        try tree.write(
            "skiff/abc/memory.stat",
            """
            anon 3145728
            file 5242880
            active_file 1048576
            inactive_file 4194304
            pgfault 777
            pgmajfault 9

            """
        )
        try tree.write("skiff/abc/memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n")
        try tree.write("skiff/abc/pids.current", "2\n")
        try tree.write("skiff/abc/cgroup.procs", "300\n200\n")
        try tree.write("skiff/abc/memory.max", "268435456\n")
        try tree.write("skiff/abc/cpu.max", "50000 100000\n")
        try tree.write("skiff/abc/cpu.weight", "39\n")
        try tree.write("skiff/abc/pids.max", "max\n")

        let reader = CgroupReader(layout: .unified, root: tree.root)
        let before = WallClock.nanoseconds()
        let usage = try #require(reader.usage(ofCgroup: Self.cgroup))
        #expect(usage.timestampNanos >= before && usage.timestampNanos <= WallClock.nanoseconds())
        #expect(
            usage
                == CgroupUsage(
                    timestampNanos: usage.timestampNanos,
                    cpuUsageNanos: 2_500_000,
                    memoryUsageBytes: 8_388_608,
                    memoryWorkingSetBytes: 8_388_608 - 4_194_304,
                    memoryRSSBytes: 3_145_728,
                    pageFaults: 777,
                    majorPageFaults: 9,
                    pids: 2,
                    oomKills: 1
                )
        )
        #expect(reader.pids(ofCgroup: Self.cgroup) == [200, 300])
        #expect(reader.pids(ofCgroup: "skiff/abc/") == [200, 300], "the path is relative to the root either way")

        var limits = CgroupFiles.readLimits(ofCgroup: Self.cgroup, layout: .unified, root: tree.root)
        #expect(limits.memoryLimit == 268_435_456)
        #expect(limits.cpuQuota == 50000)
        #expect(limits.cpuPeriod == 100_000)
        #expect(limits.cpuShares == 999, "weight 39 (runc's weight for 1024 shares) converts back to 999")
        #expect(limits.cpuShares.map(CgroupFiles.cpuWeight(fromShares:)) == 39)
        #expect(limits.pidsLimit == nil)

        try tree.write("skiff/abc/memory.max", "max\n")
        try tree.write("skiff/abc/cpu.max", "max 100000\n")
        try tree.write("skiff/abc/pids.max", "64\n")
        limits = CgroupFiles.readLimits(ofCgroup: Self.cgroup, layout: .unified, root: tree.root)
        #expect(limits.memoryLimit == nil)
        #expect(limits.cpuQuota == nil)
        #expect(limits.cpuPeriod == 100_000)
        #expect(limits.pidsLimit == 64)

        for controller in ["memory", "cpu", "pids", "cpuacct"] {
            #expect(
                CgroupFiles.directory(for: controller, cgroup: Self.cgroup, layout: .unified, root: tree.root)
                    == tree.root + "/skiff/abc",
                "one hierarchy: the controller does not matter"
            )
        }
        #expect(CgroupFiles.directory(for: "memory", cgroup: "/", layout: .unified, root: tree.root) == tree.root)
    }

    @Test func v2WorkingSetIsFlooredAtZero() throws {
        let tree = try FakeTree()
        defer { tree.remove() }
        try tree.write("skiff/abc/memory.current", "1000\n")
        try tree.write("skiff/abc/memory.stat", "anon 10\ninactive_file 5000\n")
        let usage = try #require(CgroupReader(layout: .unified, root: tree.root).usage(ofCgroup: Self.cgroup))
        #expect(usage.memoryUsageBytes == 1000)
        #expect(usage.memoryWorkingSetBytes == 0)
        #expect(CgroupReader.workingSet(usage: 10, inactiveFile: 10) == 0)
        #expect(CgroupReader.workingSet(usage: 10, inactiveFile: 3) == 7)
        #expect(CgroupReader.workingSet(usage: 10, inactiveFile: nil) == 10)
    }

    // MARK: missing and malformed

    @Test(arguments: [CgroupLayout.unified, .hybrid, .legacy])
    func aMissingCgroupHasNoUsage(layout: CgroupLayout) throws {
        let tree = try FakeTree()
        defer { tree.remove() }
        try tree.makeDirectory("memory/skiff/other")
        try tree.makeDirectory("skiff/other")
        let reader = CgroupReader(layout: layout, root: tree.root)
        #expect(reader.usage(ofCgroup: Self.cgroup) == nil)
        #expect(reader.pids(ofCgroup: Self.cgroup) == [])
        let limits = CgroupFiles.readLimits(ofCgroup: Self.cgroup, layout: layout, root: tree.root)
        #expect(
            limits.memoryLimit == nil && limits.cpuQuota == nil && limits.cpuPeriod == nil
                && limits.cpuShares == nil && limits.pidsLimit == nil
        )
        #expect(reader.usage(ofCgroup: "/skiff/other/../other") == nil, "a path with .. is refused")
        #expect(reader.pids(ofCgroup: "/../skiff/other") == [])
    }

    @Test func malformedFilesReadAsNil() throws {
        let tree = try FakeTree()
        defer { tree.remove() }
        try tree.write("skiff/abc/memory.current", "lots\n")
        try tree.write("skiff/abc/cpu.stat", "usage_usec\n")
        try tree.write("skiff/abc/pids.current", "")
        try tree.write("skiff/abc/cpu.max", "50000\n")
        try tree.write("skiff/abc/cgroup.procs", "1\nx\n2\n")
        let reader = CgroupReader(layout: .unified, root: tree.root)
        let usage = try #require(reader.usage(ofCgroup: Self.cgroup))
        #expect(usage.memoryUsageBytes == nil && usage.memoryWorkingSetBytes == nil)
        #expect(usage.cpuUsageNanos == nil)
        #expect(usage.pids == nil)
        #expect(reader.pids(ofCgroup: Self.cgroup) == [1, 2])
        let limits = CgroupFiles.readLimits(ofCgroup: Self.cgroup, layout: .unified, root: tree.root)
        #expect(limits.cpuQuota == nil && limits.cpuPeriod == nil)
    }

    @Test func cpuWeightConversionsFollowRuncAndTheKubelet() {
        #expect(CgroupFiles.cpuWeight(fromShares: 2) == 1)
        #expect(CgroupFiles.cpuWeight(fromShares: 1024) == 39)
        #expect(CgroupFiles.cpuWeight(fromShares: 262_144) == 10000)
        #expect(CgroupFiles.cpuShares(fromWeight: 1) == 2)
        #expect(
            CgroupFiles.cpuShares(fromWeight: 39) == 999,
            "the smallest shares with weight 39 (the kubelet's 998 gives 38)"
        )
        #expect(CgroupFiles.cpuShares(fromWeight: 100) == 2598)
        #expect(CgroupFiles.cpuShares(fromWeight: 10000) == 262_144)
        #expect(CgroupFiles.cpuShares(fromWeight: 0) == 2, "out-of-range weights are clamped")
        let lossy = (1...10000 as ClosedRange<UInt64>).filter {
            CgroupFiles.cpuWeight(fromShares: CgroupFiles.cpuShares(fromWeight: $0)) != $0
        }
        #expect(lossy.prefix(5) == [], "every weight survives a round trip through shares")
    }
}

// MARK: - Real cgroups on this machine

/// The reader against the kernel's own files: a process moved into fresh cgroups of this node's
/// layout, and a private cgroup2 mount. Needs root; every cgroup and mount is removed in a defer.
private let runningAsRoot = getuid() == 0

@Suite(.serialized) struct CgroupStatsRealTests {
    static func randomSuffix() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }

    @Test(.enabled(if: runningAsRoot, "creating cgroups needs root"))
    func aSleepingProcessInFreshCgroups() throws {
        let mounts = try MountTable.current()
        let layout = try #require(CgroupLayout.detect(in: mounts), "no cgroup filesystem at /sys/fs/cgroup")
        let path = "/skiff-stats-test-\(Self.randomSuffix())"
        let directories: [String]
        if layout == .unified {
            directories = [CgroupFiles.directory(for: "", cgroup: path, layout: layout)]
        } else {
            let mounted = CgroupLayout.v1Controllers(in: mounts)
            try #require(mounted.contains("memory"), "this node has no v1 memory controller")
            directories = ["memory", "pids", "cpuacct"].filter(mounted.contains)
                .map { CgroupFiles.directory(for: $0, cgroup: path, layout: layout) }
        }

        var created: [String] = []
        var child: SpawnedChild?
        defer {
            child?.killAndReap()
            for directory in created.reversed() { Self.removeCgroup(directory) }
        }
        for directory in directories {
            guard mkdir(directory, 0o755) == 0 else {
                throw SystemCallError("mkdir", directory, errno: errno)
            }
            created.append(directory)
        }

        let reader = CgroupReader(layout: layout)
        let empty = try #require(reader.usage(ofCgroup: path))
        #expect(reader.pids(ofCgroup: path) == [])
        if layout != .unified, directories.contains(where: { $0.hasSuffix("/pids" + path) }) {
            #expect(empty.pids == 0)
        }

        // The shell waits for a line before exec'ing sleep, so sleep's memory is charged to the
        // new cgroups, not to the ones it was started in.
        child = try SpawnedChild(["/bin/sh", "-c", "read line; exec sleep 5"])
        let pid = child!.pid
        for directory in directories {
            try Self.writeFile(directory + "/cgroup.procs", "\(pid)\n")
        }
        try child!.release()
        #expect(reader.pids(ofCgroup: path) == [pid])

        let usage = try #require(
            Self.poll(reader, path) { ($0.memoryUsageBytes ?? 0) > 0 && ($0.cpuUsageNanos ?? 0) > 0 }
        )
        let controllers =
            layout == .unified
            ? Set(
                (CgroupFiles.readText(directories[0] + "/cgroup.controllers") ?? "").split(separator: " ").map {
                    String($0.filter { !$0.isNewline })
                }
            )
            : CgroupLayout.v1Controllers(in: mounts)
        if controllers.contains("memory") {
            #expect((usage.memoryUsageBytes ?? 0) > 0)
            #expect(usage.memoryWorkingSetBytes != nil)
            #expect(usage.memoryWorkingSetBytes! <= usage.memoryUsageBytes!)
            #expect(usage.memoryRSSBytes != nil)
            #expect(usage.pageFaults != nil)
            #expect(usage.oomKills == 0)
        }
        if controllers.contains("pids") { #expect(usage.pids == 1) }
        if layout == .unified || controllers.contains("cpuacct") { #expect((usage.cpuUsageNanos ?? 0) > 0) }

        let limits = CgroupFiles.readLimits(ofCgroup: path, layout: layout)
        #expect(limits.memoryLimit == nil, "a fresh cgroup has no memory limit")
        #expect(limits.cpuQuota == nil)
        #expect(limits.pidsLimit == nil)

        child!.killAndReap()
        #expect(reader.pids(ofCgroup: path) == [])
    }

    @Test(.enabled(if: runningAsRoot, "mounting cgroup2 needs root"))
    func aPrivateCgroup2Mount() throws {
        let mountPoint = "/tmp/skiff-cg2-\(Self.randomSuffix())"
        guard mkdir(mountPoint, 0o700) == 0 else { throw SystemCallError("mkdir", mountPoint, errno: errno) }
        var mounted = false
        var cgroupDirectory: String?
        var child: SpawnedChild?
        defer {
            child?.killAndReap()
            if let cgroupDirectory { Self.removeCgroup(cgroupDirectory) }
            if mounted { try? FileSystem.unmount(mountPoint) }
            rmdir(mountPoint)
        }
        guard mount("none", mountPoint, "cgroup2", 0, nil) == 0 else {
            throw SystemCallError("mount cgroup2", mountPoint, errno: errno)
        }
        mounted = true

        let path = "/skiff-stats-test-\(Self.randomSuffix())"
        let directory = mountPoint + path
        guard mkdir(directory, 0o755) == 0 else { throw SystemCallError("mkdir", directory, errno: errno) }
        cgroupDirectory = directory

        let reader = CgroupReader(layout: .unified, root: mountPoint)
        #expect(reader.usage(ofCgroup: path + "-missing") == nil)
        child = try SpawnedChild(["/bin/sh", "-c", "read line; exec sleep 5"])
        let pid = child!.pid
        try Self.writeFile(directory + "/cgroup.procs", "\(pid)\n")
        try child!.release()
        #expect(reader.pids(ofCgroup: path) == [pid])

        // On a hybrid node the v2 hierarchy has no controllers: only the core files (cpu.stat
        // among them) exist, and every figure without a file must come back nil.
        let usage = try #require(reader.usage(ofCgroup: path))
        func exists(_ name: String) -> Bool { FileSystem.exists(directory + "/" + name) }
        #expect((usage.cpuUsageNanos != nil) == exists("cpu.stat"))
        #expect((usage.memoryUsageBytes != nil) == exists("memory.current"))
        #expect((usage.memoryWorkingSetBytes != nil) == exists("memory.current"))
        #expect((usage.memoryRSSBytes != nil) == exists("memory.stat"))
        #expect((usage.oomKills != nil) == exists("memory.events"))
        #expect((usage.pids != nil) == exists("pids.current"))
        if exists("pids.current") { #expect(usage.pids == 1) }

        let limits = CgroupFiles.readLimits(ofCgroup: path, layout: .unified, root: mountPoint)
        #expect(limits.memoryLimit == nil && limits.cpuQuota == nil && limits.pidsLimit == nil)
        #expect((limits.cpuPeriod != nil) == exists("cpu.max"))

        child!.killAndReap()
        #expect(reader.pids(ofCgroup: path) == [])
    }

    // MARK: helpers

    /// Reads until `done` holds or two seconds pass; the last reading either way.
    static func poll(_ reader: CgroupReader, _ path: String, until done: (CgroupUsage) -> Bool) -> CgroupUsage? {
        var usage = reader.usage(ofCgroup: path)
        for _ in 0..<200 {
            if let current = usage, done(current) { break }
            usleep(10_000)
            usage = reader.usage(ofCgroup: path)
        }
        return usage
    }

    /// cgroupfs files are written with one write(2), in place (no temporary file and rename).
    static func writeFile(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open", path, errno: errno) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw SystemCallError("write", path, errno: errno) }
    }

    /// rmdir, retried briefly: a cgroup can stay busy for a moment after its last task exits.
    static func removeCgroup(_ directory: String) {
        for _ in 0..<100 {
            if rmdir(directory) == 0 || errno == ENOENT { return }
            usleep(20_000)
        }
        Issue.record("could not remove cgroup \(directory): errno \(errno)")
    }
}

/// A child started with posix_spawn whose stdin is a pipe, so the test decides when it goes on.
/// Reaped by polling waitpid (WNOHANG) and kill(pid, 0), never by blocking.
final class SpawnedChild {
    let pid: pid_t
    private var stdinWriter: Int32
    /// Once reaped the pid may be reused by another process, so it is never signalled again.
    private var gone = false

    init(_ arguments: [String]) throws {
        var fds: [Int32] = [0, 0]
        // Glibc's module lacks pipe2; the brief window before FD_CLOEXEC is harmless here (the
        // child is killed, never waited on for EOF).
        guard pipe(&fds) == 0 else { throw SystemCallError("pipe", "", errno: errno) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        defer { close(fds[0]) }
        stdinWriter = fds[1]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
        // Nothing else of the test process: other tests' pipes and Foundation's exit-notification
        // socket kept open in this child delayed their EOFs and exits.
        skiff_spawn_addclosefrom(&actions, 3)
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, arguments[0], &actions, nil, argv, environ)
        guard result == 0 else {
            close(fds[1])
            throw SystemCallError("posix_spawn", arguments[0], errno: result)
        }
        pid = child
    }

    /// Sends the line the child waits for.
    func release() throws {
        let line = Array("go\n".utf8)
        guard write(stdinWriter, line, line.count) == line.count else {
            throw SystemCallError("write", "stdin", errno: errno)
        }
    }

    /// SIGKILL, then waits (up to five seconds) until the child is reaped or gone. Idempotent.
    func killAndReap() {
        if stdinWriter >= 0 {
            close(stdinWriter)
            stdinWriter = -1
        }
        guard !gone else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        for _ in 0..<500 {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid || (reaped < 0 && errno == ECHILD) || (kill(pid, 0) != 0 && errno == ESRCH) {
                gone = true
                return
            }
            usleep(10_000)
        }
    }

    deinit { killAndReap() }
}
