import SkiffCommon
import Testing

@testable import RuntimeCore

/// Qualified CDI device names as the kubelet and device plugins send them.
@Suite struct CDIDeviceNameTests {
    @Test(arguments: [
        "vendor.com/gpu=0", "nvidia.com/gpu=all", "a/b=c", "vendor.example/null=GPU-1:2.3_4-5", "v/c.d=0",
    ])
    func qualifiedNamesParse(text: String) throws {
        let name = try CDIDeviceName(parsing: text)
        #expect(name.description == text)
    }

    @Test(
        arguments: [
            "gpu0", "/dev/null", "vendor.com/gpu", "vendor.com=0", "=0", "vendor.com/=0", "/gpu=0", "vendor.com/gpu=",
            "1vendor/gpu=0", "vendor-/gpu=0", "vendor/gpu/x=0", "vendor/gpu=-0", "vendor/gpu=0 ", "vendor/gpu=a/b",
        ]
    )
    func malformedNamesAreRefusedByName(text: String) {
        do {
            _ = try CDIDeviceName(parsing: text)
            Issue.record("\(text) parsed")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("\"\(text)\""))
        }
    }

    @Test func requestsComeFromTheFieldAndTheAnnotationsOnce() throws {
        let devices = try CDIRequest.devices(
            cdiDevices: ["vendor.example/null=0"],
            annotations: [
                "cdi.k8s.io/plugin_b": "vendor.example/null=1,vendor.example/null=0",
                "cdi.k8s.io/plugin_a": "vendor.example/other=x",
                "unrelated": "not/a=device,,",
            ]
        )
        #expect(
            devices.map(\.description) == ["vendor.example/null=0", "vendor.example/other=x", "vendor.example/null=1"]
        )
    }

    @Test func aMalformedAnnotationNamesItsKey() {
        do {
            _ = try CDIRequest.devices(cdiDevices: [], annotations: ["cdi.k8s.io/plugin": "vendor.example/null=0,"])
            Issue.record("parsed")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("cdi.k8s.io/plugin"))
        }
    }
}
