import CRIAPI
import GRPCCore
import Testing

@testable import CRIServer
@testable import RuntimeCore

/// ListMetricDescriptors, ListPodSandboxMetrics and StreamPodSandboxMetrics over a fake metrics
/// source: descriptors and samples are converted field by field, label values stay in the order
/// of their descriptor's keys, and samples are stamped 0 (gathered live).
@Suite struct MetricsAdapterTests {
    static func sample(_ metric: ContainerMetric, _ value: UInt64, _ extra: [String] = []) -> MetricSample {
        MetricSample(metric: metric, labelValues: ["c", "/cg", "img", "id", "ns", "pod"] + extra, value: value)
    }

    static let pod = PodMetrics(
        sandboxID: "pod-1",
        samples: [sample(.receiveBytes, 1500, ["eth0"])],
        containers: [
            .init(
                containerID: "ctr-1",
                samples: [sample(.cpuUsageSeconds, 7, ["total"]), sample(.memoryWorkingSet, 4096)]
            )
        ]
    )

    @Test func descriptorsCarryNameHelpAndTheFullLabelKeys() async throws {
        let domain = FakeDomain()
        await domain.setMetrics(descriptors: [.cpuUsageSeconds, .receiveBytes], pods: [])
        let response = try await RuntimeServiceAdapterTests.service(domain).listMetricDescriptors(
            request: .init(),
            context: RuntimeServiceAdapterTests.context("ListMetricDescriptors")
        )
        #expect(
            response.descriptors.map(\.name) == [
                "container_cpu_usage_seconds_total", "container_network_receive_bytes_total",
            ]
        )
        #expect(response.descriptors[0].help == "Cumulative cpu time consumed in seconds.")
        #expect(response.descriptors[0].labelKeys == ["container", "id", "image", "name", "namespace", "pod", "cpu"])
        #expect(response.descriptors[1].labelKeys.last == "interface")
        #expect(await domain.calls == ["metricDescriptors()"])
    }

    @Test func podMetricsAreConvertedWithTypesLabelsAndNoTimestamp() async throws {
        let domain = FakeDomain()
        await domain.setMetrics(descriptors: ContainerMetric.all, pods: [Self.pod])
        let response = try await RuntimeServiceAdapterTests.service(domain).listPodSandboxMetrics(
            request: .init(),
            context: RuntimeServiceAdapterTests.context("ListPodSandboxMetrics")
        )
        let pod = try #require(response.podMetrics.first)
        #expect(response.podMetrics.count == 1)
        #expect(pod.podSandboxID == "pod-1")
        #expect(pod.metrics.map(\.name) == ["container_network_receive_bytes_total"])
        #expect(pod.metrics[0].labelValues == ["c", "/cg", "img", "id", "ns", "pod", "eth0"])
        #expect(pod.metrics[0].metricType == .counter)
        #expect(pod.metrics[0].value.value == 1500)
        let container = try #require(pod.containerMetrics.first)
        #expect(container.containerID == "ctr-1")
        #expect(
            container.metrics.map(\.name) == [
                "container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
            ]
        )
        #expect(container.metrics.map(\.metricType) == [.counter, .gauge])
        #expect(container.metrics.map(\.value.value) == [7, 4096])
        #expect(container.metrics.allSatisfy { $0.timestamp == 0 && $0.hasValue })
    }

    @Test func noPodsIsAnEmptyAnswer() async throws {
        let response = try await RuntimeServiceAdapterTests.service(FakeDomain()).listPodSandboxMetrics(
            request: .init(),
            context: RuntimeServiceAdapterTests.context("ListPodSandboxMetrics")
        )
        #expect(response.podMetrics.isEmpty)
    }
}
