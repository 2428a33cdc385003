import CRIAPI
import Testing

@testable import CRIServer

/// ContainerConfig.CDI_devices reaches the domain spec by name, in order; the annotations
/// travel with the spec's annotations (the domain reads both).
@Suite struct CDIDeviceConversionTests {
    @Test func cdiDevicesReachTheSpecInOrder() throws {
        var config = Runtime_V1_ContainerConfig()
        config.metadata.name = "c"
        config.image.image = "img"
        config.cdiDevices = ["vendor.example/gpu=1", "vendor.example/gpu=0"].map { name in
            var device = Runtime_V1_CDIDevice()
            device.name = name
            return device
        }
        config.annotations = ["cdi.k8s.io/plugin": "vendor.example/null=0"]
        let spec = try ContainerConversions.spec(config)
        #expect(spec.cdiDevices == ["vendor.example/gpu=1", "vendor.example/gpu=0"])
        #expect(spec.annotations["cdi.k8s.io/plugin"] == "vendor.example/null=0")
        #expect(try ContainerConversions.spec(Runtime_V1_ContainerConfig()).cdiDevices.isEmpty)
    }
}
