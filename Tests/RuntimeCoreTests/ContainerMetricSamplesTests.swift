import Foundation
import LinuxSys
import Testing

@testable import RuntimeCore

/// The samples made of a container's reading and a pod's network counters: every sample names a
/// metric of the catalog and carries exactly its label keys' count of values, the values being
/// cAdvisor's (whole seconds for the CPU counters, one series per interface and device).
@Suite struct ContainerMetricSamplesTests {
    static let sandbox: PodSandbox = {
        var sandbox = PodSandbox.placeholder(id: "pod-1", directory: "/run/skiff/sandboxes/pod-1")
        sandbox.name = "web-0"
        sandbox.namespace = "shop"
        sandbox.state = .ready
        sandbox.cgroupParent = "/kubepods/pod-uid"
        return sandbox
    }()

    static let container = Container(
        id: "ctr-1",
        sandboxID: "pod-1",
        name: "nginx",
        attempt: 0,
        image: "registry.local/nginx:1.27",
        imageID: "sha256:" + String(repeating: "a", count: 64),
        imageRef: "",
        labels: [:],
        annotations: [:],
        state: .running,
        createdAt: 1,
        startedAt: 1_700_000_000_123_456_789,
        finishedAt: 0,
        exitCode: 0,
        reason: "",
        message: "",
        logPath: "",
        mounts: [],
        resources: .init(),
        runtimeHandler: "runc",
        cgroupsPath: "/kubepods/pod-uid/skiff-ctr-1",
        layers: [],
        stopSignal: 15,
        pid: 41,
        monitorPID: 40,
        stdin: false,
        stdinOnce: false,
        tty: false,
        terminationMessageHostPath: nil,
        runtimeBinary: nil,
        runtimeRoot: nil
    )

    static func v1Samples() throws -> [MetricSample] {
        let tree = try CgroupStatsTests.FakeTree()
        defer { tree.remove() }
        try CgroupMetricsTests.writeV1(tree)
        let reading = try #require(
            CgroupReader(layout: .hybrid, root: tree.root).metrics(ofCgroup: CgroupMetricsTests.cgroup)
        )
        return ContainerMetricSamples.container(
            container,
            in: sandbox,
            reading: reading,
            filesystem: .init(
                device: "/dev/vda1",
                usedBytes: 4096,
                capacity: .init(totalBytes: 1 << 30, availableBytes: 1 << 29, inodes: 1000, freeInodes: 900)
            ),
            descriptors: (files: 7, sockets: 2),
            nowSeconds: 1_700_000_100,
            deviceName: { "/dev/test\($0)-\($1)" }
        )
    }

    static func value(_ samples: [MetricSample], _ name: String, _ extra: [String] = []) -> UInt64? {
        samples.first { $0.metric.name == name && Array($0.labelValues.dropFirst(6)) == extra }?.value
    }

    @Test func everySampleHasItsDescriptorsLabelCountAndNameIsInTheCatalog() throws {
        let samples =
            try Self.v1Samples()
            + ContainerMetricSamples.pod(
                Self.sandbox,
                interfaces: [InterfaceCounters(name: "eth0", rxBytes: 1, rxErrors: 0, txBytes: 2, txErrors: 0)]
            )
        let catalog = Dictionary(uniqueKeysWithValues: ContainerMetric.all.map { ($0.name, $0) })
        #expect(catalog.count == ContainerMetric.all.count, "names are unique")
        for sample in samples {
            let metric = try #require(catalog[sample.metric.name], "\(sample.metric.name) is described")
            #expect(sample.labelValues.count == metric.labelKeys.count, "\(sample.metric.name)")
        }
        let reported = Set(samples.map(\.metric.name))
        #expect(
            reported == Set(catalog.keys),
            "a v1 node with every controller reports every metric: missing \(Set(catalog.keys).subtracting(reported))"
        )
        #expect(ContainerMetric.all.allSatisfy { !$0.help.isEmpty })
        // Counters end in _total, but for cAdvisor's failcnt; inodes_total is a size, a gauge.
        let exceptions: Set = ["container_memory_failcnt", "container_fs_inodes_total"]
        let odd = ContainerMetric.all.filter { $0.name.hasSuffix("_total") != ($0.kind == .counter) }.map(\.name)
        #expect(Set(odd) == exceptions)
    }

    @Test func containerSamplesCarryCAdvisorLabelsAndUnits() throws {
        let samples = try Self.v1Samples()
        let usage = try #require(samples.first { $0.metric.name == "container_cpu_usage_seconds_total" })
        #expect(
            ContainerMetric.cpuUsageSeconds.labelKeys == [
                "container", "id", "image", "name", "namespace", "pod", "cpu",
            ]
        )
        #expect(
            usage.labelValues == [
                "nginx", "/kubepods/pod-uid/skiff-ctr-1", "registry.local/nginx:1.27", "ctr-1", "shop", "web-0",
                "total",
            ]
        )
        #expect(usage.value == 7, "7.5 s of CPU, in whole seconds")
        #expect(Self.value(samples, "container_cpu_user_seconds_total") == 5)
        #expect(Self.value(samples, "container_cpu_cfs_throttled_seconds_total") == 4)
        #expect(Self.value(samples, "container_memory_working_set_bytes") == 10_485_760 - 2_097_152)
        #expect(Self.value(samples, "container_memory_failures_total", ["pgfault", "container"]) == 400)
        #expect(Self.value(samples, "container_memory_failures_total", ["pgmajfault", "hierarchy"]) == 67)
        #expect(Self.value(samples, "container_fs_usage_bytes", ["/dev/vda1"]) == 4096)
        #expect(Self.value(samples, "container_fs_limit_bytes", ["/dev/vda1"]) == 1 << 30)
        #expect(Self.value(samples, "container_fs_inodes_free", ["/dev/vda1"]) == 900)
        #expect(Self.value(samples, "container_fs_writes_bytes_total", ["/dev/test8-0"]) == 8192)
        #expect(Self.value(samples, "container_blkio_device_usage_total", ["/dev/test8-0", "8", "0", "Read"]) == 4096)
        #expect(Self.value(samples, "container_processes") == 2)
        #expect(Self.value(samples, "container_threads") == 5)
        #expect(Self.value(samples, "container_file_descriptors") == 7)
        #expect(Self.value(samples, "container_sockets") == 2)
        #expect(Self.value(samples, "container_spec_memory_limit_bytes") == 67_108_864)
        #expect(Self.value(samples, "container_last_seen") == 1_700_000_100)
        #expect(Self.value(samples, "container_start_time_seconds") == 1_700_000_000)
        let kinds = Dictionary(
            samples.map { ($0.metric.name, $0.metric.kind) },
            uniquingKeysWith: { first, _ in first }
        )
        #expect(kinds["container_cpu_usage_seconds_total"] == .counter)
        #expect(kinds["container_memory_usage_bytes"] == .gauge)
    }

    @Test func podSamplesAreTheNetworkCountersPerInterfaceWithoutContainerLabels() {
        let samples = ContainerMetricSamples.pod(
            Self.sandbox,
            interfaces: [
                InterfaceCounters(
                    name: "eth0",
                    rxBytes: 100,
                    rxPackets: 2,
                    rxErrors: 3,
                    rxDropped: 4,
                    txBytes: 500,
                    txPackets: 6,
                    txErrors: 7,
                    txDropped: 8
                ),
                InterfaceCounters(name: "net1", rxBytes: 9, rxErrors: 0, txBytes: 10, txErrors: 0),
            ]
        )
        #expect(samples.count == 16)
        let received = samples.first { $0.metric.name == "container_network_receive_bytes_total" }
        #expect(received?.labelValues == ["", "/kubepods/pod-uid", "", "pod-1", "shop", "web-0", "eth0"])
        #expect(received?.value == 100)
        #expect(Self.value(samples, "container_network_transmit_packets_dropped_total", ["eth0"]) == 8)
        #expect(Self.value(samples, "container_network_receive_errors_total", ["eth0"]) == 3)
        #expect(Self.value(samples, "container_network_transmit_bytes_total", ["net1"]) == 10)
        #expect(samples.allSatisfy { $0.metric.kind == .counter })
    }

    @Test func procNetDevGivesPacketsAndDropsToo() {
        let counters = PodNetworkStats.parse(
            """
            Inter-|   Receive                                                |  Transmit
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
                lo:     10       1    0    0    0     0          0         0       10       1    0    0    0     0       0          0
              eth0:   1500      12    1    2    0     0          0         0      900       9    3    4    0     0       0          0
            """
        )
        #expect(
            counters == [
                InterfaceCounters(
                    name: "eth0",
                    rxBytes: 1500,
                    rxPackets: 12,
                    rxErrors: 1,
                    rxDropped: 2,
                    txBytes: 900,
                    txPackets: 9,
                    txErrors: 3,
                    txDropped: 4
                )
            ]
        )
    }
}
