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

    /// runc and crun, for real, asked about a container they do not have: `state` is nil,
    /// `kill` and `start` are NOT_FOUND naming what the runtime said, `delete` succeeds. crun
    /// words it "error opening file `<root>/<id>/status`", which earlier read as an error, so a
    /// crun container gone after a reboot was never recorded as exited.
    @Test(arguments: ["/usr/sbin/runc", "/usr/bin/crun"])
    func aContainerTheRuntimeDoesNotHaveIsNotFound(binary: String) async throws {
        let root = "/tmp/skiff-oci-root-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let runtime = RuncCompatibleRuntime(name: "r", binary: binary, root: root)
        #expect(try await runtime.state(id: "absent") == nil)
        for call in ["kill", "start"] {
            let error = await #expect(throws: SkiffError.self) {
                if call == "kill" {
                    try await runtime.kill(id: "absent", signal: SIGKILL)
                } else {
                    try await runtime.start(id: "absent")
                }
            }
            #expect(error?.code == .notFound, "\(call): \(String(describing: error))")
            #expect(error?.message.contains("{") == false, "the message is the runtime's, not its JSON log line")
        }
        try await runtime.delete(id: "absent", force: true)
    }

    @Test func errorReportsReadJSONLogLinesAndText() {
        let runc = RuntimeErrorReport(
            stderr: Array(#"{"level":"error","msg":"container does not exist","time":"2026-11-30T07:34:19Z"}"#.utf8)
        )
        #expect(runc.messages == ["container does not exist"])
        #expect(runc.saysNoSuchContainer("c1"))
        let crun = RuntimeErrorReport(
            stderr: Array(
                #"""
                {"msg":"cgroup v1 warning","level":"warning","time":"t"}
                {"msg":"error opening file `/run/crun/c1/status`: No such file or directory","level":"error","time":"t"}
                """#.utf8
            )
        )
        #expect(crun.messages == ["error opening file `/run/crun/c1/status`: No such file or directory"])
        #expect(crun.saysNoSuchContainer("c1"))
        #expect(!crun.saysNoSuchContainer("other"))
        let runsc = RuntimeErrorReport(stderr: Array("loading container: file does not exist\n".utf8))
        #expect(runsc.saysNoSuchContainer("c1"))
        let denied = RuntimeErrorReport(
            stderr: Array(#"{"level":"error","msg":"open /sys/fs/cgroup/x: permission denied"}"#.utf8)
        )
        #expect(!denied.saysNoSuchContainer("c1"))
        #expect(denied.summary == "open /sys/fs/cgroup/x: permission denied")
        let onlyWarnings = RuntimeErrorReport(stderr: Array(#"{"level":"warning","msg":"w"}"#.utf8))
        #expect(onlyWarnings.messages == ["w"])
        #expect(RuntimeErrorReport(stderr: []).summary == "(nothing on stderr)")
        let notJSON = RuntimeErrorReport(stderr: Array("{ not json\n".utf8))
        #expect(notJSON.messages == ["{ not json"])
    }
}
