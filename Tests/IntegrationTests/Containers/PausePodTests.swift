import CRIAPI
import Foundation
import LinuxSys
import Testing

/// The pause of runc pods whose containers share one PID namespace: Skiff's own process (no
/// runc, no conmon), PID 1 of the pod, in an empty read-only root, unprivileged, confined by
/// seccomp, in its own cgroup, and found again by a restarted skiffd.
@Suite(.serialized) struct PausePodTests {
    /// The pause's pid on the node: the one process in its cgroup.
    static func pausePID(of podID: String) throws -> Int32 {
        let procs = try FileSystem.readText(pauseCgroup(of: podID) + "/cgroup.procs")
        let pids = procs.split(separator: "\n").compactMap { Int32($0) }
        #expect(pids.count == 1, "processes in the pause's cgroup: \(pids)")
        return try #require(pids.first)
    }

    static func pauseCgroup(of podID: String) -> String {
        CgroupPaths.unified
            ? "/sys/fs/cgroup/skiff/skiff-pause-\(podID)" : "/sys/fs/cgroup/pids/skiff/skiff-pause-\(podID)"
    }

    static func text(_ response: Runtime_V1_ExecSyncResponse) -> String {
        String(decoding: response.stdout + response.stderr, as: UTF8.self)
    }

    @Test func thePauseIsAnUnprivilegedPID1InAnEmptyRootWithNoRuntimeOrMonitor() async throws {
        try await ContainerHarness.with(sharedPID: true) { harness in
            let pid = try Self.pausePID(of: harness.podID)
            let container = try await ContainerFeatureTests.sleeper(harness, "looker") {
                $0.linux.securityContext.namespaceOptions.pid = .pod
            }
            try await harness.waitForLog("looker", containing: "ready")
            // What the pod's containers see of their PID 1.
            let root = Self.text(
                try await harness.execSync(container, ["/bin/sh", "-c", "ls -A /proc/1/root; echo end"])
            )
            #expect(root == "end\n", "/proc/1/root from a container: \(root)")
            let status = Self.text(try await harness.execSync(container, ["/bin/cat", "/proc/1/status"]))
            for line in [
                "Name:\tpause", "CapPrm:\t0000000000000000", "CapEff:\t0000000000000000",
                "CapBnd:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2",
            ] {
                #expect(status.contains(line + "\n"), "\(line) in the pause's status: \(status)")
            }
            // The node's view: the same process, PID 1 of its namespace, in the pod's network namespace.
            let nodeStatus = try FileSystem.readText("/proc/\(pid)/status")
            #expect(nodeStatus.contains("NSpid:\t\(pid)\t1\n"), "\(nodeStatus)")
            let mounts = try FileSystem.readText("/proc/\(pid)/mountinfo")
            #expect(mounts.split(separator: "\n").count == 1 && mounts.contains(" / / ro,"), "\(mounts)")
            // No runtime container and no conmon for it.
            #expect(ContainerHarness.processes(mentioning: "pause-" + harness.podID).isEmpty)
            let listed = try await ChildProcess.run(
                try #require(ExecutableLookup.resolve("runc")),
                arguments: ["--root", harness.daemon.directory + "/state/runtime/runc", "list", "-q"],
                timeout: .seconds(10)
            )
            #expect(!listed.stdoutText.contains("pause-"), "runc runs a pause: \(listed.stdoutText)")
            // Its command line names nothing of the node.
            #expect(try FileSystem.readText("/proc/\(pid)/cmdline") == "/pause\0--confined\0")

            try await PodSandboxTests.stop(harness.daemon, harness.podID)
            #expect(!FileManager.default.fileExists(atPath: "/proc/\(pid)/status") || Self.isZombie(pid))
            #expect(!FileManager.default.fileExists(atPath: Self.pauseCgroup(of: harness.podID)), "the cgroup goes")
            #expect(try await harness.status(container).status.state == .containerExited)
        }
    }

    static func isZombie(_ pid: Int32) -> Bool {
        // try?: a process reaped since the look is no zombie either.
        ((try? FileSystem.readText("/proc/\(pid)/stat")) ?? "").contains(") Z ")
    }

    @Test func aRestartedSkiffdFindsThePauseAndNoticesItsEnd() async throws {
        try await ContainerHarness.with(sharedPID: true) { harness in
            let pid = try Self.pausePID(of: harness.podID)
            let first = try await ContainerFeatureTests.sleeper(harness, "first") {
                $0.linux.securityContext.namespaceOptions.pid = .pod
            }
            try await harness.waitForLog("first", containing: "ready")
            try await harness.daemon.stop(signal: SIGKILL)
            try await harness.daemon.start()
            #expect(try await PodSandboxTests.status(harness.daemon, harness.podID).state == .sandboxReady)
            #expect(try Self.pausePID(of: harness.podID) == pid, "the same pause")
            // A container made after the restart joins the same PID namespace.
            let second = try await ContainerFeatureTests.sleeper(harness, "second") {
                $0.linux.securityContext.namespaceOptions.pid = .pod
            }
            try await harness.waitForLog("second", containing: "ready")
            let ps = Self.text(try await harness.execSync(second, ["/bin/ps", "-o", "pid,args"]))
            #expect(ps.contains("1 /pause --confined"), "\(ps)")
            #expect(ps.components(separatedBy: "sleep 1000").count == 3, "both containers are in it: \(ps)")
            _ = first
            // The pause's end, after the restart, is noticed without a poll from the client.
            kill(pid, SIGKILL)
            var state = Runtime_V1_PodSandboxState.sandboxReady
            for _ in 0..<50 where state == .sandboxReady {
                try await Task.sleep(for: .milliseconds(100))
                state = try await PodSandboxTests.status(harness.daemon, harness.podID).state
            }
            #expect(state == .sandboxNotready)
        }
    }
}
