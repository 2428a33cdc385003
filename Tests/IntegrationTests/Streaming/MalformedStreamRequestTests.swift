import CRIAPI
import Foundation
import Testing

/// Malformed HTTP, refused upgrades and garbage after an upgrade, sent as raw bytes
/// (Support/raw_request.py): the server answers with an error status or closes the connection,
/// never switches protocols for them, and keeps serving everyone else.
@Suite(.serialized) struct MalformedStreamRequestTests {
    struct Reply {
        var statusLine: String
        var after: [UInt8]
        var closed: Bool
    }

    static func send(_ url: String, _ request: String, after: [UInt8]? = nil) async throws -> Reply {
        let components = try #require(URLComponents(string: url))
        var arguments = [components.host ?? "", String(components.port ?? 0), Data(request.utf8).base64EncodedString()]
        if let after { arguments.append(Data(after).base64EncodedString()) }
        let command = arguments
        let output = try await ExecStreamTests.session {
            try SPDYExecStreamTests.run(command[0], Array(command.dropFirst()), script: "raw_request.py")
        }
        let object = try #require(
            try JSONSerialization.jsonObject(with: output) as? [String: Any],
            "\(String(decoding: output, as: UTF8.self))"
        )
        return Reply(
            statusLine: object["status_line"] as? String ?? "",
            after: (object["after"] as? [Int] ?? []).map { UInt8($0) },
            closed: object["closed"] as? Bool ?? false
        )
    }

    static func path(_ url: String) -> String { URLComponents(string: url)?.path ?? "/" }

    @Test func malformedRequestsAndGarbageAfterAnUpgradeAreRefused() async throws {
        try await ContainerHarness.with { harness in
            let id = try await harness.run(harness.config("malformed", ["/bin/sleep", "1000"]))
            func execURL() async throws -> String { try await ExecStreamTests.execURL(harness, id, ["/bin/true"]) }

            // Not HTTP at all.
            let garbage = try await Self.send(try await execURL(), "\u{1}\u{2}NOT HTTP\r\n\r\n")
            #expect(garbage.statusLine.hasPrefix("HTTP/1.1 400") && garbage.closed, "\(garbage)")

            // WebSocket upgrades the RFC does not allow: no key, an unknown version.
            var url = try await execURL()
            let noKey = try await Self.send(
                url,
                "GET \(Self.path(url)) HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n"
            )
            #expect(!noKey.statusLine.contains(" 101 ") && !noKey.statusLine.isEmpty, "\(noKey)")
            url = try await execURL()
            let oldVersion = try await Self.send(
                url,
                "GET \(Self.path(url)) HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n"
                    + "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n"
            )
            #expect(!oldVersion.statusLine.contains(" 101 ") && !oldVersion.statusLine.isEmpty, "\(oldVersion)")

            // SPDY upgrades without a protocol version, or with one that is not served: 404.
            for versions in [
                "", "X-Stream-Protocol-Version: v9.channel.k8s.io\r\n",
                "X-Stream-Protocol-Version: portforward.k8s.io\r\n",
            ] {
                url = try await execURL()
                let reply = try await Self.send(
                    url,
                    "POST \(Self.path(url)) HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                        + versions + "Content-Length: 0\r\n\r\n"
                )
                #expect(reply.statusLine.hasPrefix("HTTP/1.1 404"), "\(versions): \(reply)")
            }

            // A 256 KiB header is not read to the end.
            url = try await execURL()
            let huge = try await Self.send(
                url,
                "GET \(Self.path(url)) HTTP/1.1\r\nHost: x\r\nX-Padding: {PAD:\(256 << 10)}\r\n\r\n"
            )
            #expect(
                huge.statusLine.hasPrefix("HTTP/1.1 400") && huge.closed,
                "\(huge.statusLine) closed=\(huge.closed)"
            )

            // Upgraded to SPDY, then a truncated SYN_STREAM: GOAWAY (protocol error) and close.
            url = try await execURL()
            let upgrade =
                "POST \(Self.path(url)) HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                + "X-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n"
            let truncated = try await Self.send(
                url,
                upgrade,
                after: [0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00]
            )
            #expect(truncated.statusLine.hasPrefix("HTTP/1.1 101"), "\(truncated)")
            #expect(
                Array(truncated.after.prefix(4)) == [0x80, 0x03, 0x00, 0x07] && truncated.closed,
                "GOAWAY then close: \(truncated)"
            )

            // A port-forward whose header block is not zlib: GOAWAY and close.
            let forward = try await PortForwardStreamTests.url(harness.daemon, harness.podID)
            let forwardUpgrade =
                "POST \(Self.path(forward)) HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                + "X-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n"
            let corrupt = try await Self.send(
                forward,
                forwardUpgrade,
                after: [0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x14, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
                    + Array("not a zlib".utf8)
            )
            #expect(corrupt.statusLine.hasPrefix("HTTP/1.1 101"), "\(corrupt)")
            #expect(
                Array(corrupt.after.prefix(4)) == [0x80, 0x03, 0x00, 0x07] && corrupt.closed,
                "GOAWAY then close: \(corrupt)"
            )

            // The server still serves, and skiffd still runs.
            let result = try await SPDYExecStreamTests.client(
                try await ExecStreamTests.execURL(harness, id, ["/bin/echo", "still here"])
            )
            #expect(result["stdout"] as? String == "still here\n")
            #expect(harness.daemon.process?.isRunning == true)
        }
    }
}
