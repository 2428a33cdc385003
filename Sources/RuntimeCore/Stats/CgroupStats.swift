import LinuxSys

#if canImport(Glibc)
import Glibc
#endif

/// One reading of a cgroup's usage counters, as the CRI's ContainerStats wants them. A field is
/// nil when this node does not expose it (controller not enabled, older kernel).
public struct CgroupUsage: Sendable, Equatable {
    /// When the reading was taken, in nanoseconds since the epoch (CLOCK_REALTIME).
    public var timestampNanos: Int64
    /// Cumulative CPU time of all tasks, in nanoseconds.
    public var cpuUsageNanos: UInt64?
    /// All memory charged to the cgroup, page cache included.
    public var memoryUsageBytes: UInt64?
    /// Usage minus inactive file pages, floored at 0: what the kubelet evicts on.
    public var memoryWorkingSetBytes: UInt64?
    /// Anonymous memory (v1 total_rss, v2 anon).
    public var memoryRSSBytes: UInt64?
    public var pageFaults: UInt64?
    public var majorPageFaults: UInt64?
    /// Tasks (threads included) in the cgroup, from pids.current.
    public var pids: UInt64?
    /// Times the OOM killer killed a task in this cgroup (or below it).
    public var oomKills: UInt64?

    public init(
        timestampNanos: Int64,
        cpuUsageNanos: UInt64? = nil,
        memoryUsageBytes: UInt64? = nil,
        memoryWorkingSetBytes: UInt64? = nil,
        memoryRSSBytes: UInt64? = nil,
        pageFaults: UInt64? = nil,
        majorPageFaults: UInt64? = nil,
        pids: UInt64? = nil,
        oomKills: UInt64? = nil
    ) {
        self.timestampNanos = timestampNanos
        self.cpuUsageNanos = cpuUsageNanos
        self.memoryUsageBytes = memoryUsageBytes
        self.memoryWorkingSetBytes = memoryWorkingSetBytes
        self.memoryRSSBytes = memoryRSSBytes
        self.pageFaults = pageFaults
        self.majorPageFaults = majorPageFaults
        self.pids = pids
        self.oomKills = oomKills
    }
}

/// Reads containers' usage from the cgroup filesystem, for cgroup v1 (hybrid or legacy) and v2,
/// computing the same figures as the kubelet's cAdvisor does.
///
/// | figure | cgroup v1 | cgroup v2 |
/// |---|---|---|
/// | CPU | cpuacct/…/cpuacct.usage | cpu.stat usage_usec × 1000 |
/// | memory usage | memory/…/memory.usage_in_bytes | memory.current |
/// | working set | usage − memory.stat total_inactive_file | memory.current − memory.stat inactive_file |
/// | RSS, faults | memory.stat total_rss, total_pgfault, total_pgmajfault | memory.stat anon, pgfault, pgmajfault |
/// | OOM kills | memory.oom_control oom_kill | memory.events oom_kill |
/// | tasks | pids/…/pids.current | pids.current |
public struct CgroupReader: Sendable {
    public let layout: CgroupLayout
    public let root: String

    public init(layout: CgroupLayout, root: String = "/sys/fs/cgroup") {
        self.layout = layout
        self.root = root
    }

    /// The usage of the cgroup at `path` (as given to runc in `linux.cgroupsPath` with the
    /// cgroupfs driver, e.g. "/skiff/abc"); nil when the cgroup does not exist.
    public func usage(ofCgroup path: String) -> CgroupUsage? {
        guard CgroupFiles.isConfined(path) else { return nil }
        switch layout {
        case .unified: return unifiedUsage(path)
        case .hybrid, .legacy: return v1Usage(path)
        }
    }

    /// The processes in the cgroup at `path` (cgroup.procs), sorted; empty when it does not
    /// exist. On cgroup v1 they are read from the pids hierarchy, else memory, else cpuacct.
    public func pids(ofCgroup path: String) -> [Int32] {
        guard CgroupFiles.isConfined(path) else { return [] }
        let controllers = layout == .unified ? ["pids"] : ["pids", "memory", "cpuacct"]
        for controller in controllers {
            let file = directory(controller, path) + "/cgroup.procs"
            guard let text = CgroupFiles.readText(file, limit: 16 << 20) else { continue }
            // v1's cgroup.procs is neither sorted nor guaranteed free of duplicates.
            return Set(text.split(separator: "\n").compactMap { Int32($0) }).sorted()
        }
        return []
    }

    /// The directory of `controller`'s files for the cgroup at `path` (also read by `+Metrics`).
    func directory(_ controller: String, _ path: String) -> String {
        CgroupFiles.directory(for: controller, cgroup: path, layout: layout, root: root)
    }

    private func v1Usage(_ path: String) -> CgroupUsage? {
        let memory = directory("memory", path)
        let cpuacct = directory("cpuacct", path)
        let pids = directory("pids", path)
        // Follows symlinks: a v1 hierarchy such as "cpuacct" is often a link to "cpu,cpuacct".
        guard [memory, cpuacct, pids].contains(where: { FileSystem.isDirectory($0) }) else { return nil }
        let timestamp = WallClock.nanoseconds()
        let stat = CgroupFiles.readKeyed(memory + "/memory.stat")
        let usage = CgroupFiles.readUnsigned(memory + "/memory.usage_in_bytes")
        return CgroupUsage(
            timestampNanos: timestamp,
            cpuUsageNanos: CgroupFiles.readUnsigned(cpuacct + "/cpuacct.usage"),
            memoryUsageBytes: usage,
            memoryWorkingSetBytes: usage.map { Self.workingSet(usage: $0, inactiveFile: stat?["total_inactive_file"]) },
            memoryRSSBytes: stat?["total_rss"],
            pageFaults: stat?["total_pgfault"],
            majorPageFaults: stat?["total_pgmajfault"],
            pids: CgroupFiles.readUnsigned(pids + "/pids.current"),
            oomKills: CgroupFiles.readKeyed(memory + "/memory.oom_control")?["oom_kill"]
        )
    }

    private func unifiedUsage(_ path: String) -> CgroupUsage? {
        let directory = directory("", path)
        guard FileSystem.isDirectory(directory) else { return nil }
        let timestamp = WallClock.nanoseconds()
        let stat = CgroupFiles.readKeyed(directory + "/memory.stat")
        let usage = CgroupFiles.readUnsigned(directory + "/memory.current")
        let cpuMicros = CgroupFiles.readKeyed(directory + "/cpu.stat")?["usage_usec"]
        return CgroupUsage(
            timestampNanos: timestamp,
            cpuUsageNanos: cpuMicros.map { $0.multipliedReportingOverflow(by: 1000).partialValue },
            memoryUsageBytes: usage,
            memoryWorkingSetBytes: usage.map { Self.workingSet(usage: $0, inactiveFile: stat?["inactive_file"]) },
            memoryRSSBytes: stat?["anon"],
            pageFaults: stat?["pgfault"],
            majorPageFaults: stat?["pgmajfault"],
            pids: CgroupFiles.readUnsigned(directory + "/pids.current"),
            oomKills: CgroupFiles.readKeyed(directory + "/memory.events")?["oom_kill"]
        )
    }

    /// cAdvisor's working set: usage less the inactive file pages the kernel can reclaim first;
    /// usage itself when memory.stat has no such line.
    static func workingSet(usage: UInt64, inactiveFile: UInt64?) -> UInt64 {
        guard let inactiveFile else { return usage }
        return usage > inactiveFile ? usage - inactiveFile : 0
    }
}
