import LinuxSys

/// A container's cgroup read for the CRI metrics (`CgroupMetricsReading`), on cgroup v1
/// (hybrid or legacy) and v2, from the files cAdvisor reads for the same metrics.
///
/// | reading | cgroup v1 | cgroup v2 |
/// |---|---|---|
/// | CPU total, user, system | cpuacct.usage, cpuacct.usage_user, cpuacct.usage_sys (else cpuacct.stat ticks) | cpu.stat usage_usec, user_usec, system_usec |
/// | CFS periods, throttling | cpu/cpu.stat nr_periods, nr_throttled, throttled_time | cpu.stat nr_periods, nr_throttled, throttled_usec |
/// | memory usage, peak, failures | memory.usage_in_bytes, max_usage_in_bytes, failcnt | memory.current, memory.peak, memory.events max |
/// | RSS, cache, mapped, working set | memory.stat total_rss, total_cache, total_mapped_file, usage − total_inactive_file | memory.stat anon, file, file_mapped, current − inactive_file |
/// | swap | memory.memsw.usage_in_bytes − usage (else 0: no swap accounting) | memory.swap.current |
/// | kernel | memory.kmem.usage_in_bytes | memory.stat kernel (else kernel_stack + pagetables + slab + sock + percpu + vmalloc) |
/// | OOM kills | memory.oom_control oom_kill | memory.events oom_kill |
/// | block I/O | blkio.throttle.io_service_bytes_recursive, io_serviced_recursive | io.stat |
/// | threads | pids.current, pids.max | pids.current, pids.max |
/// | spec | cpu.cfs_period_us, cfs_quota_us, shares; memory.limit_in_bytes, soft_limit_in_bytes, memsw.limit_in_bytes | cpu.max, cpu.weight (as shares); memory.max, memory.low, memory.swap.max |
extension CgroupReader {
    /// The reading of the cgroup at `path` (runc's `linux.cgroupsPath` with the cgroupfs
    /// driver); nil when the cgroup does not exist.
    public func metrics(ofCgroup path: String) -> CgroupMetricsReading? {
        guard CgroupFiles.isConfined(path) else { return nil }
        var reading: CgroupMetricsReading?
        switch layout {
        case .unified: reading = readUnified(path)
        case .hybrid, .legacy: reading = readV1(path)
        }
        reading?.processes = CgroupFiles.processes(ofCgroup: path, layout: layout, root: root)
        return reading
    }

    // MARK: cgroup v1

    private func readV1(_ path: String) -> CgroupMetricsReading? {
        let cpuacct = directory("cpuacct", path)
        let cpu = directory("cpu", path)
        let memory = directory("memory", path)
        let pids = directory("pids", path)
        let blkio = directory("blkio", path)
        guard [cpuacct, memory, pids].contains(where: { FileSystem.exists($0 + "/cgroup.procs") }) else { return nil }
        var reading = CgroupMetricsReading()

        reading.cpu.total = unsigned(cpuacct + "/cpuacct.usage")
        reading.cpu.user = unsigned(cpuacct + "/cpuacct.usage_user")
        reading.cpu.system = unsigned(cpuacct + "/cpuacct.usage_sys")
        if reading.cpu.user == nil || reading.cpu.system == nil, let ticks = keyed(cpuacct + "/cpuacct.stat") {
            // USER_HZ is 100 on every Linux architecture (it is part of the ABI).
            reading.cpu.user = ticks["user"].map { $0 &* 10_000_000 }
            reading.cpu.system = ticks["system"].map { $0 &* 10_000_000 }
        }
        let throttling = keyed(cpu + "/cpu.stat")
        reading.cpu.periods = throttling?["nr_periods"]
        reading.cpu.throttledPeriods = throttling?["nr_throttled"]
        reading.cpu.throttledTime = throttling?["throttled_time"]

        let stat = keyed(memory + "/memory.stat")
        let usage = unsigned(memory + "/memory.usage_in_bytes")
        reading.memory.usage = usage
        reading.memory.maxUsage = unsigned(memory + "/memory.max_usage_in_bytes")
        reading.memory.workingSet = usage.map {
            CgroupReader.workingSet(usage: $0, inactiveFile: stat?["total_inactive_file"])
        }
        reading.memory.rss = stat?["total_rss"]
        reading.memory.cache = stat?["total_cache"]
        reading.memory.mappedFile = stat?["total_mapped_file"]
        if let usage {
            if let withSwap = unsigned(memory + "/memory.memsw.usage_in_bytes") {
                reading.memory.swap = withSwap > usage ? withSwap - usage : 0
            } else {
                reading.memory.swap = stat?["total_swap"] ?? 0
            }
        }
        reading.memory.kernel = unsigned(memory + "/memory.kmem.usage_in_bytes")
        reading.memory.failcnt = unsigned(memory + "/memory.failcnt")
        reading.memory.pageFaults = faults(stat?["pgfault"], stat?["total_pgfault"])
        reading.memory.majorPageFaults = faults(stat?["pgmajfault"], stat?["total_pgmajfault"])
        reading.memory.oomKills = keyed(memory + "/memory.oom_control")?["oom_kill"]

        if let bytes = text(blkio + "/blkio.throttle.io_service_bytes_recursive"),
            let operations = text(blkio + "/blkio.throttle.io_serviced_recursive")
        {
            reading.io = CgroupMetricsReading.parseBlkio(bytes: bytes, operations: operations)
        }
        reading.threads = unsigned(pids + "/pids.current")
        reading.threadsMax = limit(pids + "/pids.max")

        reading.spec.cpuPeriod = unsigned(cpu + "/cpu.cfs_period_us")
        reading.spec.cpuQuota = CgroupFiles.readSigned(cpu + "/cpu.cfs_quota_us").flatMap { $0 > 0 ? UInt64($0) : nil }
        reading.spec.cpuShares = unsigned(cpu + "/cpu.shares")
        reading.spec.memoryLimit = v1Memory(memory + "/memory.limit_in_bytes")
        reading.spec.memoryReservation = v1Memory(memory + "/memory.soft_limit_in_bytes")
        reading.spec.memorySwapLimit = v1Memory(memory + "/memory.memsw.limit_in_bytes")
        return reading
    }

    /// A v1 memory limit, 0 for the kernel's "no limit" (LONG_MAX rounded to a page).
    private func v1Memory(_ file: String) -> UInt64? {
        unsigned(file).map { $0 >= CgroupFiles.v1MemoryUnlimited ? 0 : $0 }
    }

    // MARK: cgroup v2

    private func readUnified(_ path: String) -> CgroupMetricsReading? {
        let directory = directory("", path)
        guard FileSystem.exists(directory + "/cgroup.procs") else { return nil }
        func file(_ name: String) -> String { directory + "/" + name }
        var reading = CgroupMetricsReading()

        let cpu = keyed(file("cpu.stat"))
        let micros: (String) -> UInt64? = { key in cpu?[Substring(key)].map { $0 &* 1000 } }
        reading.cpu.total = micros("usage_usec")
        reading.cpu.user = micros("user_usec")
        reading.cpu.system = micros("system_usec")
        reading.cpu.periods = cpu?["nr_periods"]
        reading.cpu.throttledPeriods = cpu?["nr_throttled"]
        reading.cpu.throttledTime = micros("throttled_usec")

        let stat = keyed(file("memory.stat"))
        let events = keyed(file("memory.events"))
        let usage = unsigned(file("memory.current"))
        reading.memory.usage = usage
        reading.memory.maxUsage = unsigned(file("memory.peak"))
        reading.memory.workingSet = usage.map {
            CgroupReader.workingSet(usage: $0, inactiveFile: stat?["inactive_file"])
        }
        reading.memory.rss = stat?["anon"]
        reading.memory.cache = stat?["file"]
        reading.memory.mappedFile = stat?["file_mapped"]
        reading.memory.swap = unsigned(file("memory.swap.current")) ?? (usage == nil ? nil : 0)
        reading.memory.kernel =
            stat?["kernel"]
            ?? stat.map { stat in
                ["kernel_stack", "pagetables", "slab", "sock", "percpu", "vmalloc"].reduce(0) {
                    $0 &+ (stat[Substring($1)] ?? 0)
                }
            }
        reading.memory.failcnt = events?["max"]
        reading.memory.pageFaults = stat?["pgfault"].map { CgroupMetricsReading.Faults(container: $0, hierarchy: $0) }
        reading.memory.majorPageFaults = stat?["pgmajfault"].map {
            CgroupMetricsReading.Faults(container: $0, hierarchy: $0)
        }
        reading.memory.oomKills = events?["oom_kill"]

        if let io = text(file("io.stat")) { reading.io = CgroupMetricsReading.parseIOStat(io) }
        reading.threads = unsigned(file("pids.current"))
        reading.threadsMax = limit(file("pids.max"))

        if let fields = text(file("cpu.max"))?.split(whereSeparator: \.isWhitespace), fields.count == 2 {
            reading.spec.cpuQuota = UInt64(fields[0])
            reading.spec.cpuPeriod = UInt64(fields[1])
        }
        reading.spec.cpuShares = unsigned(file("cpu.weight")).map(CgroupFiles.cpuShares(fromWeight:))
        reading.spec.memoryLimit = limit(file("memory.max"))
        reading.spec.memoryReservation = limit(file("memory.low"))
        reading.spec.memorySwapLimit = limit(file("memory.swap.max"))
        return reading
    }

    // MARK: Files

    private func text(_ file: String) -> String? { CgroupFiles.readText(file) }
    private func unsigned(_ file: String) -> UInt64? { CgroupFiles.readUnsigned(file) }
    private func keyed(_ file: String) -> [Substring: UInt64]? { CgroupFiles.readKeyed(file) }

    /// A limit file holding a number or "max"; "max" reads as 0, cAdvisor's "no limit".
    private func limit(_ file: String) -> UInt64? {
        guard let value = text(file) else { return nil }
        let trimmed = value.split(whereSeparator: \.isWhitespace).first ?? ""
        return trimmed == "max" ? 0 : UInt64(trimmed)
    }

    private func faults(_ own: UInt64?, _ hierarchy: UInt64?) -> CgroupMetricsReading.Faults? {
        guard let hierarchy else { return nil }
        return .init(container: own ?? hierarchy, hierarchy: hierarchy)
    }
}
