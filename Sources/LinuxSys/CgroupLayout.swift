/// How the node's cgroup filesystems are arranged, which decides where Skiff writes limits
/// and reads stats.
public enum CgroupLayout: String, Sendable, Equatable {
    /// cgroup2 alone at /sys/fs/cgroup (most current distributions).
    case unified
    /// cgroup v1 controllers, with an (often empty) cgroup2 tree at /sys/fs/cgroup/unified.
    case hybrid
    /// cgroup v1 controllers only.
    case legacy

    public static func detect(in mounts: MountTable, root: String = "/sys/fs/cgroup") -> CgroupLayout? {
        if mounts.entries.contains(where: { $0.mountPoint == root && $0.fileSystemType == "cgroup2" }) {
            return .unified
        }
        let hasV1 = mounts.entries.contains { $0.fileSystemType == "cgroup" && $0.mountPoint.hasPrefix(root + "/") }
        guard hasV1 else { return nil }
        let hasV2 = mounts.entries.contains { $0.fileSystemType == "cgroup2" && $0.mountPoint.hasPrefix(root + "/") }
        return hasV2 ? .hybrid : .legacy
    }

    /// The cgroup v1 controllers mounted (cpu, memory, pids, …), from the mounts' options.
    public static func v1Controllers(in mounts: MountTable) -> Set<String> {
        let known: Set<String> = [
            "cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "devices", "freezer",
            "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc",
        ]
        var found = Set<String>()
        for entry in mounts.entries(ofType: "cgroup") {
            found.formUnion(entry.superOptions.filter(known.contains))
        }
        return found
    }
}
