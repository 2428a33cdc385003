import CRIAPI
import Foundation
import GRPCCore
import Testing

/// What the kubelet's client does on a busy node: probes whose ExecSync times out, calls whose
/// deadline passes while skiffd is still working, and their retries.
@Suite(.serialized) struct ReliabilityTests {
    /// A process of the node as /proc shows it.
    struct NodeProcess: Equatable, CustomStringConvertible {
        var pid: Int32
        var state: String
        var name: String
        var description: String { "\(pid) \(state) \(name)" }
    }

    /// Every process in the PID namespace of `pid`, with its state (Z for a zombie).
    static func namespaceMembers(of pid: Int32) -> [NodeProcess] {
        guard let namespace = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid") else {
            return []
        }
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap {
            entry -> NodeProcess? in
            guard let member = Int32(entry),
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/ns/pid")) == namespace,
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")"), open < close
            else { return nil }
            let name = String(stat[stat.index(after: open)..<close])
            let state = stat[close...].dropFirst(2).prefix(1)
            return NodeProcess(pid: member, state: String(state), name: name)
        }.sorted { $0.pid < $1.pid }
    }

    /// The host pid of the process whose command line contains `text`, once it runs.
    static func waitForProcess(_ text: String, timeout: Duration = .seconds(10)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let found = processes(mentioning: text).first { return found.pid }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessError("no process running \(text) within \(timeout)")
    }

    /// Waits until the container's namespace holds exactly `expected` (the kill and the reap
    /// happen just after the rpc answers); returns what it holds.
    static func settle(_ initPID: Int32, to expected: [NodeProcess]) async throws -> [NodeProcess] {
        var members = namespaceMembers(of: initPID)
        for _ in 0..<150 where members != expected {
            try await Task.sleep(for: .milliseconds(20))
            members = namespaceMembers(of: initPID)
        }
        return members
    }

    @Test(arguments: ["runc", "crun"])
    func aTimedOutOrCancelledExecSyncLeavesNoProcessAndNoZombie(handler: String) async throws {
        try await ContainerHarness.with(handler: handler) { harness in
            // PID 1 of the container is a sleep, which reaps nothing: anything re-parented to
            // it would stay a zombie.
            let id = try await harness.run(harness.config("probed", ["/bin/sleep", "7777"]))
            let initPID = try await Self.waitForProcess("sleep 7777")
            let before = Self.namespaceMembers(of: initPID)
            #expect(before.map(\.name) == ["sleep"])
            let daemonPID = try #require(harness.daemon.process?.processIdentifier)

            for _ in 0..<3 {
                let started = ContinuousClock.now
                await expectCode(.deadlineExceeded) {
                    _ = try await harness.execSync(id, ["/bin/sleep", "4321"], timeout: 1)
                }
                #expect(ContinuousClock.now - started < .seconds(4))
                let after = try await Self.settle(initPID, to: before)
                #expect(after == before, "\(handler): left in the container after a timed-out ExecSync: \(after)")
            }

            // The client's own deadline (no ExecSync timeout): the rpc is cancelled, the command too.
            var request = Runtime_V1_ExecSyncRequest()
            request.containerID = id
            request.cmd = ["/bin/sleep", "4322"]
            var options = CallOptions.defaults
            options.timeout = .milliseconds(800)
            await expectCode(.deadlineExceeded) {
                _ = try await harness.daemon.runtime { try await $0.execSync(request, options: options) }
            }
            let afterCancel = try await Self.settle(initPID, to: before)
            #expect(
                afterCancel == before,
                "\(handler): left in the container after a cancelled ExecSync: \(afterCancel)"
            )

            // Nothing of the execs anywhere on the node, and nothing adopted by skiffd waits to be reaped.
            #expect(processes(mentioning: "sleep 432").isEmpty)
            let children = Self.childrenOf(daemonPID).filter { $0.state == "Z" }
            #expect(children.isEmpty, "zombie children of skiffd: \(children)")
            #expect(try await harness.execSync(id, ["/bin/echo", "still fine"]).stdout == Data("still fine\n".utf8))
        }
    }

    @Test func aTimedOutExecThatForkedLeavesNothingInAPodWhosePauseReaps() async throws {
        try await ContainerHarness.with(sharedPID: true) { harness in
            let id = try await harness.run(
                harness.config("forker-target", ["/bin/sleep", "7778"]) { config in
                    config.linux.securityContext.namespaceOptions.pid = .pod
                }
            )
            let containerPID = try await Self.waitForProcess("sleep 7778")
            let before = Self.namespaceMembers(of: containerPID)
            await expectCode(.deadlineExceeded) {
                _ = try await harness.execSync(
                    id,
                    ["/bin/sh", "-c", "/bin/sleep 4331 & /bin/sleep 4332 & wait"],
                    timeout: 1
                )
            }
            let after = try await Self.settle(containerPID, to: before)
            #expect(after == before, "left in the pod after a timed-out ExecSync that forked: \(after)")
        }
    }

    /// Processes whose parent is `pid`.
    static func childrenOf(_ pid: Int32) -> [NodeProcess] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> NodeProcess? in
            guard let child = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[close...].dropFirst(2).split(separator: " ")
            guard fields.count > 1, Int32(fields[1]) == pid else { return nil }
            return NodeProcess(pid: child, state: String(fields[0]), name: "")
        }
    }

    /// A handler whose runtime takes 2 s over every `create`, and a pause that takes 2 s to
    /// start, so that a client's deadline passes while skiffd is creating.
    static func slowHandlerConfig(in directory: String) throws -> String {
        try ContainerHarness.wrapperPauseConfig(in: directory, script: "[ \"$1\" = start ] && sleep 2") + "\n"
            + ContainerHarness.wrapperHandlerConfig(
                "slow",
                in: directory,
                script: """
                    for argument in "$@"; do [ "$argument" = create ] && sleep 2 && break; done
                    exec runc "$@"
                    """
            )
    }

    @Test func aCreationWhoseClientGaveUpIsWhatItsRetryGets() async throws {
        let scratch = "/tmp/skiff-slow-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try await ContainerHarness.with(handler: "slow", extraConfig: try Self.slowHandlerConfig(in: scratch)) {
            harness in
            var short = CallOptions.defaults
            short.timeout = .milliseconds(500)

            // CreateContainer: the client gives up, skiffd finishes, the retry gets that container.
            var create = Runtime_V1_CreateContainerRequest()
            create.podSandboxID = harness.podID
            create.config = harness.config("retried", ["/bin/sleep", "100"])
            await expectCode(.deadlineExceeded) {
                _ = try await harness.daemon.runtime { try await $0.createContainer(create, options: short) }
            }
            // The retry comes after skiffd has finished (the kubelet backs off): the unclaimed container.
            try await Task.sleep(for: .seconds(3))
            let retried = try await harness.daemon.runtime { try await $0.createContainer(create) }.containerID
            let listed = try await harness.daemon.runtime { try await $0.listContainers(.init()) }.containers
            #expect(listed.map(\.id) == [retried], "one container, the first call's: \(listed.map(\.id))")
            // Claimed now: the same request again is a duplicate naming the holder.
            do {
                _ = try await harness.daemon.runtime { try await $0.createContainer(create) }
                Issue.record("a third CreateContainer for a claimed container succeeded")
            } catch let error as RPCError {
                #expect(error.code == .alreadyExists)
                #expect(error.message.contains(retried), "\(error.message)")
            }
            // A retry that arrives while the first call is still running waits for it.
            create.config = harness.config("joined", ["/bin/sleep", "100"])
            let joined = create
            async let first = harness.daemon.runtime { try await $0.createContainer(joined) }.containerID
            try await Task.sleep(for: .milliseconds(300))
            let second = try await harness.daemon.runtime { try await $0.createContainer(joined) }.containerID
            #expect(try await first == second)

            // RunPodSandbox of a shared-PID pod (its pause slow to start).
            var run = Runtime_V1_RunPodSandboxRequest()
            run.config = PodSandboxTests.config("retried-pod", hostNetwork: true)
            run.config.linux.securityContext.namespaceOptions.pid = .pod
            run.runtimeHandler = "slow"
            await expectCode(.deadlineExceeded) {
                _ = try await harness.daemon.runtime { try await $0.runPodSandbox(run, options: short) }
            }
            let pod = try await harness.daemon.runtime { try await $0.runPodSandbox(run) }.podSandboxID
            let pods = try await harness.daemon.runtime { try await $0.listPodSandbox(.init()) }.items.filter {
                $0.metadata.name == "retried-pod"
            }
            #expect(pods.map(\.id) == [pod])
            #expect(try await PodSandboxTests.status(harness.daemon, pod).state == .sandboxReady)
        }
    }
}
