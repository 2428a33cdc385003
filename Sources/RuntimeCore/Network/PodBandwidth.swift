/// The traffic shaping a pod asks for with the `kubernetes.io/ingress-bandwidth` and
/// `kubernetes.io/egress-bandwidth` annotations (Kubernetes quantities such as "10M"), as the
/// CNI bandwidth plugin's runtimeConfig wants it: rates in bits per second.
public struct PodBandwidth: Sendable, Equatable {
    public var ingressBitsPerSecond: UInt64?
    public var egressBitsPerSecond: UInt64?

    public init?(annotations: [String: String]) {
        ingressBitsPerSecond = annotations["kubernetes.io/ingress-bandwidth"].flatMap(Self.quantity)
        egressBitsPerSecond = annotations["kubernetes.io/egress-bandwidth"].flatMap(Self.quantity)
        if ingressBitsPerSecond == nil && egressBitsPerSecond == nil { return nil }
    }

    /// Burst is unlimited (the largest value the plugin takes), as containerd and cri-o pass it.
    var runtimeConfig: CNICapabilities.Bandwidth {
        let unlimited = UInt64(Int32.max)
        return CNICapabilities.Bandwidth(
            ingressRate: ingressBitsPerSecond,
            ingressBurst: ingressBitsPerSecond.map { _ in unlimited },
            egressRate: egressBitsPerSecond,
            egressBurst: egressBitsPerSecond.map { _ in unlimited }
        )
    }

    /// "1000", "10k", "10M", "1G", "1T", "512Ki", "10Mi", "1Gi"; nil for anything else.
    static func quantity(_ text: String) -> UInt64? {
        let suffixes: [(String, UInt64)] = [
            ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40),
            ("k", 1_000), ("M", 1_000_000), ("G", 1_000_000_000), ("T", 1_000_000_000_000),
        ]
        for (suffix, factor) in suffixes where text.hasSuffix(suffix) {
            guard let number = UInt64(text.dropLast(suffix.count)) else { return nil }
            let (value, overflow) = number.multipliedReportingOverflow(by: factor)
            return overflow ? nil : value
        }
        return UInt64(text)
    }
}
