import LinuxSys

/// Where a container's cgroup files are, and the resource limits they hold, for both cgroup
/// versions. Pure path arithmetic and reads: nothing here writes to the kernel (the OCI runtime
/// applies limits from the spec's `linux.resources`).
///
/// Cgroup paths are those runc is given in `linux.cgroupsPath` with the cgroupfs driver
/// ("/skiff/abc"), taken relative to the hierarchy root.
public enum CgroupFiles {
    /// The directory holding `controller`'s files for the cgroup at `path`.
    ///
    /// - cgroup v2 (`.unified`): one hierarchy, so `root/path` whatever the controller.
    /// - cgroup v1 (`.hybrid`, `.legacy`): `root/controller/path`. Distributions often mount
    ///   cpu and cpuacct (and net_cls and net_prio) as one hierarchy named "cpu,cpuacct", usually
    ///   with symlinks for each name; when `root/controller` is absent the co-mounted name is
    ///   used.
    ///
    /// Empty and "." components of `path` are dropped, and so are ".." ones, so the result never
    /// leaves the hierarchy; `CgroupReader` and `readLimits` refuse a path with ".." outright.
    public static func directory(
        for controller: String,
        cgroup path: String,
        layout: CgroupLayout,
        root: String = "/sys/fs/cgroup"
    ) -> String {
        let relative = components(of: path)
        let base: String
        switch layout {
        case .unified:
            base = root
        case .hybrid, .legacy:
            base = root + "/" + v1Hierarchy(of: controller, root: root)
        }
        return relative.isEmpty ? base : base + "/" + relative.joined(separator: "/")
    }

    /// The processes in the cgroup at `path` and the cgroups below it (cgroup.procs; the pids
    /// hierarchy on v1, where every container has one), empty when it is gone.
    public static func processes(
        ofCgroup path: String,
        layout: CgroupLayout,
        root: String = "/sys/fs/cgroup"
    ) -> [Int32] {
        guard isConfined(path) else { return [] }
        let controllers = layout == .unified ? ["pids"] : ["pids", "memory", "cpu"]
        for controller in controllers {
            let top = directory(for: controller, cgroup: path, layout: layout, root: root)
            guard FileSystem.exists(top + "/cgroup.procs") else { continue }
            var found: [Int32] = []
            var pending = [top]
            while let directory = pending.popLast() {
                found += (readText(directory + "/cgroup.procs") ?? "").split(separator: "\n").compactMap { Int32($0) }
                for entry in FileSystem.directoryEntries(directory) ?? []
                where FileSystem.exists("\(directory)/\(entry)/cgroup.procs") {
                    pending.append("\(directory)/\(entry)")
                }
            }
            return found
        }
        return []
    }

    /// The limits set on the cgroup at `path`; a field is nil when its file is missing or
    /// unreadable, or when it holds the kernel's "no limit" value ("max", -1, or v1's
    /// page-rounded LONG_MAX for memory).
    ///
    /// On cgroup v2, `cpuShares` is converted back from `cpu.weight` (see `cpuShares(fromWeight:)`).
    public static func readLimits(
        ofCgroup path: String,
        layout: CgroupLayout,
        root: String = "/sys/fs/cgroup"
    )
        -> (memoryLimit: UInt64?, cpuQuota: Int64?, cpuPeriod: UInt64?, cpuShares: UInt64?, pidsLimit: Int64?)
    {
        guard isConfined(path) else { return (nil, nil, nil, nil, nil) }
        func file(_ controller: String, _ name: String) -> String {
            directory(for: controller, cgroup: path, layout: layout, root: root) + "/" + name
        }
        switch layout {
        case .hybrid, .legacy:
            let memory = readUnsigned(file("memory", "memory.limit_in_bytes")).flatMap {
                $0 >= v1MemoryUnlimited ? nil : $0
            }
            let quota = readSigned(file("cpu", "cpu.cfs_quota_us")).flatMap { $0 < 0 ? nil : $0 }
            return (
                memory, quota, readUnsigned(file("cpu", "cpu.cfs_period_us")),
                readUnsigned(file("cpu", "cpu.shares")), readSigned(file("pids", "pids.max"))
            )
        case .unified:
            let memory = readUnsigned(file("memory", "memory.max"))
            var quota: Int64?
            var period: UInt64?
            if let fields = readText(file("cpu", "cpu.max"))?.split(whereSeparator: \.isWhitespace), fields.count == 2 {
                quota = fields[0] == "max" ? nil : Int64(fields[0])
                period = UInt64(fields[1])
            }
            let shares = readUnsigned(file("cpu", "cpu.weight")).map(cpuShares(fromWeight:))
            return (memory, quota, period, shares, readSigned(file("pids", "pids.max")))
        }
    }

    /// runc's (before 1.3.2) and crun's (before 1.23) conversion of OCI `cpu.shares` [2, 262144]
    /// to cgroup v2 `cpu.weight` [1, 10000]: `1 + ((shares - 2) * 9999) / 262142`.
    public static func cpuWeight(fromShares shares: UInt64) -> UInt64 {
        let clamped = min(max(shares, 2), 262_144)
        return 1 + ((clamped - 2) * 9999) / 262_142
    }

    /// The inverse of `cpuWeight(fromShares:)`: the smallest share count runc turns into
    /// `weight`, `2 + ⌈(weight - 1) * 262142 / 9999⌉`. The forward conversion loses precision,
    /// so this gives back a share count with the same weight, not necessarily the one written
    /// (1024 → 39 → 999). The kubelet and cAdvisor round down instead (39 → 998), which lands
    /// on the weight below (998 → 38); rounding up makes every weight survive a round trip.
    public static func cpuShares(fromWeight weight: UInt64) -> UInt64 {
        let clamped = min(max(weight, 1), 10_000)
        return 2 + ((clamped - 1) * 262_142 + 9998) / 9999
    }
}

// MARK: - Paths and parsing shared with CgroupReader

extension CgroupFiles {
    /// v1 hierarchies that are commonly mounted together, under a directory named after both.
    static let coMountedHierarchies: [String: String] = [
        "cpu": "cpu,cpuacct", "cpuacct": "cpu,cpuacct",
        "net_cls": "net_cls,net_prio", "net_prio": "net_cls,net_prio",
    ]

    /// memory.limit_in_bytes with no limit reads LONG_MAX rounded down to a page (9223372036854771712
    /// with 4 KiB pages); anything this close to it is treated as "no limit" for any page size.
    static let v1MemoryUnlimited: UInt64 = UInt64(Int64.max) - (1 << 20)

    static func v1Hierarchy(of controller: String, root: String) -> String {
        if let coMounted = coMountedHierarchies[controller], !FileSystem.exists(root + "/" + controller),
            FileSystem.exists(root + "/" + coMounted)
        {
            return coMounted
        }
        return controller
    }

    static func components(of path: String) -> [Substring] {
        path.split(separator: "/").filter { $0 != "." && $0 != ".." }
    }

    /// False for a path with a ".." component, which could name a directory outside the hierarchy.
    static func isConfined(_ path: String) -> Bool {
        !path.split(separator: "/").contains("..")
    }

    /// The text of a cgroup file; nil when it cannot be read, as the readers above document.
    static func readText(_ path: String, limit: Int = 1 << 20) -> String? {
        // try?: cgroups vanish with their containers (ENOENT, ENODEV): stats and limits are then unknown.
        try? FileSystem.readText(path, limit: limit)
    }

    /// A file holding one unsigned number ("1234\n").
    static func readUnsigned(_ path: String) -> UInt64? {
        readText(path).flatMap { UInt64($0.trimmingWhitespace()) }
    }

    /// A file holding one signed number ("-1\n"); nil for anything else, such as "max".
    static func readSigned(_ path: String) -> Int64? {
        readText(path).flatMap { Int64($0.trimmingWhitespace()) }
    }

    /// A flat-keyed file ("key value" lines: memory.stat, cpu.stat, memory.events, memory.oom_control).
    static func readKeyed(_ path: String) -> [Substring: UInt64]? {
        guard let text = readText(path) else { return nil }
        var values: [Substring: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let value = UInt64(fields[1]) { values[fields[0]] = value }
        }
        return values
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> Substring {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
            let last = lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return self[first...last]
    }
}
