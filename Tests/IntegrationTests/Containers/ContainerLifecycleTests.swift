import CRIAPI
import Foundation
import GRPCCore
import Testing

/// Containers through a real skiffd: runc under conmon, overlay root filesystems over pulled
/// layers, CRI log files, exit codes.
@Suite(.serialized) struct ContainerLifecycleTests {
    @Test func aContainerLogsBothStreamsAndExitsWithItsCode() async throws {
        try await ContainerHarness.with { harness in
            let config = harness.config("printer", ["/bin/sh", "-c", "echo out; echo err >&2; printf partial; exit 3"])
            let id = try await harness.create(config)
            let created = try await harness.status(id).status
            #expect(created.state == .containerCreated)
            #expect(created.metadata.name == "printer")
            #expect(created.logPath == harness.logPath("printer"))
            #expect(created.imageRef.contains("@sha256:"))
            try await harness.start(id)
            let status = try await harness.waitForExit(id)
            #expect(status.exitCode == 3)
            #expect(status.reason == "Error")
            #expect(status.startedAt > 0 && status.finishedAt >= status.startedAt)
            let lines = harness.logLines("printer")
            #expect(lines.contains { $0.stream == "stdout" && $0.tag == "F" && $0.message == "out" }, "\(lines)")
            #expect(lines.contains { $0.stream == "stderr" && $0.tag == "F" && $0.message == "err" }, "\(lines)")
            #expect(lines.contains { $0.stream == "stdout" && $0.tag == "P" && $0.message == "partial" }, "\(lines)")
            // Every line starts with an RFC 3339 timestamp.
            let text = try String(contentsOfFile: harness.logPath("printer"), encoding: .utf8)
            #expect(
                text.split(separator: "\n").allSatisfy {
                    ISO8601DateFormatter.withFractions.date(from: String($0.prefix { $0 != " " })) != nil
                },
                "\(text)"
            )

            let listed = try await harness.daemon.runtime {
                try await $0.listContainers(Runtime_V1_ListContainersRequest())
            }.containers
            #expect(listed.map(\.id) == [id])
            #expect(listed.first?.state == .containerExited)
            try await harness.remove(id)
            try await harness.remove(id)  // idempotent
            await #expect(throws: RPCError.self) { try await harness.status(id) }
        }
    }

    @Test func theCrunHandlerRunsContainersToo() async throws {
        try await ContainerHarness.with(handler: "crun") { harness in
            let id = try await harness.run(harness.config("crunned", ["/bin/sh", "-c", "echo under crun; exit 4"]))
            let status = try await harness.waitForExit(id)
            #expect(status.exitCode == 4)
            #expect(harness.stdout("crunned") == "under crun\n")
            let verbose = try await harness.status(id, verbose: true)
            #expect(verbose.info["info"]?.contains("\"runtimeHandler\":\"crun\"") == true)
            let sleeper = try await harness.run(harness.config("crun-sleeper", ["/bin/sleep", "100"]))
            let exec = try await harness.execSync(sleeper, ["/bin/sh", "-c", "echo exec under crun"])
            #expect(String(decoding: exec.stdout, as: UTF8.self) == "exec under crun\n")
            try await harness.stop(sleeper, timeout: 0)
            #expect(try await harness.status(sleeper).status.exitCode == 137)
        }
    }

    @Test func environmentUserAndWorkingDirectoryMergeImageAndConfig() async throws {
        try await ContainerHarness.with { harness in
            let config = harness.config(
                "whoami",
                ["/bin/sh", "-c", "id -u; id -g; echo $FIXTURE $FOO; pwd; echo $HOME; cat /etc/hostname"]
            ) { config in
                var foo = Runtime_V1_KeyValue()
                foo.key = "FOO"
                foo.value = Data("from-config".utf8)
                var fixture = Runtime_V1_KeyValue()
                fixture.key = "FIXTURE"
                fixture.value = Data("overridden".utf8)
                config.envs = [foo, fixture]
                config.workingDir = "/tmp"
                config.linux.securityContext.runAsUsername = "app"
            }
            let id = try await harness.run(config)
            #expect(try await harness.waitForExit(id).exitCode == 0)
            #expect(
                harness.stdout("whoami")
                    == "1000\n1000\noverridden from-config\n/tmp\n/home/app\n\(ContainerHarness.nodeHostname())\n"
            )
        }
    }

    @Test func aLongRunningContainerStopsOnItsSignalOrIsKilledAfterTheGracePeriod() async throws {
        try await ContainerHarness.with { harness in
            let polite = try await harness.run(
                harness.config(
                    "polite",
                    ["/bin/sh", "-c", "trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 0.1; done"]
                )
            )
            let stubborn = try await harness.run(
                harness.config(
                    "stubborn",
                    ["/bin/sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"]
                )
            )
            try await harness.waitForLog("polite", containing: "ready")
            try await harness.waitForLog("stubborn", containing: "ready")
            #expect(try await harness.status(polite).status.state == .containerRunning)

            var started = ContinuousClock.now
            try await harness.stop(polite, timeout: 10)
            #expect(ContinuousClock.now - started < .seconds(5))
            let politeStatus = try await harness.status(polite).status
            #expect(politeStatus.state == .containerExited)
            #expect(politeStatus.exitCode == 0)
            #expect(politeStatus.reason == "Completed")
            #expect(harness.stdout("polite").contains("got TERM"))

            started = ContinuousClock.now
            try await harness.stop(stubborn, timeout: 1)
            let waited = ContinuousClock.now - started
            #expect(waited >= .seconds(1) && waited < .seconds(6), "\(waited)")
            #expect(try await harness.status(stubborn).status.exitCode == 137)
            try await harness.stop(stubborn, timeout: 1)  // idempotent
        }
    }

    @Test func badRequestsGetClearStatuses() async throws {
        try await ContainerHarness.with { harness in
            await expectCode(.notFound) {
                _ = try await harness.create(harness.config("x", ["/bin/true"]) { $0.image.image = "missing/image:1" })
            }
            await expectCode(.notFound) {
                _ = try await harness.create(harness.config("x", ["/bin/true"]), in: "no-such-pod")
            }
            await expectCode(.invalidArgument) { _ = try await harness.create(harness.config("", ["/bin/true"])) }
            await expectCode(.notFound) { try await harness.start("no-such-container") }
            let id = try await harness.create(harness.config("once", ["/bin/sleep", "100"]))
            await expectCode(.alreadyExists) {
                _ = try await harness.create(harness.config("once", ["/bin/sleep", "100"]))
            }
            try await harness.start(id)
            await expectCode(.failedPrecondition) { try await harness.start(id) }
            try await harness.remove(id)  // removes a running container
            #expect(ContainerHarness.processes(mentioning: id).isEmpty)
        }
    }
}

/// `body` fails with `code`, and (when given) a message containing `text`.
func expectCode(
    _ code: RPCError.Code,
    containing text: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected \(code), got success", sourceLocation: sourceLocation)
    } catch let error as RPCError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        if let text { #expect(error.message.contains(text), "\(error.message)", sourceLocation: sourceLocation) }
    } catch {
        Issue.record("expected \(code), got \(error)", sourceLocation: sourceLocation)
    }
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let withFractions: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}

extension ContainerHarness {
    static func nodeHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(cString: buffer)
    }
}
