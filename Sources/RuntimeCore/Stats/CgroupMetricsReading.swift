/// Everything the metrics read from one container's cgroup, for both cgroup versions; a field
/// is nil when this node does not expose it (controller not enabled, older kernel). Times are
/// in nanoseconds, sizes in bytes.
public struct CgroupMetricsReading: Sendable, Equatable {
    public struct CPU: Sendable, Equatable {
        public var total: UInt64?
        public var user: UInt64?
        public var system: UInt64?
        public var periods: UInt64?
        public var throttledPeriods: UInt64?
        public var throttledTime: UInt64?
    }

    public struct Faults: Sendable, Equatable {
        public var container: UInt64
        public var hierarchy: UInt64
    }

    public struct Memory: Sendable, Equatable {
        public var usage: UInt64?
        /// The highest usage seen (v1 max_usage_in_bytes, v2 memory.peak from Linux 5.19).
        public var maxUsage: UInt64?
        public var workingSet: UInt64?
        public var rss: UInt64?
        public var cache: UInt64?
        public var mappedFile: UInt64?
        public var swap: UInt64?
        public var kernel: UInt64?
        /// Times usage hit the limit (v1 memory.failcnt, v2 memory.events `max`).
        public var failcnt: UInt64?
        /// Page faults of the cgroup's own tasks and of its whole subtree (equal on v2, whose
        /// memory.stat is hierarchical).
        public var pageFaults: Faults?
        public var majorPageFaults: Faults?
        public var oomKills: UInt64?
    }

    /// The limits in force, as cAdvisor's container spec reports them: 0 for "no limit".
    public struct Spec: Sendable, Equatable {
        public var cpuPeriod: UInt64?
        /// nil when no quota is set (cAdvisor then leaves the metric out).
        public var cpuQuota: UInt64?
        public var cpuShares: UInt64?
        public var memoryLimit: UInt64?
        public var memoryReservation: UInt64?
        /// v1: memory+swap (memory.memsw.limit_in_bytes); v2: swap alone (memory.swap.max).
        public var memorySwapLimit: UInt64?
    }

    /// Block I/O of one device, summed over the cgroup's subtree.
    public struct DeviceIO: Sendable, Equatable {
        public var major: UInt32
        public var minor: UInt32
        public var readBytes: UInt64 = 0
        public var writeBytes: UInt64 = 0
        public var reads: UInt64 = 0
        public var writes: UInt64 = 0
    }

    public var cpu = CPU()
    public var memory = Memory()
    public var spec = Spec()
    public var io: [DeviceIO] = []
    /// Tasks (threads) from pids.current, and pids.max (0 for "max").
    public var threads: UInt64?
    public var threadsMax: UInt64?
    /// The processes of the cgroup and the cgroups below it.
    public var processes: [Int32] = []
}

extension CgroupMetricsReading {
    /// v2 `io.stat`: one line per device, `MAJ:MIN rbytes=… wbytes=… rios=… wios=… …`.
    static func parseIOStat(_ text: String) -> [DeviceIO] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard let device = fields.first.flatMap(parseDevice) else { return nil }
            var entry = DeviceIO(major: device.major, minor: device.minor)
            for field in fields.dropFirst() {
                let pair = field.split(separator: "=", maxSplits: 1)
                guard pair.count == 2, let value = UInt64(pair[1]) else { continue }
                switch pair[0] {
                case "rbytes": entry.readBytes = value
                case "wbytes": entry.writeBytes = value
                case "rios": entry.reads = value
                case "wios": entry.writes = value
                default: break
                }
            }
            return entry
        }
    }

    /// v1 `blkio.throttle.io_service_bytes_recursive` and `…io_serviced_recursive`: lines
    /// `MAJ:MIN Read|Write|Sync|Async|Discard|Total N`, then a `Total N` line. Only the read and
    /// write lines are kept, per device, in the order the devices first appear.
    static func parseBlkio(bytes: String, operations: String) -> [DeviceIO] {
        var order: [String] = []
        var entries: [String: DeviceIO] = [:]
        func apply(_ text: String, _ update: (inout DeviceIO, _ read: Bool, UInt64) -> Void) {
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard fields.count == 3, let device = parseDevice(fields[0]), let value = UInt64(fields[2]) else {
                    continue
                }
                let operation = fields[1].lowercased()
                guard operation == "read" || operation == "write" else { continue }
                let key = String(fields[0])
                if entries[key] == nil {
                    order.append(key)
                    entries[key] = DeviceIO(major: device.major, minor: device.minor)
                }
                update(&entries[key]!, operation == "read", value)
            }
        }
        apply(bytes) { entry, read, value in
            if read { entry.readBytes = value } else { entry.writeBytes = value }
        }
        apply(operations) { entry, read, value in
            if read { entry.reads = value } else { entry.writes = value }
        }
        return order.compactMap { entries[$0] }
    }

    private static func parseDevice(_ text: Substring) -> (major: UInt32, minor: UInt32)? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let major = UInt32(parts[0]), let minor = UInt32(parts[1]) else { return nil }
        return (major, minor)
    }
}
