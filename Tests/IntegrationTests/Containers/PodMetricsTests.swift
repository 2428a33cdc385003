import CRIAPI
import Foundation
import GRPCCore
import Testing

/// The CRI metrics rpcs of a real skiffd: a container on a CNI network that uses memory, CPU
/// and the network shows in ListPodSandboxMetrics with cAdvisor's labels and values that match
/// what it did; its samples agree with ListMetricDescriptors; a stopped, then removed, pod
/// is no longer listed.
@Suite(.serialized) struct PodMetricsTests {
    typealias Samples = [String: [Runtime_V1_Metric]]

    static func list(_ daemon: DaemonHarness) async throws -> [Runtime_V1_PodSandboxMetrics] {
        try await daemon.runtime { try await $0.listPodSandboxMetrics(.init()) }.podMetrics
    }

    static func value(_ samples: [Runtime_V1_Metric], _ name: String, extra: [String] = []) -> UInt64? {
        samples.first { $0.name == name && Array($0.labelValues.dropFirst(6)) == extra }?.value.value
    }

    /// Polls ListPodSandboxMetrics until `done` holds for the pod's container samples.
    static func waitForSamples(
        _ daemon: DaemonHarness,
        pod: String,
        timeout: Duration = .seconds(20),
        until done: ([Runtime_V1_Metric]) -> Bool
    ) async throws -> Runtime_V1_PodSandboxMetrics {
        let deadline = ContinuousClock.now + timeout
        while true {
            let metrics = try #require(try await list(daemon).first { $0.podSandboxID == pod })
            if done(metrics.containerMetrics.flatMap(\.metrics)) { return metrics }
            guard ContinuousClock.now < deadline else { return metrics }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    @Test func aBusyContainerShowsWithCAdvisorLabelsAndAStoppedPodDisappears() async throws {
        try await NetworkedContainerTests.withNetworkedPod("metered") { harness, podIP in
            let daemon = harness.daemon
            let gateway = podIP.split(separator: ".").dropLast().joined(separator: ".") + ".1"
            let started = Date().timeIntervalSince1970
            let id = try await harness.run(
                harness.config(
                    "hog",
                    [
                        "/bin/sh", "-c",
                        "dd if=/dev/zero of=/tmp/blob bs=1M count=16; nc -w 1 \(gateway) 9 </dev/null; echo ready; while true; do :; done",
                    ]
                ) { config in
                    config.linux.resources.memoryLimitInBytes = 64 << 20
                    config.linux.resources.cpuPeriod = 100_000
                    // A tenth of a core: throttled at every period, yet light on a shared node
                    // (other suites run in parallel and measure their own busy loops).
                    config.linux.resources.cpuQuota = 10_000
                }
            )
            try await harness.waitForLog("hog", containing: "ready")
            let pod = try await Self.waitForSamples(daemon, pod: harness.podID) {
                (Self.value($0, "container_cpu_cfs_throttled_periods_total") ?? 0) >= 3
            }

            // Every sample is described, with as many label values as its descriptor has keys.
            let descriptors = try await daemon.runtime { try await $0.listMetricDescriptors(.init()) }.descriptors
            let keys = Dictionary(uniqueKeysWithValues: descriptors.map { ($0.name, $0.labelKeys) })
            #expect(descriptors.count >= 40 && descriptors.allSatisfy { !$0.help.isEmpty })
            let all = pod.metrics + pod.containerMetrics.flatMap(\.metrics)
            for sample in all {
                #expect(keys[sample.name]?.count == sample.labelValues.count, "\(sample.name): \(sample.labelValues)")
                #expect(sample.timestamp == 0 && sample.hasValue)
            }

            // The container: cAdvisor's labels, and values that match what it did.
            #expect(pod.containerMetrics.map(\.containerID) == [id])
            let samples = pod.containerMetrics[0].metrics
            let usage = try #require(samples.first { $0.name == "container_cpu_usage_seconds_total" })
            #expect(
                keys["container_cpu_usage_seconds_total"] == [
                    "container", "id", "image", "name", "namespace", "pod", "cpu",
                ]
            )
            #expect(
                usage.labelValues == [
                    "hog", "/skiff/skiff-\(id)", harness.image, id, "skiff-test", "metered", "total",
                ]
            )
            #expect(usage.metricType == .counter && usage.value.value < 60, "whole seconds: \(usage)")
            let periods = Self.value(samples, "container_cpu_cfs_periods_total") ?? 0
            let throttled = Self.value(samples, "container_cpu_cfs_throttled_periods_total") ?? 0
            #expect(throttled >= 3 && periods >= throttled, "a busy loop over its quota: \(throttled) of \(periods)")
            #expect(Self.value(samples, "container_spec_cpu_quota") == 10_000)
            #expect(Self.value(samples, "container_spec_cpu_period") == 100_000)
            #expect(Self.value(samples, "container_spec_memory_limit_bytes") == 64 << 20)
            #expect((Self.value(samples, "container_memory_usage_bytes") ?? 0) >= 16 << 20, "16 MiB written to /tmp")
            #expect((Self.value(samples, "container_memory_cache") ?? 0) >= 8 << 20)
            #expect((Self.value(samples, "container_memory_working_set_bytes") ?? 0) > 0)
            #expect((Self.value(samples, "container_memory_rss") ?? 0) > 0)
            let fsUsage = try #require(samples.first { $0.name == "container_fs_usage_bytes" })
            #expect(fsUsage.value.value >= 16 << 20 && !fsUsage.labelValues[6].isEmpty, "\(fsUsage)")
            #expect((Self.value(samples, "container_processes") ?? 0) >= 1)
            #expect((Self.value(samples, "container_threads") ?? 0) >= 1)
            #expect((Self.value(samples, "container_file_descriptors") ?? 0) >= 3)
            let start = Double(Self.value(samples, "container_start_time_seconds") ?? 0)
            #expect(start >= started.rounded(.down) && start <= Date().timeIntervalSince1970)
            let seen = Double(Self.value(samples, "container_last_seen") ?? 0)
            #expect(abs(seen - Date().timeIntervalSince1970) < 60)

            // The pod: its eth0 counters (the nc reached the gateway, after an ARP request at least).
            #expect(pod.metrics.allSatisfy { $0.labelValues[0] == "" && $0.labelValues[3] == harness.podID })
            #expect((Self.value(pod.metrics, "container_network_transmit_packets_total", extra: ["eth0"]) ?? 0) >= 1)
            #expect((Self.value(pod.metrics, "container_network_transmit_bytes_total", extra: ["eth0"]) ?? 0) > 0)
            #expect(Self.value(pod.metrics, "container_network_receive_bytes_total", extra: ["eth0"]) != nil)
            #expect(!pod.metrics.contains { $0.labelValues.last == "lo" })

            // The stream answers the same pods.
            let streamed = try await daemon.runtime { client in
                try await client.streamPodSandboxMetrics(Runtime_V1_StreamPodSandboxMetricsRequest()) { response in
                    var pods: [String] = []
                    for try await message in response.messages { pods += message.podSandboxMetrics.map(\.podSandboxID) }
                    return pods
                }
            }
            #expect(streamed == [harness.podID])

            // Stopped, then removed: gone from the list.
            try await PodSandboxTests.stop(daemon, harness.podID)
            #expect(try await Self.list(daemon).isEmpty)
            try await PodSandboxTests.remove(daemon, harness.podID)
            #expect(try await Self.list(daemon).isEmpty)
        }
    }
}
