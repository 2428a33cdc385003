import CRIAPI
import Foundation
import GRPCCore
import Testing

/// Attach over WebSocket through a real skiffd and conmon's attach socket.
@Suite(.serialized) struct AttachStreamTests {
    static func attachURL(_ harness: ContainerHarness, _ id: String, stdin: Bool) async throws -> String {
        var request = Runtime_V1_AttachRequest()
        request.containerID = id
        request.stdin = stdin
        request.stdout = true
        request.stderr = true
        return try await harness.daemon.runtime { try await $0.attach(request) }.url
    }

    /// A container reading lines from stdin (closed after the first attach, stdin_once) and
    /// echoing them to stdout and stderr, running once it printed "before".
    static func interactive(_ harness: ContainerHarness, _ name: String) async throws -> String {
        let script = "echo before; while read line; do echo \"got $line\"; echo \"err $line\" >&2; done; echo bye"
        let id = try await harness.run(
            harness.config(name, ["/bin/sh", "-c", script]) { config in
                config.stdin = true
                config.stdinOnce = true
            }
        )
        try await harness.waitForLog(name, containing: "before")
        return id
    }

    @Test func attachRelaysNewOutputAndStdinAndEndsWhenTheContainerExits() async throws {
        try await ContainerHarness.with { harness in
            let id = try await Self.interactive(harness, "interactive")
            let url = try await Self.attachURL(harness, id, stdin: true)
            #expect(url.contains("/attach/"))
            let channels = try await ExecStreamTests.session {
                let client = try WebSocketTestClient(url: url, protocols: ["v5.channel.k8s.io"])
                try client.send(channel: 0, Array("hello\n".utf8))
                // Wait for the echo before closing stdin, so the order is fixed.
                var early: [UInt8: [UInt8]] = [:]
                while !(String(decoding: early[1] ?? [], as: UTF8.self).contains("got hello")) {
                    guard let frame = try client.receive(), let channel = frame.payload.first else { break }
                    early[channel, default: []] += frame.payload.dropFirst()
                }
                try client.send(channel: 255, [0])
                let rest = try client.collect().channels
                return early.merging(rest) { $0 + $1 }
            }
            let stdout = String(decoding: channels[1] ?? [], as: UTF8.self)
            #expect(stdout == "got hello\nbye\n", "earlier output is not replayed: \(stdout)")
            #expect(String(decoding: channels[2] ?? [], as: UTF8.self) == "err hello\n")
            #expect(try ExecStreamTests.status(channels)["status"] as? String == "Success")
            let status = try await harness.waitForExit(id)
            #expect(status.exitCode == 0)
        }
    }

    @Test func detachingLeavesTheContainerRunningAndBadAttachesAreRefused() async throws {
        try await ContainerHarness.with { harness in
            let id = try await harness.run(
                harness.config("ticking", ["/bin/sh", "-c", "while true; do echo tick; sleep 0.1; done"])
            )
            let url = try await Self.attachURL(harness, id, stdin: false)
            let first = try await ExecStreamTests.session {
                let client = try WebSocketTestClient(url: url, protocols: ["v4.channel.k8s.io"])
                return try client.receive()?.payload ?? []
            }
            #expect(first.first == 1 && String(decoding: first.dropFirst(), as: UTF8.self).contains("tick"))
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await harness.status(id).status.state == .containerRunning)
            // The container was created without stdin.
            await expectCode(.invalidArgument) { _ = try await Self.attachURL(harness, id, stdin: true) }
            await expectCode(.notFound) { _ = try await Self.attachURL(harness, "nope", stdin: false) }
            // An exec token does not open an attach stream.
            var exec = Runtime_V1_ExecRequest()
            exec.containerID = id
            exec.cmd = ["/bin/true"]
            exec.stdout = true
            let execURL = try await harness.daemon.runtime { try await $0.exec(exec) }.url
            let wrongPath = execURL.replacingOccurrences(of: "/exec/", with: "/attach/")
            await #expect(throws: WebSocketTestClient.Refused.self) {
                try await ExecStreamTests.session {
                    _ = try WebSocketTestClient(url: wrongPath, protocols: ["v5.channel.k8s.io"])
                }
            }
            try await harness.stop(id, timeout: 0)
            await expectCode(.failedPrecondition) { _ = try await Self.attachURL(harness, id, stdin: false) }
        }
    }
}

/// Attach over SPDY/3.1, with the Python client written from the SPDY draft.
@Suite(.serialized) struct SPDYAttachStreamTests {
    @Test func attachOverSPDYRelaysStdinAndNewOutput() async throws {
        try await ContainerHarness.with { harness in
            let id = try await AttachStreamTests.interactive(harness, "spdy-interactive")
            let url = try await AttachStreamTests.attachURL(harness, id, stdin: true)
            let result = try await SPDYExecStreamTests.client(url, ["--stdin", "hello\n"])
            #expect(result["status"] as? Int == 101)
            #expect(result["stdout"] as? String == "got hello\nbye\n", "earlier output is not replayed")
            #expect(result["stderr"] as? String == "err hello\n")
            let status = try #require(
                try JSONSerialization.jsonObject(with: Data((result["error"] as? String ?? "").utf8)) as? [String: Any]
            )
            #expect(status["status"] as? String == "Success")
            #expect(try await harness.waitForExit(id).exitCode == 0)
        }
    }
}
