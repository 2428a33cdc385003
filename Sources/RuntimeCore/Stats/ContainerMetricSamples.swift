import LinuxSys

/// Turns what was read of a pod and its containers into metric samples, with cAdvisor's labels
/// (`ContainerMetric.baseLabelKeys`). Pure: the readings come in, so it is tested without a node.
enum ContainerMetricSamples {
    /// The container's writable layer and the filesystem it is on.
    struct Filesystem: Sendable {
        var device: String
        var usedBytes: UInt64
        var capacity: FileSystem.Capacity?
    }

    static func baseLabels(of container: Container, in sandbox: PodSandbox) -> [String] {
        [container.name, container.cgroupsPath, container.image, container.id, sandbox.namespace, sandbox.name]
    }

    /// Pod-level metrics have no container or image; the pod is named by its sandbox ID.
    static func baseLabels(of sandbox: PodSandbox) -> [String] {
        ["", sandbox.cgroupParent ?? "", "", sandbox.id, sandbox.namespace, sandbox.name]
    }

    /// The pod's network counters, one series per interface (loopback excluded).
    static func pod(_ sandbox: PodSandbox, interfaces: [InterfaceCounters]) -> [MetricSample] {
        var list = MetricSampleList(baseLabelValues: baseLabels(of: sandbox))
        for counters in interfaces {
            list.add(.receiveBytes, counters.rxBytes, counters.name)
            list.add(.receivePackets, counters.rxPackets, counters.name)
            list.add(.receiveDropped, counters.rxDropped, counters.name)
            list.add(.receiveErrors, counters.rxErrors, counters.name)
            list.add(.transmitBytes, counters.txBytes, counters.name)
            list.add(.transmitPackets, counters.txPackets, counters.name)
            list.add(.transmitDropped, counters.txDropped, counters.name)
            list.add(.transmitErrors, counters.txErrors, counters.name)
        }
        return list.samples
    }

    /// The samples of a running container. `nowSeconds` is container_last_seen.
    static func container(
        _ container: Container,
        in sandbox: PodSandbox,
        reading: CgroupMetricsReading,
        filesystem: Filesystem?,
        descriptors: (files: UInt64, sockets: UInt64),
        nowSeconds: UInt64,
        deviceName: (_ major: UInt32, _ minor: UInt32) -> String
    ) -> [MetricSample] {
        var list = MetricSampleList(baseLabelValues: baseLabels(of: container, in: sandbox))
        let seconds: (UInt64?) -> UInt64? = { $0.map { $0 / 1_000_000_000 } }

        list.add(.cpuUsageSeconds, seconds(reading.cpu.total), "total")
        list.add(.cpuUserSeconds, seconds(reading.cpu.user))
        list.add(.cpuSystemSeconds, seconds(reading.cpu.system))
        list.add(.cfsPeriods, reading.cpu.periods)
        list.add(.cfsThrottledPeriods, reading.cpu.throttledPeriods)
        list.add(.cfsThrottledSeconds, seconds(reading.cpu.throttledTime))

        let memory = reading.memory
        list.add(.memoryUsage, memory.usage)
        list.add(.memoryMaxUsage, memory.maxUsage)
        list.add(.memoryWorkingSet, memory.workingSet)
        list.add(.memoryRSS, memory.rss)
        list.add(.memoryCache, memory.cache)
        list.add(.memoryMappedFile, memory.mappedFile)
        list.add(.memorySwap, memory.swap)
        list.add(.memoryKernel, memory.kernel)
        list.add(.memoryFailcnt, memory.failcnt)
        for (type, faults) in [("pgfault", memory.pageFaults), ("pgmajfault", memory.majorPageFaults)] {
            list.add(.memoryFailures, faults?.container, type, "container")
            list.add(.memoryFailures, faults?.hierarchy, type, "hierarchy")
        }
        list.add(.oomEvents, memory.oomKills)

        if let filesystem {
            list.add(.fsUsage, filesystem.usedBytes, filesystem.device)
            list.add(.fsLimit, filesystem.capacity?.totalBytes, filesystem.device)
            list.add(.fsInodesTotal, filesystem.capacity?.inodes, filesystem.device)
            list.add(.fsInodesFree, filesystem.capacity?.freeInodes, filesystem.device)
        }
        for device in reading.io {
            let name = deviceName(device.major, device.minor)
            list.add(.fsReadBytes, device.readBytes, name)
            list.add(.fsReads, device.reads, name)
            list.add(.fsWriteBytes, device.writeBytes, name)
            list.add(.fsWrites, device.writes, name)
            let (major, minor) = (String(device.major), String(device.minor))
            list.add(.blkioDeviceUsage, device.readBytes, name, major, minor, "Read")
            list.add(.blkioDeviceUsage, device.writeBytes, name, major, minor, "Write")
        }

        list.add(.processes, UInt64(reading.processes.count))
        list.add(.threads, reading.threads)
        list.add(.threadsMax, reading.threadsMax)
        list.add(.fileDescriptors, descriptors.files)
        list.add(.sockets, descriptors.sockets)

        list.add(.specCPUPeriod, reading.spec.cpuPeriod)
        list.add(.specCPUQuota, reading.spec.cpuQuota)
        list.add(.specCPUShares, reading.spec.cpuShares)
        list.add(.specMemoryLimit, reading.spec.memoryLimit)
        list.add(.specMemoryReservation, reading.spec.memoryReservation)
        list.add(.specMemorySwapLimit, reading.spec.memorySwapLimit)

        list.add(.lastSeen, nowSeconds)
        list.add(.startTime, UInt64(max(0, container.startedAt)) / 1_000_000_000)
        return list.samples
    }
}
