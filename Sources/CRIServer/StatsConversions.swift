import CRIAPI
import RuntimeCore

/// Domain usage ⇄ CRI stats messages.
enum StatsConversions {
    static func value(_ number: UInt64?) -> Runtime_V1_UInt64Value? {
        guard let number else { return nil }
        var value = Runtime_V1_UInt64Value()
        value.value = number
        return value
    }

    static func cpu(_ usage: CgroupUsage?, nanoCores: UInt64?, timestamp: Int64) -> Runtime_V1_CpuUsage {
        var cpu = Runtime_V1_CpuUsage()
        cpu.timestamp = usage?.timestampNanos ?? timestamp
        if let total = value(usage?.cpuUsageNanos) { cpu.usageCoreNanoSeconds = total }
        if let cores = value(nanoCores) { cpu.usageNanoCores = cores }
        return cpu
    }

    static func memory(_ usage: CgroupUsage?, timestamp: Int64) -> Runtime_V1_MemoryUsage {
        var memory = Runtime_V1_MemoryUsage()
        memory.timestamp = usage?.timestampNanos ?? timestamp
        if let bytes = value(usage?.memoryWorkingSetBytes) { memory.workingSetBytes = bytes }
        if let bytes = value(usage?.memoryUsageBytes) { memory.usageBytes = bytes }
        if let bytes = value(usage?.memoryRSSBytes) { memory.rssBytes = bytes }
        if let count = value(usage?.pageFaults) { memory.pageFaults = count }
        if let count = value(usage?.majorPageFaults) { memory.majorPageFaults = count }
        return memory
    }

    static func container(_ usage: StatsService.ContainerUsage) -> Runtime_V1_ContainerStats {
        var stats = Runtime_V1_ContainerStats()
        stats.attributes.id = usage.container.id
        stats.attributes.metadata = ContainerConversions.metadata(usage.container)
        stats.attributes.labels = usage.container.labels
        stats.attributes.annotations = usage.container.annotations
        stats.cpu = cpu(usage.cgroup, nanoCores: usage.nanoCores, timestamp: usage.timestamp)
        stats.memory = memory(usage.cgroup, timestamp: usage.timestamp)
        var layer = Runtime_V1_FilesystemUsage()
        layer.timestamp = usage.timestamp
        layer.fsID.mountpoint = usage.writableLayerMountpoint
        layer.usedBytes = value(usage.writableLayerBytes)!
        layer.inodesUsed = value(usage.writableLayerInodes)!
        stats.writableLayer = layer
        return stats
    }

    /// Pod totals are the sums over its running containers.
    static func pod(_ usage: StatsService.PodUsage) -> Runtime_V1_PodSandboxStats {
        var stats = Runtime_V1_PodSandboxStats()
        stats.attributes.id = usage.sandbox.id
        stats.attributes.metadata = RuntimeService.metadata(usage.sandbox)
        stats.attributes.labels = usage.sandbox.labels
        stats.attributes.annotations = usage.sandbox.annotations
        func sum(_ key: (CgroupUsage) -> UInt64?) -> UInt64? {
            let values = usage.containers.compactMap { $0.cgroup.flatMap(key) }
            return values.isEmpty ? nil : values.reduce(0, &+)
        }
        let total = CgroupUsage(
            timestampNanos: usage.timestamp,
            cpuUsageNanos: sum(\.cpuUsageNanos),
            memoryUsageBytes: sum(\.memoryUsageBytes),
            memoryWorkingSetBytes: sum(\.memoryWorkingSetBytes),
            memoryRSSBytes: sum(\.memoryRSSBytes),
            pageFaults: sum(\.pageFaults),
            majorPageFaults: sum(\.majorPageFaults),
            pids: sum(\.pids)
        )
        let cores = usage.containers.compactMap(\.nanoCores)
        stats.linux.cpu = cpu(total, nanoCores: cores.isEmpty ? nil : cores.reduce(0, &+), timestamp: usage.timestamp)
        stats.linux.memory = memory(total, timestamp: usage.timestamp)
        var process = Runtime_V1_ProcessUsage()
        process.timestamp = usage.timestamp
        if let count = value(total.pids) { process.processCount = count }
        stats.linux.process = process
        if !usage.interfaces.isEmpty {
            var network = Runtime_V1_NetworkUsage()
            network.timestamp = usage.timestamp
            network.interfaces = usage.interfaces.map { counters in
                var interface = Runtime_V1_NetworkInterfaceUsage()
                interface.name = counters.name
                interface.rxBytes = value(counters.rxBytes)!
                interface.rxErrors = value(counters.rxErrors)!
                interface.txBytes = value(counters.txBytes)!
                interface.txErrors = value(counters.txErrors)!
                return interface
            }
            network.defaultInterface = network.interfaces.first { $0.name == "eth0" } ?? network.interfaces[0]
            stats.linux.network = network
        }
        stats.linux.containers = usage.containers.map(container)
        return stats
    }
}
