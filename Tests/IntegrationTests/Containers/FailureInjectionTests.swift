import CRIAPI
import Foundation
import GRPCCore
import Testing

/// A runtime that fails at a chosen step (create, start, kill, delete) of every container and
/// pause: each failing Create/Start/Run undoes what it did, and whatever is left can be removed,
/// leaving nothing — records, bundles, attach links, exit files, writable layers, mounts,
/// processes, cgroups.
@Suite(.serialized) struct FailureInjectionTests {
    /// A runc wrapper that fails the subcommands listed (one a line) in `<directory>/fail-at`,
    /// and delays by two seconds those in `<directory>/delay-at` (leaving `delayed-<subcommand>`).
    static func flakyHandlerConfig(in directory: String) throws -> String {
        try ContainerHarness.wrapperPauseConfig(
            in: directory,
            script: """
                if [ "$1" = start ] && grep -qx pause \(directory)/fail-at 2>/dev/null; then echo "injected failure of the pause" >&2; exit 1; fi
                """
        ) + "\n"
            + ContainerHarness.wrapperHandlerConfig(
                "flaky",
                in: directory,
                script: """
                    for argument in "$@"; do
                      case "$argument" in
                        create|start|kill|delete|state|exec|update)
                          if grep -qx "$argument" \(directory)/fail-at 2>/dev/null; then echo "injected failure of $argument" >&2; exit 1; fi
                          if grep -qx "$argument" \(directory)/delay-at 2>/dev/null; then touch \(directory)/delayed-$argument; sleep 2; fi
                          break;;
                      esac
                    done
                    exec runc "$@"
                    """
            )
    }

    static func failAt(_ step: String?, in directory: String) throws {
        let path = directory + "/fail-at"
        if let step {
            try step.write(toFile: path, atomically: true, encoding: .utf8)
        } else {
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    static func withFlakyRuntime(_ body: (ContainerHarness, String) async throws -> Void) async throws {
        let scratch = "/tmp/skiff-flaky-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try await ContainerHarness.with(handler: "flaky", extraConfig: try Self.flakyHandlerConfig(in: scratch)) {
            harness in
            try await body(harness, scratch)
        }
    }

    /// Files of containers in the daemon's directories (the harness pod's own are not counted).
    static func containerFiles(_ daemon: DaemonHarness) -> [String] {
        HostileRequestTests.objectFiles(daemon).filter { !$0.hasPrefix("state/sandboxes") }
    }

    @Test func aFailedCreateLeavesNothing() async throws {
        try await Self.withFlakyRuntime { harness, scratch in
            try Self.failAt("create", in: scratch)
            do {
                _ = try await harness.create(harness.config("refused", ["/bin/sleep", "1000"]))
                Issue.record("the runtime failed create, yet the container was created")
            } catch {
                #expect("\(error)".contains("injected failure of create"), "the runtime's reason is kept: \(error)")
            }
            #expect(Self.containerFiles(harness.daemon).isEmpty, "left: \(Self.containerFiles(harness.daemon))")
            #expect(ContainerHarness.processes(mentioning: harness.daemon.directory + "/state/containers").isEmpty)
            try Self.failAt(nil, in: scratch)
            let id = try await harness.run(harness.config("refused", ["/bin/sh", "-c", "exit 0"]))
            #expect(try await harness.waitForExit(id).exitCode == 0, "the same name is free again")
        }
    }

    /// skiffd SIGKILLed while the runtime creates a container: conmon and its `runc create` go
    /// on without it. The restarted daemon removes the container it never recorded, and what the
    /// late create makes (runtime state, process, cgroup) must go with it, not appear afterwards.
    @Test func aCreateCutShortBySIGKILLLeavesNothingOnceTheRuntimeFinishes() async throws {
        try await Self.withFlakyRuntime { harness, scratch in
            try "create".write(toFile: scratch + "/delay-at", atomically: true, encoding: .utf8)
            let marker = "4\(Int.random(in: 100_000...999_999))"
            let creating = Task { try await harness.create(harness.config("interrupted", ["/bin/sleep", marker])) }
            try await waitUntil("the runtime's create began") {
                FileManager.default.fileExists(atPath: scratch + "/delayed-create")
            }
            try await harness.daemon.stop(signal: SIGKILL)
            _ = await creating.result
            try FileManager.default.removeItem(atPath: scratch + "/delay-at")
            try await harness.daemon.start()
            try await waitUntil("the cut-short create ended") {
                !processes(mentioning: scratch + "/flaky-runc").contains { $0.commandLine.hasPrefix("/bin/sh ") }
            }
            let removal = try #require(
                harness.daemon.log().split(separator: "\n").first {
                    $0.contains("removing a container that was being created")
                }
            )
            let id = try #require(removal.split(separator: "id=").last.map { String($0.prefix(64)) })
            #expect(ContainerHarness.processes(mentioning: marker).isEmpty, "the container's process is left")
            #expect(ContainerHarness.processes(mentioning: id).isEmpty, "conmon or the runtime is left")
            let cgroup = "/sys/fs/cgroup/pids/skiff/skiff-\(id)"
            #expect(
                !FileManager.default.fileExists(atPath: cgroup),
                "\(cgroup) holds \((try? String(contentsOfFile: cgroup + "/cgroup.procs", encoding: .utf8)) ?? "")"
            )
            #expect(
                ContainerHarness.processes(mentioning: harness.daemon.stateDir + "/containers").isEmpty,
                "conmon is left"
            )
            #expect(Self.containerFiles(harness.daemon).isEmpty, "left: \(Self.containerFiles(harness.daemon))")
            let containers = try await harness.daemon.runtime { try await $0.listContainers(.init()) }.containers
            #expect(containers.isEmpty)
        }
    }

    @Test func aFailedStartLeavesAContainerThatRemovesCleanly() async throws {
        try await Self.withFlakyRuntime { harness, scratch in
            let id = try await harness.create(harness.config("unstarted", ["/bin/sleep", "1000"]))
            try Self.failAt("start", in: scratch)
            await expectCode(.internalError) { try await harness.start(id) }
            let state = try await harness.status(id).status.state
            #expect(state != .containerRunning, "a container whose start failed is not running: \(state)")
            try Self.failAt(nil, in: scratch)
            try await harness.remove(id)
            #expect(Self.containerFiles(harness.daemon).isEmpty, "left: \(Self.containerFiles(harness.daemon))")
        }
    }

    @Test func aFailedDeleteIsRetriedToTheEnd() async throws {
        try await Self.withFlakyRuntime { harness, scratch in
            let id = try await harness.run(harness.config("sticky", ["/bin/sleep", "1000"]))
            try Self.failAt("delete", in: scratch)
            do {
                try await harness.remove(id)
                Issue.record("the runtime failed delete, yet the container was removed")
            } catch {}
            try Self.failAt(nil, in: scratch)
            try await harness.remove(id)
            #expect(Self.containerFiles(harness.daemon).isEmpty, "left: \(Self.containerFiles(harness.daemon))")
        }
    }

    @Test(arguments: [["kill"], ["kill", "delete"]])
    func aRuntimeThatCannotKillIsForced(failing steps: [String]) async throws {
        try await Self.withFlakyRuntime { harness, scratch in
            let id = try await harness.run(harness.config("unkillable", ["/bin/sleep", "1000"]))
            try Self.failAt(steps.joined(separator: "\n"), in: scratch)
            let started = ContinuousClock.now
            try await harness.stop(id, timeout: 1)
            #expect(ContinuousClock.now - started < .seconds(30))
            let status = try await harness.status(id).status
            #expect(status.state == .containerExited)
            #expect(status.exitCode == 137, "\(status.exitCode) \(status.message)")
            if steps.contains("delete") {
                // Neither kill nor delete --force worked: conmon and the cgroup's processes were killed.
                #expect(status.message.contains("killed by skiffd"), "\(status.message)")
            }
            let left =
                (try? String(contentsOfFile: "/sys/fs/cgroup/pids/skiff/skiff-\(id)/cgroup.procs", encoding: .utf8))
                ?? ""
            #expect(left.isEmpty, "processes left in the container's cgroup: \(left)")
            try Self.failAt(nil, in: scratch)
            try await harness.remove(id)
            #expect(Self.containerFiles(harness.daemon).isEmpty)
        }
    }

    @Test func aPauseThatFailsToStartUndoesItsPod() async throws {
        try await Self.withFlakyRuntime { harness, scratch in
            try Self.failAt("pause", in: scratch)
            var config = PodSandboxTests.config("pause-fails", hostNetwork: true)
            config.linux.securityContext.namespaceOptions.pid = .pod
            do {
                _ = try await PodSandboxTests.run(harness.daemon, config, handler: "flaky")
                Issue.record("the pause failed to start, yet the pod was made")
            } catch let error as RPCError {
                #expect(error.code == .internalError)
                #expect(error.message.contains("injected failure of the pause"), "the reason is kept: \(error.message)")
            }
            let pods = try await harness.daemon.runtime {
                try await $0.listPodSandbox(Runtime_V1_ListPodSandboxRequest())
            }.items
            #expect(pods.map(\.id) == [harness.podID], "only the harness's pod is left")
            let sandboxes = try FileManager.default.contentsOfDirectory(atPath: harness.daemon.stateDir + "/sandboxes")
                .filter { !$0.hasPrefix(".") }
            #expect(sandboxes == [harness.podID])
            #expect(
                ContainerHarness.processes(mentioning: harness.daemon.stateDir + "/sandboxes").isEmpty,
                "no conmon or pause of the pod is left"
            )
            #expect(Self.containerFiles(harness.daemon).isEmpty, "left: \(Self.containerFiles(harness.daemon))")
        }
    }
}
