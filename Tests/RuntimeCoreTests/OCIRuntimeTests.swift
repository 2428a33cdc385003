import Foundation
import LinuxSys
import SkiffCommon
import Testing

@testable import RuntimeCore

/// runc, for real, on a busybox root filesystem made by the test.
@Suite(.serialized) struct OCIRuntimeTests {
    static func bundle(in directory: String, spec: RuntimeSpec) throws -> String {
        let bundle = directory + "/bundle"
        try FileManager.default.createDirectory(atPath: bundle + "/rootfs/bin", withIntermediateDirectories: true)
        for sub in ["proc", "dev", "sys", "tmp"] {
            try FileManager.default.createDirectory(
                atPath: "\(bundle)/rootfs/\(sub)",
                withIntermediateDirectories: true
            )
        }
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: bundle + "/rootfs/bin/busybox")
        for applet in ["sh", "echo", "hostname", "cat"] {
            try FileManager.default.createSymbolicLink(
                atPath: "\(bundle)/rootfs/bin/\(applet)",
                withDestinationPath: "busybox"
            )
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(spec).write(to: URL(fileURLWithPath: bundle + "/config.json"))
        return bundle
    }

    @Test func runcRunsABusyboxContainerInAPinnedNetworkNamespace() async throws {
        let directory = "/tmp/skiff-oci-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pinned = try await PinnsNamespacePinner.besideExecutable().pin(
            NamespaceRequest(ipc: false, uts: false),
            in: directory + "/ns"
        )
        defer { try? PinnsNamespacePinner.besideExecutable().unpin(pinned) }

        let spec = RuntimeSpec.basic(
            args: ["/bin/sh", "-c", "echo out; echo err >&2; hostname; cat /proc/net/dev | grep -c eth0; exit 3"],
            hostname: "in-container",
            namespacePaths: ["network": pinned.network!]
        )
        let bundle = try Self.bundle(in: directory, spec: spec)
        let runtime = RuncCompatibleRuntime(name: "runc", binary: "/usr/sbin/runc", root: directory + "/runc-root")
        let id = "skiff-test-\(UUID().uuidString.prefix(8).lowercased())"
        let result = try await runtime.run(id: id, bundle: bundle, timeout: .seconds(30))
        #expect(result.status == 3, "\(result.stderrText)")
        #expect(result.stdoutText == "out\nin-container\n0\n", "the pod's (empty) network namespace has no eth0")
        #expect(result.stderrText == "err\n")
        // `run` removes the container when it exits.
        #expect(try await runtime.state(id: id) == nil)
        try await runtime.delete(id: id, force: true)  // deleting a missing container is fine
    }

    /// A runtime whose `state` prints something that is not an OCI state: an error, not "gone"
    /// (recovery would otherwise record a running container as exited).
    @Test func stateOutputThatIsNoStateIsAnErrorNotAMissingContainer() async throws {
        let directory = "/tmp/skiff-oci-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func runtime(_ script: String) throws -> RuncCompatibleRuntime {
            let path = directory + "/fake-\(UUID().uuidString.prefix(4))"
            try ("#!/bin/sh\n" + script + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
            return RuncCompatibleRuntime(name: "fake", binary: path, root: directory + "/root")
        }
        let garbled = try runtime("echo 'warning: something'; exit 0")
        await #expect(throws: SkiffError.self) { _ = try await garbled.state(id: "c1") }
        let missing = try runtime("echo 'container does not exist' >&2; exit 1")
        #expect(try await missing.state(id: "c1") == nil)
        let running = try runtime(#"echo '{"ociVersion":"1.0.2","id":"c1","status":"running","pid":42,"bundle":"/b"}'"#)
        #expect(try await running.state(id: "c1") == OCIState(id: "c1", status: "running", pid: 42, bundle: "/b"))
        let broken = try runtime("echo 'permission denied' >&2; exit 1")
        await #expect(throws: SkiffError.self) { _ = try await broken.state(id: "c1") }
    }
}
