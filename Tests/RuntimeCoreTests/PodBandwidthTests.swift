import Testing

@testable import RuntimeCore

@Suite struct PodBandwidthTests {
    @Test func annotationsBecomeBitsPerSecond() {
        let bandwidth = PodBandwidth(annotations: [
            "kubernetes.io/ingress-bandwidth": "10M", "kubernetes.io/egress-bandwidth": "1Gi",
        ])
        #expect(bandwidth?.ingressBitsPerSecond == 10_000_000)
        #expect(bandwidth?.egressBitsPerSecond == 1 << 30)
        #expect(bandwidth?.runtimeConfig.ingressRate == 10_000_000)
        #expect(bandwidth?.runtimeConfig.egressBurst == UInt64(Int32.max))
        #expect(PodBandwidth(annotations: ["other": "1"]) == nil)
        #expect(PodBandwidth(annotations: ["kubernetes.io/ingress-bandwidth": "fast"]) == nil)
        #expect(PodBandwidth.quantity("1500") == 1500)
        #expect(PodBandwidth.quantity("18446744073709551615T") == nil)
    }

    @Test func checkNeedsCNI040OrLater() {
        #expect(CNIPluginRunner.supportsCheck("1.0.0"))
        #expect(CNIPluginRunner.supportsCheck("0.4.0"))
        #expect(!CNIPluginRunner.supportsCheck("0.3.1"))
        #expect(!CNIPluginRunner.supportsCheck(""))
    }
}
