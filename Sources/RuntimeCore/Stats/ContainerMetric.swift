/// The metrics Skiff serves through the CRI's ListMetricDescriptors and ListPodSandboxMetrics:
/// those cAdvisor exports, under cAdvisor's names, so that the kubelet's /metrics/cadvisor
/// (which passes them through unchanged when it takes pod metrics from the runtime) keeps the
/// series that dashboards and alerts already query.
///
/// Every metric carries `baseLabelKeys` (cAdvisor's labels on the kubelet's endpoint), then its
/// own `extraLabelKeys`; a sample's values are in the same order. The CRI carries values as
/// unsigned integers, so "seconds" counters are whole seconds (containerd and CRI-O do the same).
public struct ContainerMetric: Sendable, Hashable {
    public enum Kind: Sendable, Hashable { case counter, gauge }

    public let name: String
    public let help: String
    public let kind: Kind
    public let extraLabelKeys: [String]

    init(_ name: String, _ kind: Kind, _ help: String, extraLabelKeys: [String] = []) {
        self.name = name
        self.kind = kind
        self.help = help
        self.extraLabelKeys = extraLabelKeys
    }

    /// cAdvisor's labels: the container's name in its pod (empty for pod-level metrics), the
    /// cgroup path, the image, the runtime's container ID (the sandbox ID for pod-level
    /// metrics), and the pod's namespace and name.
    public static let baseLabelKeys = ["container", "id", "image", "name", "namespace", "pod"]

    public var labelKeys: [String] { Self.baseLabelKeys + extraLabelKeys }
}

extension ContainerMetric {
    // CPU (cpuacct/cpu on v1, cpu.stat on v2).
    static let cpuUsageSeconds = ContainerMetric(
        "container_cpu_usage_seconds_total",
        .counter,
        "Cumulative cpu time consumed in seconds.",
        extraLabelKeys: ["cpu"]
    )
    static let cpuUserSeconds = ContainerMetric(
        "container_cpu_user_seconds_total",
        .counter,
        "Cumulative user cpu time consumed in seconds."
    )
    static let cpuSystemSeconds = ContainerMetric(
        "container_cpu_system_seconds_total",
        .counter,
        "Cumulative system cpu time consumed in seconds."
    )
    static let cfsPeriods = ContainerMetric(
        "container_cpu_cfs_periods_total",
        .counter,
        "Number of elapsed enforcement period intervals."
    )
    static let cfsThrottledPeriods = ContainerMetric(
        "container_cpu_cfs_throttled_periods_total",
        .counter,
        "Number of throttled period intervals."
    )
    static let cfsThrottledSeconds = ContainerMetric(
        "container_cpu_cfs_throttled_seconds_total",
        .counter,
        "Total time duration the container has been throttled."
    )

    // Memory.
    static let memoryUsage = ContainerMetric(
        "container_memory_usage_bytes",
        .gauge,
        "Current memory usage in bytes, including all memory regardless of when it was accessed."
    )
    static let memoryMaxUsage = ContainerMetric(
        "container_memory_max_usage_bytes",
        .gauge,
        "Maximum memory usage recorded in bytes."
    )
    static let memoryWorkingSet = ContainerMetric(
        "container_memory_working_set_bytes",
        .gauge,
        "Current working set in bytes."
    )
    static let memoryRSS = ContainerMetric("container_memory_rss", .gauge, "Size of RSS in bytes.")
    static let memoryCache = ContainerMetric(
        "container_memory_cache",
        .gauge,
        "Number of bytes of page cache memory."
    )
    static let memoryMappedFile = ContainerMetric(
        "container_memory_mapped_file",
        .gauge,
        "Size of memory mapped files in bytes."
    )
    static let memorySwap = ContainerMetric("container_memory_swap", .gauge, "Container swap usage in bytes.")
    static let memoryKernel = ContainerMetric(
        "container_memory_kernel_usage",
        .gauge,
        "Size of kernel memory allocated in bytes."
    )
    static let memoryFailcnt = ContainerMetric(
        "container_memory_failcnt",
        .counter,
        "Number of memory usage hits limits."
    )
    static let memoryFailures = ContainerMetric(
        "container_memory_failures_total",
        .counter,
        "Cumulative count of memory allocation failures.",
        extraLabelKeys: ["failure_type", "scope"]
    )
    static let oomEvents = ContainerMetric(
        "container_oom_events_total",
        .counter,
        "Count of out of memory events observed for the container."
    )

    // Network, pod-level: a pod's containers share its network namespace.
    static let receiveBytes = network("container_network_receive_bytes_total", "Cumulative count of bytes received.")
    static let receivePackets = network(
        "container_network_receive_packets_total",
        "Cumulative count of packets received."
    )
    static let receiveDropped = network(
        "container_network_receive_packets_dropped_total",
        "Cumulative count of packets dropped while receiving."
    )
    static let receiveErrors = network(
        "container_network_receive_errors_total",
        "Cumulative count of errors encountered while receiving."
    )
    static let transmitBytes = network(
        "container_network_transmit_bytes_total",
        "Cumulative count of bytes transmitted."
    )
    static let transmitPackets = network(
        "container_network_transmit_packets_total",
        "Cumulative count of packets transmitted."
    )
    static let transmitDropped = network(
        "container_network_transmit_packets_dropped_total",
        "Cumulative count of packets dropped while transmitting."
    )
    static let transmitErrors = network(
        "container_network_transmit_errors_total",
        "Cumulative count of errors encountered while transmitting."
    )

    // Filesystem: the writable layer, on the filesystem of root_dir.
    static let fsUsage = device(
        "container_fs_usage_bytes",
        .gauge,
        "Number of bytes that are consumed by the container on this filesystem."
    )
    static let fsLimit = device(
        "container_fs_limit_bytes",
        .gauge,
        "Number of bytes that can be consumed by the container on this filesystem."
    )
    static let fsInodesTotal = device("container_fs_inodes_total", .gauge, "Number of Inodes.")
    static let fsInodesFree = device("container_fs_inodes_free", .gauge, "Number of available Inodes.")

    // Block I/O (blkio on v1, io.stat on v2).
    static let fsReadBytes = device("container_fs_reads_bytes_total", .counter, "Cumulative count of bytes read.")
    static let fsReads = device("container_fs_reads_total", .counter, "Cumulative count of reads completed.")
    static let fsWriteBytes = device("container_fs_writes_bytes_total", .counter, "Cumulative count of bytes written.")
    static let fsWrites = device("container_fs_writes_total", .counter, "Cumulative count of writes completed.")
    static let blkioDeviceUsage = ContainerMetric(
        "container_blkio_device_usage_total",
        .counter,
        "Blkio device bytes usage.",
        extraLabelKeys: ["device", "major", "minor", "operation"]
    )

    // Processes.
    static let processes = ContainerMetric(
        "container_processes",
        .gauge,
        "Number of processes running inside the container."
    )
    static let threads = ContainerMetric(
        "container_threads",
        .gauge,
        "Number of threads running inside the container."
    )
    static let threadsMax = ContainerMetric(
        "container_threads_max",
        .gauge,
        "Maximum number of threads allowed inside the container, infinity if value is zero."
    )
    static let fileDescriptors = ContainerMetric(
        "container_file_descriptors",
        .gauge,
        "Number of open file descriptors for the container."
    )
    static let sockets = ContainerMetric("container_sockets", .gauge, "Number of open sockets for the container.")

    // Spec: the limits in force in the container's cgroup.
    static let specCPUPeriod = ContainerMetric("container_spec_cpu_period", .gauge, "CPU period of the container.")
    static let specCPUQuota = ContainerMetric("container_spec_cpu_quota", .gauge, "CPU quota of the container.")
    static let specCPUShares = ContainerMetric("container_spec_cpu_shares", .gauge, "CPU share of the container.")
    static let specMemoryLimit = ContainerMetric(
        "container_spec_memory_limit_bytes",
        .gauge,
        "Memory limit for the container, 0 when unlimited."
    )
    static let specMemoryReservation = ContainerMetric(
        "container_spec_memory_reservation_limit_bytes",
        .gauge,
        "Memory reservation limit for the container, 0 when unset."
    )
    static let specMemorySwapLimit = ContainerMetric(
        "container_spec_memory_swap_limit_bytes",
        .gauge,
        "Memory swap limit for the container, 0 when unlimited."
    )

    // Lifetime.
    static let lastSeen = ContainerMetric(
        "container_last_seen",
        .gauge,
        "Last time a container was seen by the exporter."
    )
    static let startTime = ContainerMetric(
        "container_start_time_seconds",
        .gauge,
        "Start time of the container since unix epoch in seconds."
    )

    /// Every metric ListPodSandboxMetrics may return, in ListMetricDescriptors' order.
    public static let all: [ContainerMetric] = [
        cpuUsageSeconds, cpuUserSeconds, cpuSystemSeconds, cfsPeriods, cfsThrottledPeriods, cfsThrottledSeconds,
        memoryUsage, memoryMaxUsage, memoryWorkingSet, memoryRSS, memoryCache, memoryMappedFile, memorySwap,
        memoryKernel, memoryFailcnt, memoryFailures, oomEvents,
        receiveBytes, receivePackets, receiveDropped, receiveErrors,
        transmitBytes, transmitPackets, transmitDropped, transmitErrors,
        fsUsage, fsLimit, fsInodesTotal, fsInodesFree, fsReadBytes, fsReads, fsWriteBytes, fsWrites, blkioDeviceUsage,
        processes, threads, threadsMax, fileDescriptors, sockets,
        specCPUPeriod, specCPUQuota, specCPUShares, specMemoryLimit, specMemoryReservation, specMemorySwapLimit,
        lastSeen, startTime,
    ]

    private static func network(_ name: String, _ help: String) -> ContainerMetric {
        ContainerMetric(name, .counter, help, extraLabelKeys: ["interface"])
    }

    private static func device(_ name: String, _ kind: Kind, _ help: String) -> ContainerMetric {
        ContainerMetric(name, kind, help, extraLabelKeys: ["device"])
    }
}

/// One value of a metric, with its label values (`metric.labelKeys`' order).
public struct MetricSample: Sendable, Equatable {
    public var metric: ContainerMetric
    public var labelValues: [String]
    public var value: UInt64
}

/// The samples of one pod: its pod-level ones (network) and those of each running container.
public struct PodMetrics: Sendable, Equatable {
    public struct ContainerSamples: Sendable, Equatable {
        public var containerID: String
        public var samples: [MetricSample]
    }

    public var sandboxID: String
    public var samples: [MetricSample]
    public var containers: [ContainerSamples]
}

/// Collects samples that share base label values; a sample whose value is unknown (nil) is
/// left out rather than reported as 0.
struct MetricSampleList {
    let baseLabelValues: [String]
    private(set) var samples: [MetricSample] = []

    init(baseLabelValues: [String]) {
        assert(baseLabelValues.count == ContainerMetric.baseLabelKeys.count)
        self.baseLabelValues = baseLabelValues
    }

    mutating func add(_ metric: ContainerMetric, _ value: UInt64?, _ extraLabelValues: String...) {
        guard let value else { return }
        assert(extraLabelValues.count == metric.extraLabelKeys.count, "labels of \(metric.name)")
        samples.append(MetricSample(metric: metric, labelValues: baseLabelValues + extraLabelValues, value: value))
    }
}
