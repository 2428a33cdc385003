import CRIAPI
import Foundation
import GRPCCore
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Exec over WebSocket (v5/v4.channel.k8s.io) through a real skiffd, with a client written
/// from RFC 6455 and the Kubernetes channel protocol in the tests.
@Suite(.serialized) struct ExecStreamTests {
    static func execURL(
        _ harness: ContainerHarness,
        _ id: String,
        _ command: [String],
        stdin: Bool = false,
        tty: Bool = false
    ) async throws -> String {
        var request = Runtime_V1_ExecRequest()
        request.containerID = id
        request.cmd = command
        request.stdin = stdin
        request.stdout = true
        request.stderr = !tty
        request.tty = tty
        return try await harness.daemon.runtime { try await $0.exec(request) }.url
    }

    /// Runs the blocking client off the cooperative pool.
    static func session<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result_(catching: body)) }
        }
    }

    static func status(_ channels: [UInt8: [UInt8]]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(channels[3] ?? [])) as? [String: Any])
    }

    @Test func execOverWebSocketRelaysStreamsAndTheExitStatus() async throws {
        try await ContainerHarness.with { harness in
            let id = try await harness.run(harness.config("target", ["/bin/sleep", "1000"]))
            let url = try await Self.execURL(harness, id, ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
            #expect(url.hasPrefix("http://127.0.0.1:") && url.contains("/exec/"), "\(url)")
            let (channels, code, subprotocol) = try await Self.session {
                let client = try WebSocketTestClient(url: url, protocols: ["v5.channel.k8s.io", "v4.channel.k8s.io"])
                let result = try client.collect()
                return (result.channels, result.closeCode, client.subprotocol)
            }
            #expect(subprotocol == "v5.channel.k8s.io")
            #expect(String(decoding: channels[1] ?? [], as: UTF8.self) == "out\n")
            #expect(String(decoding: channels[2] ?? [], as: UTF8.self) == "err\n")
            let status = try Self.status(channels)
            #expect(status["status"] as? String == "Failure")
            #expect(status["reason"] as? String == "NonZeroExitCode")
            let causes = (status["details"] as? [String: Any])?["causes"] as? [[String: Any]]
            #expect(causes?.first?["reason"] as? String == "ExitCode")
            #expect(causes?.first?["message"] as? String == "3")
            #expect(code == 1000)

            // The token was single use.
            await #expect(throws: WebSocketTestClient.Refused.self) {
                try await Self.session { _ = try WebSocketTestClient(url: url, protocols: ["v5.channel.k8s.io"]) }
            }
            // Success, over v4.
            let ok = try await Self.execURL(harness, id, ["/bin/echo", "fine"])
            let (v4Channels, v4Protocol) = try await Self.session {
                let client = try WebSocketTestClient(url: ok, protocols: ["v4.channel.k8s.io"])
                return (try client.collect().channels, client.subprotocol)
            }
            #expect(v4Protocol == "v4.channel.k8s.io")
            #expect(String(decoding: v4Channels[1] ?? [], as: UTF8.self) == "fine\n")
            #expect(try Self.status(v4Channels)["status"] as? String == "Success")
        }
    }

    @Test func stdinIsPipedAndItsCloseSignalEndsTheCommand() async throws {
        try await ContainerHarness.with { harness in
            let id = try await harness.run(harness.config("cat-target", ["/bin/sleep", "1000"]))
            let url = try await Self.execURL(harness, id, ["/bin/sh", "-c", "cat; echo done"], stdin: true)
            let channels = try await Self.session {
                let client = try WebSocketTestClient(url: url, protocols: ["v5.channel.k8s.io"])
                try client.send(channel: 0, Array("line one\n".utf8))
                try client.send(channel: 0, Array("line two\n".utf8))
                try client.send(channel: 255, [0])  // v5: close stdin
                return try client.collect().channels
            }
            #expect(String(decoding: channels[1] ?? [], as: UTF8.self) == "line one\nline two\ndone\n")
            #expect(try Self.status(channels)["status"] as? String == "Success")
        }
    }

    /// Reads stdout (channel 1) until it contains `text`; returns everything read.
    static func readStdout(_ client: WebSocketTestClient, until text: String, into output: inout String) throws {
        do {
            while !output.contains(text), let frame = try client.receive() {
                if frame.opcode == 8 { break }
                if frame.payload.first == 1 { output += String(decoding: frame.payload.dropFirst(), as: UTF8.self) }
            }
        } catch {
            throw HarnessError(
                "\(error) while waiting for \(text.debugDescription); stdout so far: \(output.debugDescription)"
            )
        }
    }

    @Test(arguments: ["", "crun"]) func aTTYExecRunsOnATerminalThatFollowsResizes(handler: String) async throws {
        try await ContainerHarness.with(handler: handler) { harness in
            let id = try await harness.run(harness.config("tty-target", ["/bin/sleep", "1000"]))
            let script = "/bin/busybox tty; read a; /bin/busybox stty size; read b; /bin/busybox stty size; exit 4"
            let url = try await Self.execURL(harness, id, ["/bin/sh", "-c", script], stdin: true, tty: true)
            let (output, channels) = try await Self.session {
                let client = try WebSocketTestClient(url: url, protocols: ["v5.channel.k8s.io"])
                var output = ""
                try client.send(channel: 4, Array(#"{"Width":100,"Height":40}"#.utf8))
                try Self.readStdout(client, until: "/dev/pts/", into: &output)
                usleep(300_000)  // the runtime applies the size on SIGWINCH
                try client.send(channel: 0, Array("x\n".utf8))
                try Self.readStdout(client, until: "40 100", into: &output)
                try client.send(channel: 4, Array(#"{"Width":120,"Height":50}"#.utf8))
                usleep(300_000)
                try client.send(channel: 0, Array("y\n".utf8))
                let rest = try client.collect().channels
                output += String(decoding: rest[1] ?? [], as: UTF8.self)
                return (output, rest)
            }
            let status = try Self.status(channels)
            #expect(output.contains("/dev/pts/"), "the command's stdin is a terminal: \(output)")
            #expect(output.contains("40 100") && output.contains("50 120"), "stty saw both sizes: \(output)")
            let causes = (status["details"] as? [String: Any])?["causes"] as? [[String: Any]]
            #expect(causes?.first?["message"] as? String == "4")

            // Closing stdin on a terminal types ^D: `cat` ends, as at a keyboard. Input sent at
            // once, before the runtime has set its terminal up, arrives as typed (not as the
            // line editing and EOF of a cooked terminal).
            let catURL = try await Self.execURL(
                harness,
                id,
                ["/bin/sh", "-c", "cat; echo after-eof"],
                stdin: true,
                tty: true
            )
            let catOutput = try await Self.session {
                let client = try WebSocketTestClient(url: catURL, protocols: ["v5.channel.k8s.io"])
                try client.send(channel: 0, Array("typed\n".utf8))
                try client.send(channel: 255, [0])
                return String(decoding: try client.collect().channels[1] ?? [], as: UTF8.self)
            }
            #expect(catOutput.contains("typed") && catOutput.contains("after-eof"), "\(catOutput.debugDescription)")
        }
    }

    @Test func badTokensPathsAndRequestsAreRefused() async throws {
        try await ContainerHarness.with { harness in
            let id = try await harness.run(harness.config("refusals", ["/bin/sleep", "1000"]))
            let url = try await Self.execURL(harness, id, ["/bin/true"])
            let base = String(url[..<url.range(of: "/exec/")!.lowerBound])
            for path in ["/exec/" + String(repeating: "0", count: 32), "/attach/abc", "/"] {
                await #expect(throws: WebSocketTestClient.Refused.self) {
                    try await Self.session {
                        _ = try WebSocketTestClient(url: base + path, protocols: ["v5.channel.k8s.io"])
                    }
                }
            }
            // A plain GET gets 404.
            let (_, response) = try await URLSession.shared.data(from: URL(string: base + "/exec/whatever")!)
            #expect((response as? HTTPURLResponse)?.statusCode == 404)
            // No known subprotocol: refused, and the token stays unspent only if never upgraded.
            await #expect(throws: WebSocketTestClient.Refused.self) {
                try await Self.session { _ = try WebSocketTestClient(url: url, protocols: ["channel.k8s.io"]) }
            }
            await expectCode(.invalidArgument) { _ = try await Self.execURL(harness, id, []) }
            await expectCode(.invalidArgument) {
                var request = Runtime_V1_ExecRequest()
                request.containerID = id
                request.cmd = ["/bin/true"]
                request.tty = true
                request.stdout = true
                request.stderr = true
                _ = try await harness.daemon.runtime { try await $0.exec(request) }
            }
            await expectCode(.notFound) { _ = try await Self.execURL(harness, "nope", ["/bin/true"]) }
        }
    }

    @Test func aSlowReaderHoldsTheCommandBackInsteadOfFillingMemory() async throws {
        try await ContainerHarness.with { harness in
            let id = try await harness.run(harness.config("firehose", ["/bin/sleep", "1000"]))
            let url = try await Self.execURL(harness, id, ["/bin/cat", "/dev/zero"])
            let before = harness.daemon.residentKiB()
            let after = try await Self.session {
                let client = try WebSocketTestClient(url: url, protocols: ["v5.channel.k8s.io"])
                _ = try client.receive()
                // cat writes far faster than 1 GiB/s; the client reads nothing for 3 s.
                usleep(3_000_000)
                let after = harness.daemon.residentKiB()
                var received = 0
                while received < 8 << 20, let frame = try client.receive() { received += frame.payload.count }
                return after
            }
            #expect(
                after - before < 64 << 10,
                "skiffd grew from \(before) KiB to \(after) KiB while the client did not read"
            )
        }
    }

    @Test func aClientThatDisconnectsKillsOnlyItsOwnExec() async throws {
        try await ContainerHarness.with { harness in
            let id = try await harness.run(harness.config("survives", ["/bin/sleep", "1000"]))
            let url = try await Self.execURL(harness, id, ["/bin/sh", "-c", "echo started; exec sleep 333"])
            try await Self.session {
                let client = try WebSocketTestClient(url: url, protocols: ["v5.channel.k8s.io"])
                _ = try client.receive()  // "started"
            }  // the client is gone (socket closed)
            // The session's command goes (it may stay a zombie of the container's PID 1, which
            // does not reap); the container stays.
            var ps = ""
            for _ in 0..<50 {
                ps = String(
                    decoding: try await harness.execSync(id, ["/bin/ps", "-o", "stat,args"]).stdout,
                    as: UTF8.self
                )
                if !ps.split(separator: "\n").contains(where: { $0.hasSuffix("sleep 333") && !$0.hasPrefix("Z") }) {
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(
                !ps.split(separator: "\n").contains { $0.hasSuffix("sleep 333") && !$0.hasPrefix("Z") },
                "\(ps)\n\(harness.daemon.log().split(separator: "\n").filter { $0.contains("exec") }.suffix(10).joined(separator: "\n"))"
            )
            #expect(ps.contains("sleep 1000"), "the container itself runs on: \(ps)")
            #expect(try await harness.status(id).status.state == .containerRunning)
        }
    }
}

/// `Result(catching:)` under a name that does not clash with the generic parameter above.
typealias Result_ = Swift.Result

/// Exec over SPDY/3.1 with a client written in Python from the SPDY draft (Support/spdy_exec_client.py).
@Suite(.serialized) struct SPDYExecStreamTests {
    static func client(
        _ url: String,
        _ arguments: [String] = [],
        script: String = "spdy_exec_client.py"
    ) async throws -> [String: Any] {
        let output = try await ExecStreamTests.session { try Self.run(url, arguments, script: script) }
        return try #require(
            try JSONSerialization.jsonObject(with: output) as? [String: Any],
            "\(String(decoding: output, as: UTF8.self))"
        )
    }

    static func run(_ url: String, _ arguments: [String], script name: String) throws -> Data {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Support/\(name)").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, url] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        for _ in 0..<500 where process.isRunning { usleep(10_000) }
        return output
    }

    @Test func execOverSPDYRelaysStreamsStdinAndTheExitStatus() async throws {
        try await ContainerHarness.with { harness in
            let id = try await harness.run(harness.config("spdy-target", ["/bin/sleep", "1000"]))
            let url = try await ExecStreamTests.execURL(
                harness,
                id,
                ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]
            )
            let result = try await Self.client(url)
            #expect(result["status"] as? Int == 101)
            #expect(result["protocol"] as? [String] == ["v4.channel.k8s.io"])
            #expect(result["replies"] as? [String] == ["error", "stderr", "stdout"], "every stream got its SYN_REPLY")
            #expect(result["stdout"] as? String == "out\n")
            #expect(result["stderr"] as? String == "err\n")
            let status = try #require(
                try JSONSerialization.jsonObject(with: Data((result["error"] as? String ?? "").utf8)) as? [String: Any]
            )
            #expect(status["reason"] as? String == "NonZeroExitCode")
            let causes = (status["details"] as? [String: Any])?["causes"] as? [[String: Any]]
            #expect(causes?.first?["message"] as? String == "3")

            let catURL = try await ExecStreamTests.execURL(harness, id, ["/bin/cat"], stdin: true)
            let echoed = try await Self.client(catURL, ["--stdin", "through spdy\n"])
            #expect(echoed["stdout"] as? String == "through spdy\n")
            #expect(
                (try JSONSerialization.jsonObject(with: Data((echoed["error"] as? String ?? "").utf8)) as? [String: Any])?[
                    "status"
                ] as? String == "Success"
            )

            // A spent token is refused with 404.
            let reused = try await Self.client(url)
            #expect(reused["status"] as? Int == 404)

            // remotecommand v3 and v2: the same streams, the error stream in plain text.
            for version in ["v3.channel.k8s.io", "v2.channel.k8s.io"] {
                let failing = try await Self.client(
                    try await ExecStreamTests.execURL(harness, id, ["/bin/sh", "-c", "echo old; exit 3"]),
                    ["--versions", version]
                )
                #expect(
                    failing["protocol"] as? [String] == [version] && failing["stdout"] as? String == "old\n",
                    "\(failing)"
                )
                #expect(
                    (failing["error"] as? String ?? "").hasPrefix("command terminated with non-zero exit code"),
                    "\(failing)"
                )
                let fine = try await Self.client(
                    try await ExecStreamTests.execURL(harness, id, ["/bin/true"]),
                    ["--versions", version]
                )
                #expect(fine["error"] as? String == "", "\(fine)")
            }
            // v1 is not served.
            let v1 = try await Self.client(
                try await ExecStreamTests.execURL(harness, id, ["/bin/true"]),
                ["--versions", "channel.k8s.io"]
            )
            #expect(v1["status"] as? Int == 404)
        }
    }

    @Test func theStreamingServerServesHTTPSWithTheConfiguredCertificate() async throws {
        let directory = NSTemporaryDirectory() + "skiff-tls-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A server certificate for 127.0.0.1 signed by a test CA, as the TLS registry tests use.
        try TestRegistry.makeCertificates(in: directory)
        let tls =
            "[streaming]\ntls_cert_file = \"\(directory)/server.pem\"\ntls_key_file = \"\(directory)/server.key\"\n"
        try await ContainerHarness.with(extraConfig: tls) { harness in
            let id = try await harness.run(harness.config("tls-target", ["/bin/sleep", "1000"]))
            let url = try await ExecStreamTests.execURL(harness, id, ["/bin/sh", "-c", "echo over tls; exit 2"])
            #expect(url.hasPrefix("https://127.0.0.1:"), "\(url)")
            let result = try await Self.client(url, ["--cafile", directory + "/ca.pem"])
            #expect(result["status"] as? Int == 101 && result["stdout"] as? String == "over tls\n", "\(result)")
            // Plain HTTP on the TLS port is not served.
            let plain = try await ExecStreamTests.execURL(harness, id, ["/bin/true"]).replacingOccurrences(
                of: "https://",
                with: "http://"
            )
            let refused = try await Self.client(plain)
            #expect(refused["status"] as? Int != 101, "\(plain): \(refused)")
        }
    }

    @Test func aTTYExecOverSPDYFollowsResizesOnTheResizeStream() async throws {
        try await ContainerHarness.with { harness in
            let id = try await harness.run(harness.config("spdy-tty", ["/bin/sleep", "1000"]))
            let script = "/bin/busybox tty; read a; /bin/busybox stty size; read b; /bin/busybox stty size; exit 6"
            let url = try await ExecStreamTests.execURL(harness, id, ["/bin/sh", "-c", script], stdin: true, tty: true)
            let result = try await Self.client(
                url,
                [
                    "--tty", "--steps",
                    "resize:100x40;wait:/dev/pts/;sleep:0.3;stdin:x\\n;wait:40 100;resize:132x43;sleep:0.3;stdin:y\\n",
                ]
            )
            let stdout = result["stdout"] as? String ?? ""
            #expect(result["replies"] as? [String] == ["error", "resize", "stdin", "stdout"], "\(result)")
            #expect(
                stdout.contains("/dev/pts/") && stdout.contains("40 100") && stdout.contains("43 132"),
                "\(stdout.debugDescription)"
            )
            let status = try #require(
                try JSONSerialization.jsonObject(with: Data((result["error"] as? String ?? "").utf8)) as? [String: Any]
            )
            #expect(
                ((status["details"] as? [String: Any])?["causes"] as? [[String: Any]])?.first?["message"] as? String
                    == "6"
            )
        }
    }
}
