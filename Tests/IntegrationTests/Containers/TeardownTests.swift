import CRIAPI
import Foundation
import GRPCCore
import Testing

/// Teardown that cannot wedge: concurrent stops and removals of one pod all answer, a SIGTERM in
/// the middle of them exits 0, and a pod whose runtime handler has left the configuration can
/// still be stopped and removed.
@Suite(.serialized) struct TeardownTests {
    /// A pod with a running container (SIGTERM ignored, so only SIGKILL ends it) and a created one.
    static func busyPod(_ harness: ContainerHarness, _ name: String) async throws -> String {
        var config = PodSandboxTests.config(name, hostNetwork: true)
        config.logDirectory = harness.logDirectory + "/" + name
        let pod = try await PodSandboxTests.run(harness.daemon, config)
        let running = try await harness.create(
            harness.config("sleeper", ["/bin/sh", "-c", "trap '' TERM; sleep 1000"]),
            in: pod
        )
        try await harness.start(running)
        _ = try await harness.create(harness.config("never-started", ["/bin/sleep", "1000"]), in: pod)
        return pod
    }

    /// 10 StopPodSandbox and 10 RemovePodSandbox at once, each on its own connection; the
    /// outcome of each call (nil for success).
    static func stopAndRemoveConcurrently(_ daemon: DaemonHarness, _ pod: String, timeout: Duration) async -> [String?]
    {
        var callOptions = CallOptions.defaults
        callOptions.timeout = timeout
        let options = callOptions
        return await withTaskGroup(of: String?.self) { group in
            for index in 0..<20 {
                group.addTask {
                    do {
                        if index % 2 == 0 {
                            var request = Runtime_V1_StopPodSandboxRequest()
                            request.podSandboxID = pod
                            _ = try await daemon.runtime { try await $0.stopPodSandbox(request, options: options) }
                        } else {
                            var request = Runtime_V1_RemovePodSandboxRequest()
                            request.podSandboxID = pod
                            _ = try await daemon.runtime { try await $0.removePodSandbox(request, options: options) }
                        }
                        return nil
                    } catch {
                        return "\(index % 2 == 0 ? "stop" : "remove"): \(error)"
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test func twentyConcurrentStopsAndRemovesOfOnePodAllAnswerTenRunsInARow() async throws {
        try await ContainerHarness.with { harness in
            for run in 0..<10 {
                let pod = try await Self.busyPod(harness, "teardown-\(run)")
                let started = ContinuousClock.now
                let outcomes = await Self.stopAndRemoveConcurrently(harness.daemon, pod, timeout: .seconds(30))
                let failures = outcomes.compactMap { $0 }
                #expect(failures.isEmpty, "run \(run): \(failures)")
                #expect(
                    ContinuousClock.now - started < .seconds(30),
                    "run \(run) took \(ContinuousClock.now - started)"
                )
                await expectCode(.notFound) { _ = try await PodSandboxTests.status(harness.daemon, pod) }
                var filter = Runtime_V1_ListContainersRequest()
                filter.filter.podSandboxID = pod
                let left = try await harness.daemon.runtime { try await $0.listContainers(filter) }.containers
                #expect(left.isEmpty, "run \(run): containers left \(left.map(\.id))")
            }
        }
    }

    @Test func sigtermDuringConcurrentTeardownExitsZeroAndARestartShowsTheTruth() async throws {
        try await ContainerHarness.with { harness in
            let pod = try await Self.busyPod(harness, "teardown-sigterm")
            async let outcomes = Self.stopAndRemoveConcurrently(harness.daemon, pod, timeout: .seconds(60))
            try await Task.sleep(for: .milliseconds(150))
            let status = try await harness.daemon.stop(signal: SIGTERM, timeout: .seconds(60))
            #expect(status == 0, "skiffd's exit status after SIGTERM: \(status)\n\(harness.daemon.log().suffix(3000))")
            #expect(!harness.daemon.log().contains("Fatal error"))
            _ = await outcomes
            try await harness.daemon.start()
            // Whatever the calls got done, a new removal finishes the pod and leaves nothing.
            try await PodSandboxTests.remove(harness.daemon, pod)
            await expectCode(.notFound) { _ = try await PodSandboxTests.status(harness.daemon, pod) }
        }
    }

    @Test func aPodWhoseHandlerLeftTheConfigurationIsStillStoppedAndRemoved() async throws {
        let handler =
            "[runtime.handlers.runc]\nruntime_path = \"runc\"\n[runtime.handlers.departed]\nruntime_path = \"crun\"\n"
        try await ContainerHarness.with(handler: "departed", sharedPID: true, extraConfig: handler) { harness in
            let id = try await harness.run(
                harness.config("orphaned", ["/bin/sleep", "1451"]) { config in
                    config.linux.securityContext.namespaceOptions.pid = .pod
                }
            )
            _ = try await harness.create(harness.config("orphaned-created", ["/bin/sleep", "1451"]))
            try await harness.daemon.stop()
            let config = try String(contentsOfFile: harness.daemon.configPath, encoding: .utf8)
            try config.replacingOccurrences(of: "[runtime.handlers.departed]\nruntime_path = \"crun\"\n", with: "")
                .write(toFile: harness.daemon.configPath, atomically: true, encoding: .utf8)
            try await harness.daemon.start()
            #expect(try await harness.status(id).status.state == .containerRunning, "the container still runs")
            try await PodSandboxTests.stop(harness.daemon, harness.podID)
            #expect(try await harness.status(id).status.state == .containerExited)
            try await PodSandboxTests.remove(harness.daemon, harness.podID)
            #expect(ContainerHarness.processes(mentioning: "sleep 1451").isEmpty, "the containers' processes are gone")
        }
    }
}

/// runsc does not end a created container on a signal: StopPodSandbox ends it with
/// `delete --force` (and its shim holder with SIGTERM), then the pod's sandbox, instead of
/// waiting a minute and failing.
///
/// The pod has a network namespace of its own. runsc's host networking reads the interfaces of
/// the namespace it starts in, and in the node's, where the tests running beside this one add,
/// move and delete veths, the sandbox's start once failed with "no such device" (CI, ca2bf78).
@Suite(.serialized) struct GVisorTeardownTests {
    @Test(.enabled(if: SandboxedPodTests.runscInstalled))
    func aGVisorContainerCreatedButNeverStartedIsStoppedAndRemoved() async throws {
        try await SandboxedPodTests.withGVisorPod("gvisor-teardown") { harness, _ in
            _ = try await harness.create(harness.config("gvisor-created", ["/bin/sleep", "1452"]))
            let started = ContinuousClock.now
            try await PodSandboxTests.stop(harness.daemon, harness.podID)
            #expect(
                ContinuousClock.now - started < .seconds(30),
                "StopPodSandbox took \(ContinuousClock.now - started)"
            )
            try await PodSandboxTests.remove(harness.daemon, harness.podID)
            let left = ContainerHarness.processes(mentioning: harness.daemon.directory).filter {
                !$0.contains("skiffd")
            }
            #expect(left.isEmpty, "runsc's sandbox, gofer or conmon left: \(left)")
        }
    }
}
