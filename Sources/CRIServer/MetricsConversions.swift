import CRIAPI
import RuntimeCore

/// Domain metrics ⇄ CRI metrics messages (ListMetricDescriptors, ListPodSandboxMetrics).
enum MetricsConversions {
    static func descriptor(_ metric: ContainerMetric) -> Runtime_V1_MetricDescriptor {
        var descriptor = Runtime_V1_MetricDescriptor()
        descriptor.name = metric.name
        descriptor.help = metric.help
        descriptor.labelKeys = metric.labelKeys
        return descriptor
    }

    /// Timestamp 0: the samples are gathered live, which the kubelet then stamps with the time
    /// of its scrape (api.proto: "Timestamp should be 0 if the metric was gathered live").
    static func metric(_ sample: MetricSample) -> Runtime_V1_Metric {
        var metric = Runtime_V1_Metric()
        metric.name = sample.metric.name
        metric.timestamp = 0
        metric.metricType = sample.metric.kind == .counter ? .counter : .gauge
        metric.labelValues = sample.labelValues
        metric.value.value = sample.value
        return metric
    }

    static func pod(_ pod: PodMetrics) -> Runtime_V1_PodSandboxMetrics {
        var metrics = Runtime_V1_PodSandboxMetrics()
        metrics.podSandboxID = pod.sandboxID
        metrics.metrics = pod.samples.map(metric)
        metrics.containerMetrics = pod.containers.map { container in
            var converted = Runtime_V1_ContainerMetrics()
            converted.containerID = container.containerID
            converted.metrics = container.samples.map(metric)
            return converted
        }
        return metrics
    }
}
