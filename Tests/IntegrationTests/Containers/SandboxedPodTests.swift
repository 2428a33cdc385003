import CRIAPI
import Foundation
import GRPCCore
import Testing

/// gVisor pods through a real skiffd: Debian's runsc as the `runsc` RuntimeClass handler, pods on
/// a per-run CNI bridge. runsc 20221219 cannot start its own network stack on this kernel
/// (docs/runtimeclass.md), so the handler runs with `--network=host`: the sandbox uses the pod's
/// network namespace through the host kernel.
@Suite(.serialized) struct SandboxedPodTests {
    static let config = """
        [runtime.handlers.runc]
        runtime_path = "runc"
        [runtime.handlers.runsc]
        runtime_path = "runsc"
        runtime_args = ["--network=host"]
        """

    static var runscInstalled: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/runsc") }

    /// The pod's sandbox process and its gofer, found by the runtime root they were given.
    static func sandboxProcesses(_ daemon: DaemonHarness) -> [String] {
        IntegrationTests.processes(mentioning: daemon.directory + "/state/runtime/runsc").map(\.commandLine)
            .filter { $0.contains("runsc") && !$0.contains("skiff-sandbox-shim") }
    }

    /// A runsc pod on a per-run CNI bridge, with the busybox image; removed and checked after.
    static func withGVisorPod(
        _ name: String,
        _ body: (ContainerHarness, _ podIP: String) async throws -> Void
    ) async throws {
        try await NetworkedContainerTests.withNetworkedPod(
            name,
            handler: "runsc",
            extraConfig: config,
            configure: { _ in },
            { harness, podIP, _ in try await body(harness, podIP) }
        )
    }

    /// curl from the node, with a deadline.
    static func fetch(_ url: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sS", "--max-time", "5", url]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test(.enabled(if: runscInstalled))
    func twoContainersShareTheSandboxsNetworkShmAndKernel() async throws {
        try await Self.withGVisorPod("gvisor") { harness, podIP in
            let daemon = harness.daemon
            #expect(!Self.sandboxProcesses(daemon).isEmpty, "the pod's sandbox runs from RunPodSandbox on")
            let webRoot = try NetworkedContainerTests.webRoot(daemon, page: "served inside gVisor\n")
            let serve = "echo server-up; echo shared > /dev/shm/marker; exec /bin/httpd -f -p 8080 -h /www"
            let server = try await harness.run(
                harness.config("httpd", ["/bin/sh", "-c", serve]) { $0.mounts = [webRoot] }
            )
            try await harness.waitForLog("httpd", containing: "server-up")

            // The other container reaches the server on the pod's loopback and sees its /dev/shm.
            let client = try await harness.run(
                harness.config(
                    "client",
                    [
                        "/bin/sh", "-c",
                        "for i in $(seq 1 50); do page=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 8080); case \"$page\" in *served*) echo \"$page\"; break ;; esac; sleep 0.1; done; cat /dev/shm/marker; echo err-line >&2; exit 3",
                    ]
                )
            )
            let clientStatus = try await harness.waitForExit(client)
            #expect(clientStatus.exitCode == 3)
            let lines = harness.logLines("client")
            #expect(harness.stdout("client").contains("served inside gVisor"), "\(lines)")
            #expect(lines.contains { $0.stream == "stdout" && $0.message == "shared" }, "\(lines)")
            #expect(lines.contains { $0.stream == "stderr" && $0.message == "err-line" }, "\(lines)")

            // gVisor's kernel, not the node's.
            let kernel = String(
                decoding: try await harness.execSync(server, ["/bin/uname", "-r"]).stdout,
                as: UTF8.self
            )
            let node = try String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)
            #expect(kernel != node, "uname -r inside: \(kernel)")
            let exit = try await harness.execSync(server, ["/bin/sh", "-c", "exit 7"])
            #expect(exit.exitCode == 7)

            // The node reaches the server at the pod's IP.
            var fetched = ""
            for _ in 0..<20 where !fetched.hasPrefix("served") {
                fetched = try Self.fetch("http://\(podIP):8080/")
                if !fetched.hasPrefix("served") { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(fetched == "served inside gVisor\n")

            // An exec past its timeout is killed inside the sandbox, not only runsc's process.
            await #expect(throws: RPCError.self) {
                _ = try await harness.execSync(server, ["/bin/sleep", "37"], timeout: 1)
            }
            let processes = String(decoding: try await harness.execSync(server, ["/bin/ps"]).stdout, as: UTF8.self)
            #expect(!processes.contains("sleep 37"), "\(processes)")

            // Usage as the sandbox accounts it.
            var statsRequest = Runtime_V1_ContainerStatsRequest()
            statsRequest.containerID = server
            let stats = try await daemon.runtime { try await $0.containerStats(statsRequest) }.stats
            #expect(stats.cpu.usageCoreNanoSeconds.value > 0, "\(stats.cpu)")
            #expect(stats.memory.workingSetBytes.value > 0, "\(stats.memory)")

            // Port-forward into the pod's network namespace, and an interactive exec on a terminal.
            // (busybox httpd on gVisor's host network now and then answers a connection with
            // nothing, from the node as from the pod: each fetch is tried again, as a client would.)
            var forwarded: [String: Any] = [:]
            var head = ""
            for _ in 0..<20 where !head.contains("served inside gVisor") {
                forwarded = try await PortForwardStreamTests.forward(
                    try await PortForwardStreamTests.url(daemon, harness.podID),
                    port: 8080,
                    websocket: false
                )
                head = PortForwardStreamTests.results(forwarded).first?["data_head"] as? String ?? ""
            }
            #expect(head.contains("served inside gVisor"), "\(forwarded)")
            let url = try await ExecStreamTests.execURL(
                harness,
                server,
                // gVisor gives the command the runtime's terminal as a host file: a terminal
                // (isatty) with no name under /dev/pts, so `tty` would say "not a tty".
                ["/bin/sh", "-c", "test -t 0 && test -t 1 && echo on-a-terminal; exit 6"],
                stdin: false,
                tty: true
            )
            let interactive = try await SPDYExecStreamTests.client(url, ["--tty", "--steps", "wait:on-a-terminal"])
            #expect((interactive["stdout"] as? String ?? "").contains("on-a-terminal"), "\(interactive)")

            // Stop: the server ends by its stop signal inside the sandbox.
            try await harness.stop(server, timeout: 10)
            let stopped = try await harness.status(server).status
            #expect(stopped.state == .containerExited)
            #expect(stopped.exitCode == 143 || stopped.exitCode == 137, "\(stopped.exitCode)")
        }
    }

    @Test(.enabled(if: runscInstalled))
    func aSandboxedPodSurvivesASIGKILLOfSkiffdAndGoesWithoutLeftovers() async throws {
        try await Self.withGVisorPod("gvisor-kill") { harness, _ in
            let daemon = harness.daemon
            let sleeper = try await harness.run(harness.config("sleeper", ["/bin/sleep", "1000"]))
            #expect(try await daemon.stop(signal: SIGKILL) == SIGKILL)
            try await daemon.start()
            let pod = try await PodSandboxTests.status(daemon, harness.podID)
            #expect(pod.state == .sandboxReady)
            #expect(try await harness.status(sleeper).status.state == .containerRunning)
            #expect(try await harness.execSync(sleeper, ["/bin/echo", "still"]).stdout == Data("still\n".utf8))
            // A container created after the restart joins the same sandbox.
            let late = try await harness.run(harness.config("late", ["/bin/sh", "-c", "echo late; exit 0"]))
            #expect(try await harness.waitForExit(late).exitCode == 0)
            #expect(harness.stdout("late").contains("late"))
            // A created, never started container goes with its pod.
            _ = try await harness.create(harness.config("never", ["/bin/sleep", "1"]))
            var stop = Runtime_V1_StopPodSandboxRequest()
            stop.podSandboxID = harness.podID
            _ = try await daemon.runtime { try await $0.stopPodSandbox(stop) }
            #expect(Self.sandboxProcesses(daemon).isEmpty, "\(Self.sandboxProcesses(daemon))")
        }
    }

    @Test(.enabled(if: runscInstalled))
    func whatASandboxCannotDoIsRefusedByName() async throws {
        try await withDaemon(extraConfig: Self.config) { daemon in
            var config = PodSandboxTests.config("gvisor-hostpid", hostNetwork: true)
            config.linux.securityContext.namespaceOptions.pid = .node
            do {
                _ = try await PodSandboxTests.run(daemon, config, handler: "runsc")
                Issue.record("a host-PID pod ran in a sandbox")
            } catch let error as RPCError {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains("runsc") && error.message.contains("PID"), "\(error.message)")
            }
            #expect(try PodSandboxTests.leftovers(daemon).isEmpty)
        }
    }
}
