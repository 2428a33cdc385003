import CRIAPI
import Foundation
import GRPCCore
import ImageFixtures
import Testing

/// PortForward through a real skiffd, over SPDY/3.1 and over the SPDY-in-WebSocket tunnel, with
/// a client written in Python from the SPDY draft, RFC 6455 and client-go's protocol
/// (Support/spdy_portforward_client.py).
@Suite(.serialized) struct PortForwardStreamTests {
    static func url(_ daemon: DaemonHarness, _ podID: String, ports: [Int32] = []) async throws -> String {
        var request = Runtime_V1_PortForwardRequest()
        request.podSandboxID = podID
        request.port = ports
        return try await daemon.runtime { try await $0.portForward(request) }.url
    }

    static func forward(
        _ url: String,
        port: Int,
        websocket: Bool,
        requests: Int = 1,
        send: String = "GET / HTTP/1.0\\r\\n\\r\\n",
        extra: [String] = []
    ) async throws -> [String: Any] {
        try await SPDYExecStreamTests.client(
            url,
            ["--port", String(port), "--requests", String(requests), "--send", send]
                + (websocket ? ["--websocket"] : []) + extra,
            script: "spdy_portforward_client.py"
        )
    }

    static func results(_ output: [String: Any]) -> [[String: Any]] {
        output["results"] as? [[String: Any]] ?? []
    }

    static func openFDs(_ daemon: DaemonHarness) -> Int {
        guard let pid = daemon.process?.processIdentifier else { return 0 }
        return (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    }

    @Test func portForwardReachesAServerInThePodsNetworkOverSPDYAndTheWebSocketTunnel() async throws {
        try await NetworkedContainerTests.withNetworkedPod("forwarded") { harness, _ in
            let daemon = harness.daemon
            let podID = harness.podID
            let www = daemon.directory + "/www"
            try FileManager.default.createDirectory(atPath: www, withIntermediateDirectories: true)
            try "served inside the pod\n".write(toFile: www + "/index.html", atomically: false, encoding: .utf8)
            let big = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 * 7 + $0 >> 12) }
            try Data(big).write(to: URL(fileURLWithPath: www + "/big"))
            _ = try await harness.run(
                harness.config("httpd", ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]) { config in
                    var mount = Runtime_V1_Mount()
                    mount.hostPath = www
                    mount.containerPath = "/www"
                    mount.readonly = true
                    config.mounts = [mount]
                }
            )
            for websocket in [false, true] {
                let mode = websocket ? "websocket" : "spdy"
                var output: [String: Any] = [:]
                for _ in 0..<50 {
                    output = try await Self.forward(
                        try await Self.url(daemon, podID),
                        port: 8080,
                        websocket: websocket,
                        requests: 2
                    )
                    if Self.results(output).allSatisfy({ ($0["data_head"] as? String ?? "").contains("200") }) { break }
                    try await Task.sleep(for: .milliseconds(100))  // httpd may not listen yet
                }
                #expect(output["status"] as? Int == 101, "\(mode): \(output)")
                #expect(
                    output["protocol"] as? [String] == [
                        websocket ? "SPDY/3.1+portforward.k8s.io" : "portforward.k8s.io"
                    ]
                )
                let results = Self.results(output)
                #expect(results.count == 2)
                for result in results {
                    let head = result["data_head"] as? String ?? ""
                    #expect(
                        head.hasPrefix("HTTP/1.1 200 OK") && head.contains("served inside the pod"),
                        "\(mode): \(result)"
                    )
                    #expect(result["error"] as? String == "", "\(mode): \(result)")
                    #expect(
                        result["data_fin"] as? Bool == true && result["error_fin"] as? Bool == true,
                        "\(mode): \(result)"
                    )
                    #expect(result["replies"] as? Int == 2, "both streams answered: \(result)")
                }

                // 4 MiB arrive whole, in order.
                let large = try await Self.forward(
                    try await Self.url(daemon, podID),
                    port: 8080,
                    websocket: websocket,
                    send: "GET /big HTTP/1.0\\r\\n\\r\\n"
                )
                let result = try #require(Self.results(large).first, "\(large)")
                let length = result["data_length"] as? Int ?? 0
                #expect(length > 4 << 20 && length < (4 << 20) + 1024, "\(mode): \(length) bytes")
                let tail = Array((result["data_tail"] as? String ?? "").unicodeScalars.map { UInt8($0.value) })
                #expect(tail == Array(big.suffix(64)), "\(mode): the last bytes are the file's")

                // Nothing listens on port 9 in the pod: the error stream says so.
                let refused = try await Self.forward(try await Self.url(daemon, podID), port: 9, websocket: websocket)
                let failure = try #require(Self.results(refused).first, "\(refused)")
                #expect((failure["error"] as? String ?? "").contains("Connection refused"), "\(mode): \(failure)")
                #expect(failure["data_length"] as? Int == 0 && failure["error_fin"] as? Bool == true)
            }

            // A client that reads nothing holds the pod's sender back instead of filling skiffd.
            _ = try await harness.run(
                harness.config("firehose", ["/bin/sh", "-c", "while true; do nc -l -p 9000 < /dev/zero; done"])
            )
            for websocket in [false, true] {
                let before = daemon.residentKiB()
                let url = try await Self.url(daemon, podID)
                async let stalled = Self.forward(
                    url,
                    port: 9000,
                    websocket: websocket,
                    send: "",
                    extra: ["--stall", "3", "--no-fin", "--drop-after", "1000000"]
                )
                try await Task.sleep(for: .milliseconds(2500))
                let during = daemon.residentKiB()
                let output = try await stalled
                #expect(
                    output["dropped_after"] as? Int ?? 0 >= 1_000_000,
                    "the forward carried data: \(output["dropped_after"] ?? Self.results(output).first?["data_length"] ?? "none")"
                )
                #expect(
                    during - before < 64 << 10,
                    "skiffd grew from \(before) KiB to \(during) KiB while the client did not read"
                )
            }

            // The pod's own interface counters (read inside its namespace) saw those bytes go out.
            var statsRequest = Runtime_V1_PodSandboxStatsRequest()
            statsRequest.podSandboxID = podID
            let network = try await daemon.runtime { try await $0.podSandboxStats(statsRequest) }.stats.linux.network
            #expect(network.defaultInterface.name == "eth0" && network.defaultInterface.txBytes.value > 0, "\(network)")

            // A client that goes away mid-transfer leaves nothing behind, and forwarding goes on.
            let before = Self.openFDs(daemon)
            for websocket in [false, true] {
                for _ in 0..<3 {
                    let dropped = try await Self.forward(
                        try await Self.url(daemon, podID),
                        port: 8080,
                        websocket: websocket,
                        send: "GET /big HTTP/1.0\\r\\n\\r\\n",
                        extra: ["--drop-after", "100000"]
                    )
                    #expect(dropped["dropped_after"] as? Int ?? 0 >= 100000, "\(dropped)")
                }
            }
            var after = Self.openFDs(daemon)
            for _ in 0..<50 where after > before {
                try await Task.sleep(for: .milliseconds(100))
                after = Self.openFDs(daemon)
            }
            #expect(after <= before, "skiffd had \(before) fds before and \(after) after six dropped forwards")
            let again = try await Self.forward(try await Self.url(daemon, podID), port: 8080, websocket: false)
            #expect((Self.results(again).first?["data_head"] as? String ?? "").contains("served inside the pod"))
        }
    }

    @Test func hostNetworkPodsRefusalsAndSpentTokens() async throws {
        try await ContainerHarness.with { harness in
            let daemon = harness.daemon
            // The harness's pod uses the node's network: its server listens on the node.
            let listener = try TestListener()
            defer { listener.close() }
            let port = Int32(listener.port)
            let url = try await Self.url(daemon, harness.podID, ports: [port])
            let output = try await Self.forward(url, port: Int(port), websocket: false, send: "ping")
            let result = try #require(Self.results(output).first, "\(output)")
            #expect(result["data_head"] as? String == "pong:ping", "\(result)")
            #expect(result["error"] as? String == "")

            // The token was single use: SPDY and WebSocket both get 404.
            #expect(try await Self.forward(url, port: Int(port), websocket: false)["status"] as? Int == 404)
            #expect(try await Self.forward(url, port: Int(port), websocket: true)["status"] as? Int == 404)
            // A port-forward token does not open an exec, and an exec path with it is 404.
            let other = try await Self.url(daemon, harness.podID)
            let execPath = other.replacingOccurrences(of: "/portforward/", with: "/exec/")
            #expect(try await SPDYExecStreamTests.client(execPath)["status"] as? Int == 404)

            // Ports outside the request's list, and port headers that are no port, fail on the error stream.
            let limited = try await Self.forward(
                try await Self.url(daemon, harness.podID, ports: [port]),
                port: Int(port) == 65535 ? 1 : Int(port) + 1,
                websocket: true
            )
            #expect(
                (Self.results(limited).first?["error"] as? String ?? "").contains(
                    "was not named in the PortForward request"
                ),
                "\(limited)"
            )
            let bad = try await Self.forward(try await Self.url(daemon, harness.podID), port: 0, websocket: false)
            #expect((Self.results(bad).first?["error"] as? String ?? "").contains("invalid port"), "\(bad)")

            // The rpc checks what it can.
            await expectCode(.notFound) { _ = try await Self.url(daemon, "no-such-pod") }
            await expectCode(.invalidArgument) { _ = try await Self.url(daemon, harness.podID, ports: [70000]) }
            await expectCode(.invalidArgument) { _ = try await Self.url(daemon, "") }
            try await PodSandboxTests.stop(daemon, harness.podID)
            await expectCode(.failedPrecondition) { _ = try await Self.url(daemon, harness.podID) }
        }
    }
}

/// A TCP server on the node's 127.0.0.1 that answers one message with "pong:" + the message.
final class TestListener: @unchecked Sendable {
    // @unchecked: the fd is set once; the serving thread only reads it.
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound, listen(fd, 8) == 0 else { throw POSIXError(.EADDRINUSE) }
        port = UInt16(bigEndian: address.sin_port)
        let listening = fd
        Thread.detachNewThread {
            while true {
                let client = accept(listening, nil, nil)
                guard client >= 0 else { return }
                var buffer = [UInt8](repeating: 0, count: 4096)
                var message: [UInt8] = []
                while true {
                    let count = read(client, &buffer, buffer.count)
                    if count <= 0 { break }
                    message += buffer[0..<count]
                }
                let reply = Array("pong:".utf8) + message
                _ = reply.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
                Glibc.close(client)
            }
        }
    }

    func close() {
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
    }
}
