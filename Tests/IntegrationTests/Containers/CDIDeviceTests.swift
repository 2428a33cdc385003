import CRIAPI
import Foundation
import GRPCCore
import Testing

/// CDI devices through a real skiffd: spec files (YAML and JSON) in private spec directories
/// the daemon's `runtime.cdi_spec_dirs` names, requested through `CDI_devices` and through a
/// device plugin's `cdi.k8s.io/` annotation, checked inside the running container.
@Suite(.serialized) struct CDIDeviceTests {
    /// Two spec directories and a directory the spec bind-mounts, under one temporary root that
    /// is removed however the test ends.
    final class SpecFiles {
        let root = "/tmp/skiff-cdi-it-\(UUID().uuidString.prefix(8).lowercased())"
        var low: String { root + "/etc-cdi" }
        var high: String { root + "/run-cdi" }
        var shared: String { root + "/shared" }
        var hookMarker: String { root + "/hook-ran" }

        init() throws {
            for directory in [low, high, shared] {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            try "from the node\n".write(toFile: shared + "/marker", atomically: true, encoding: .utf8)
            // The YAML spec: the device node, env, a read-only bind mount and a createRuntime hook
            // (run by the OCI runtime on the node) that leaves a marker.
            try """
            cdiVersion: 0.6.0
            kind: vendor.example/null
            containerEdits:
              env: [CDI_SPEC_LEVEL=yes]
            devices:
              - name: "0"
                containerEdits:
                  env: [CDI_NULL=present]
                  deviceNodes:
                    - path: /dev/cdi-null
                      hostPath: /dev/null
                  mounts:
                    - hostPath: \(shared)
                      containerPath: /cdi-mount
                      options: [rbind, ro]
                  hooks:
                    - hookName: createRuntime
                      path: /bin/sh
                      args: [sh, -c, "echo ran >> \(hookMarker)"]
                      timeout: 10
            """.write(toFile: low + "/null.yaml", atomically: true, encoding: .utf8)
            // The JSON spec, in the later directory: another kind; the broken file beside it must
            // not matter to either.
            try #"""
            {"cdiVersion": "0.5.0", "kind": "vendor.example/zero", "devices": [
              {"name": "z", "containerEdits": {"env": ["CDI_ZERO=json"], "deviceNodes": [{"path": "/dev/cdi-zero", "hostPath": "/dev/zero"}]}}]}
            """#.write(toFile: high + "/zero.json", atomically: true, encoding: .utf8)
            try "{broken".write(toFile: high + "/broken.json", atomically: true, encoding: .utf8)
        }

        var config: String {
            """
            [runtime]
            cdi_spec_dirs = ["\(low)", "\(high)"]
            """
        }

        deinit {
            // try?: the directory is private to this test; a leftover is visible under /tmp.
            try? FileManager.default.removeItem(atPath: root)
        }
    }

    static let probe = [
        "/bin/sh", "-c",
        "test -c /dev/cdi-null && stat -c 'null=%t,%T' /dev/cdi-null; test -c /dev/cdi-zero && echo zero-present; echo \"env=$CDI_NULL,$CDI_SPEC_LEVEL,$CDI_ZERO\"; cat /cdi-mount/marker; "
            + "echo x > /dev/cdi-null && echo write-ok; touch /cdi-mount/x 2>/dev/null || echo mount-ro",
    ]

    @Test func devicesFromTheFieldAndFromAnAnnotationReachTheContainer() async throws {
        let files = try SpecFiles()
        try await ContainerHarness.with(extraConfig: files.config) { harness in
            let byField = try await harness.run(
                harness.config("cdi-field", ["/bin/sh", "-c", "echo \"init-env=$CDI_NULL\"; exec sleep 1000"]) {
                    var device = Runtime_V1_CDIDevice()
                    device.name = "vendor.example/null=0"
                    $0.cdiDevices = [device]
                }
            )
            try await harness.waitForLog("cdi-field", containing: "init-env=present")
            let fieldOutput = String(decoding: try await harness.execSync(byField, Self.probe).stdout, as: UTF8.self)
            // A character device with /dev/null's numbers (1, 3).
            #expect(fieldOutput.contains("null=1,3"), "\(fieldOutput)")
            #expect(fieldOutput.contains("env=present,yes,"), "\(fieldOutput)")
            #expect(fieldOutput.contains("from the node"), "\(fieldOutput)")
            #expect(fieldOutput.contains("write-ok") && fieldOutput.contains("mount-ro"), "\(fieldOutput)")
            #expect(!fieldOutput.contains("zero-present"), "\(fieldOutput)")
            let hookRuns = try String(contentsOfFile: files.hookMarker, encoding: .utf8)
            #expect(hookRuns == "ran\n")

            // The device plugin's form: both devices, from the YAML and the JSON spec.
            let byAnnotation = try await harness.run(
                harness.config("cdi-annotation", ["/bin/sleep", "1000"]) {
                    $0.annotations = ["cdi.k8s.io/test-plugin_dev0": "vendor.example/null=0,vendor.example/zero=z"]
                }
            )
            let annotationOutput = String(
                decoding: try await harness.execSync(byAnnotation, Self.probe).stdout,
                as: UTF8.self
            )
            #expect(annotationOutput.contains("env=present,yes,json"), "\(annotationOutput)")
            #expect(
                annotationOutput.contains("zero-present") && annotationOutput.contains("null=1,3"),
                "\(annotationOutput)"
            )
            #expect(annotationOutput.contains("from the node") && annotationOutput.contains("write-ok"))
            #expect(try String(contentsOfFile: files.hookMarker, encoding: .utf8) == "ran\nran\n")
            let log = harness.daemon.log()
            #expect(log.contains("CDI spec file cannot be used") && log.contains("broken.json"))
        }
    }

    @Test func unknownOrMalformedDevicesAreRefusedByNameAndLeaveNothing() async throws {
        let files = try SpecFiles()
        try await ContainerHarness.with(extraConfig: files.config) { harness in
            for (name, configure) in [
                (
                    "vendor.example/null=9",
                    { (config: inout Runtime_V1_ContainerConfig) in
                        var device = Runtime_V1_CDIDevice()
                        device.name = "vendor.example/null=9"
                        config.cdiDevices = [device]
                    }
                ),
                (
                    "other.example/gpu=0",
                    { (config: inout Runtime_V1_ContainerConfig) in
                        config.annotations = ["cdi.k8s.io/gpu-plugin": "vendor.example/null=0,other.example/gpu=0"]
                    }
                ),
                (
                    "not-qualified",
                    { (config: inout Runtime_V1_ContainerConfig) in
                        config.annotations = ["cdi.k8s.io/gpu-plugin": "not-qualified"]
                    }
                ),
            ] as [(String, (inout Runtime_V1_ContainerConfig) -> Void)] {
                do {
                    _ = try await harness.create(harness.config("cdi-refused", ["/bin/true"], configure: configure))
                    Issue.record("\(name) was accepted")
                } catch let error as RPCError {
                    #expect(error.code == .invalidArgument, "\(error)")
                    #expect(error.message.contains(name), "\(error.message)")
                }
            }
            let containers = try await harness.daemon.runtime {
                try await $0.listContainers(Runtime_V1_ListContainersRequest())
            }.containers
            #expect(containers.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: files.hookMarker))
            // Nothing of the refused creations is on the node: no container directory.
            let made =
                (try? FileManager.default.contentsOfDirectory(atPath: harness.daemon.rootDir + "/containers")) ?? []
            #expect(made.isEmpty, "\(made)")
        }
    }
}
