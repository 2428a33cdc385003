import ArgumentParser
import CRIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import LinuxSys

/// Streaming latency and throughput through a running skiffd: `execCount` sequential exec
/// round trips (`echo hi`: the Exec rpc, the upgrade, the command, the status) over SPDY and over
/// WebSocket next to ExecSync of the same command; and `forwardMiB` MiB fetched from a busybox
/// httpd in a pod through port-forward next to the same fetch straight to the pod's IP.
extension SkiffBench {
    struct Streaming: AsyncParsableCommand {
        @Option(help: "skiffd's socket.") var socket: String
        @Option(help: "Image to run (pulled first).") var image: String
        @Option(help: "Directory for pod logs.") var scratch: String
        @Option(help: "Exec round trips per protocol.") var execCount: Int = 200
        @Option(help: "MiB fetched per port-forward round.") var forwardMiB: Int = 256
        @Option(help: "Port-forward and direct rounds (the median is reported).") var rounds: Int = 5

        func run() async throws {
            try await withGRPCClient(
                transport: try .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)
            ) { client in
                let runtime = Runtime_V1_RuntimeService.Client(wrapping: client)
                let (imageID, podID) = try await SkiffBench.pullAndRunPod(
                    client,
                    image: image,
                    name: "bench-streaming",
                    logDirectory: scratch + "/logs",
                    hostNetwork: false
                )
                do {
                    try await measure(runtime, podID: podID, imageID: imageID)
                } catch {
                    try? await Self.removePod(runtime, podID)
                    throw error
                }
                try await Self.removePod(runtime, podID)
            }
        }

        func measure(
            _ runtime: Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>,
            podID: String,
            imageID: String
        ) async throws {
            var status = Runtime_V1_PodSandboxStatusRequest()
            status.podSandboxID = podID
            let podIP = try await runtime.podSandboxStatus(status).status.network.ip
            var create = Runtime_V1_CreateContainerRequest()
            create.podSandboxID = podID
            create.config.metadata.name = "web"
            create.config.image.image = imageID
            create.config.command = [
                "/bin/sh", "-c",
                "mkdir -p /www && dd if=/dev/zero of=/www/big bs=1M count=\(forwardMiB) 2>/dev/null && touch /www/ready && exec httpd -f -p 8080 -h /www",
            ]
            create.config.logPath = "web.log"
            let id = try await runtime.createContainer(create).containerID
            var start = Runtime_V1_StartContainerRequest()
            start.containerID = id
            _ = try await runtime.startContainer(start)
            var ready = Runtime_V1_ExecSyncRequest()
            ready.containerID = id
            ready.cmd = [
                "/bin/sh", "-c",
                "test -f /www/ready && printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 8080 >/dev/null",
            ]
            for _ in 0..<200 {
                if try await runtime.execSync(ready).exitCode == 0 { break }
                try await Task.sleep(for: .milliseconds(100))
            }

            var sync: [Double] = []
            var overWebSocket: [Double] = []
            var overSPDY: [Double] = []
            var execSync = Runtime_V1_ExecSyncRequest()
            execSync.containerID = id
            execSync.cmd = ["/bin/echo", "hi"]
            var exec = Runtime_V1_ExecRequest()
            exec.containerID = id
            exec.cmd = ["/bin/echo", "hi"]
            exec.stdout = true
            exec.stderr = true
            for _ in 0..<execCount {
                var begin = ContinuousClock.now
                let syncOutput = try await runtime.execSync(execSync).stdout
                precondition(syncOutput == Data("hi\n".utf8))
                sync.append(Sandboxes.milliseconds(ContinuousClock.now - begin))

                begin = ContinuousClock.now
                let webSocketURL = try await runtime.exec(exec).url
                let webSocketOutput = try await Self.blocking { try StreamingClients.webSocketExec(webSocketURL) }
                overWebSocket.append(Sandboxes.milliseconds(ContinuousClock.now - begin))
                precondition(webSocketOutput == "hi\n", "WebSocket exec printed \(webSocketOutput.debugDescription)")

                begin = ContinuousClock.now
                let spdyURL = try await runtime.exec(exec).url
                let spdyOutput = try await Self.blocking { try StreamingClients.spdyExec(spdyURL) }
                overSPDY.append(Sandboxes.milliseconds(ContinuousClock.now - begin))
                precondition(spdyOutput == "hi\n", "SPDY exec printed \(spdyOutput.debugDescription)")
            }

            let request = "GET /big HTTP/1.0\r\n\r\n"
            let expected = forwardMiB << 20
            var direct: [Double] = []
            var forwarded: [Double] = []
            for _ in 0..<rounds {
                var begin = ContinuousClock.now
                let directBytes = try await Self.blocking {
                    try StreamingClients.directFetch(host: podIP, port: 8080, request: request)
                }
                direct.append(
                    Double(directBytes) / 1_048_576 / (Sandboxes.milliseconds(ContinuousClock.now - begin) / 1000)
                )
                precondition(directBytes > expected, "direct fetch got \(directBytes) bytes")

                var forward = Runtime_V1_PortForwardRequest()
                forward.podSandboxID = podID
                begin = ContinuousClock.now
                let url = try await runtime.portForward(forward).url
                let forwardedBytes = try await Self.blocking {
                    try StreamingClients.portForwardFetch(url, port: 8080, request: request)
                }
                forwarded.append(
                    Double(forwardedBytes) / 1_048_576 / (Sandboxes.milliseconds(ContinuousClock.now - begin) / 1000)
                )
                precondition(
                    forwardedBytes == directBytes,
                    "port-forward got \(forwardedBytes) bytes, direct \(directBytes)"
                )
            }

            print(
                "ExecSync echo hi, \(execCount) calls:                 p50 \(Sandboxes.p(sync, 50)) ms  p95 \(Sandboxes.p(sync, 95)) ms"
            )
            print(
                "Exec echo hi over WebSocket (v5), \(execCount) trips:  p50 \(Sandboxes.p(overWebSocket, 50)) ms  p95 \(Sandboxes.p(overWebSocket, 95)) ms"
            )
            print(
                "Exec echo hi over SPDY/3.1 (v4), \(execCount) trips:   p50 \(Sandboxes.p(overSPDY, 50)) ms  p95 \(Sandboxes.p(overSPDY, 95)) ms"
            )
            let directMedian = Sandboxes.percentile(direct, 50)
            let forwardedMedian = Sandboxes.percentile(forwarded, 50)
            print(
                "\(forwardMiB) MiB from httpd in the pod, median of \(rounds): direct to \(podIP) \(String(format: "%.0f", directMedian)) MiB/s, "
                    + "through port-forward (SPDY) \(String(format: "%.0f", forwardedMedian)) MiB/s"
            )
            print(
                "port-forward / direct: \(String(format: "%.2f", directMedian / forwardedMedian))x slower (target <= 2x)"
            )
        }

        /// Runs a blocking client on a thread of its own.
        static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
            let result: Result<T, BenchConnection.Failure> = await DedicatedThread.run {
                do { return .success(try body()) } catch { return .failure(BenchConnection.Failure("\(error)")) }
            }
            return try result.get()
        }

        static func removePod(
            _ runtime: Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>,
            _ podID: String
        ) async throws {
            var stop = Runtime_V1_StopPodSandboxRequest()
            stop.podSandboxID = podID
            _ = try await runtime.stopPodSandbox(stop)
            var remove = Runtime_V1_RemovePodSandboxRequest()
            remove.podSandboxID = podID
            _ = try await runtime.removePodSandbox(remove)
        }
    }
}
