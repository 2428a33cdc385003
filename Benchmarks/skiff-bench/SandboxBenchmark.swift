import ArgumentParser
import CRIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import LinuxSys
import RuntimeCore

/// Pod sandbox latency: RunPodSandbox + StopPodSandbox + RemovePodSandbox through a running
/// skiffd, sequentially and concurrently, next to the floor measured in the same run — the same
/// namespaces pinned with skiff-pinns and the same CNI chain ADDed and DELed directly, no daemon.
@main
struct SkiffBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skiff-bench",
        subcommands: [Sandboxes.self, Floor.self, Containers.self, Streaming.self, Soak.self, Handlers.self]
    )

    struct Sandboxes: AsyncParsableCommand {
        @Option(help: "skiffd's socket.") var socket: String
        @Option(help: "The CNI conf dir skiffd uses (the floor loads the same network).") var cniConfDir: String
        @Option(help: "CNI plugin directory.") var cniBinDir: String = "/usr/lib/cni"
        @Option(help: "Directory for the floor's pinned namespaces.") var scratch: String
        @Option(help: "Pods per series.") var count: Int = 20

        func run() async throws {
            try await withGRPCClient(
                transport: try .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)
            ) { client in
                let runtime = Runtime_V1_RuntimeService.Client(wrapping: client)
                var sequentialRun: [Double] = []
                var sequentialAll: [Double] = []
                for index in 0..<count {
                    let (run, all) = try await Self.cycle(runtime, name: "seq-\(index)")
                    sequentialRun.append(run)
                    sequentialAll.append(all)
                }
                let concurrent = try await withThrowingTaskGroup(of: (Double, Double).self) { group in
                    for index in 0..<count { group.addTask { try await Self.cycle(runtime, name: "par-\(index)") } }
                    var results: [(Double, Double)] = []
                    for try await result in group { results.append(result) }
                    return results
                }
                let floor = try await floorSeries()
                print(
                    "RunPodSandbox, \(count) sequential:   p50 \(Self.p(sequentialRun, 50)) ms  p95 \(Self.p(sequentialRun, 95)) ms"
                )
                print(
                    "Run+Stop+Remove, sequential:      p50 \(Self.p(sequentialAll, 50)) ms  p95 \(Self.p(sequentialAll, 95)) ms"
                )
                print(
                    "RunPodSandbox, \(count) concurrent:   p50 \(Self.p(concurrent.map(\.0), 50)) ms  p95 \(Self.p(concurrent.map(\.0), 95)) ms"
                )
                print(
                    "Run+Stop+Remove, concurrent:      p50 \(Self.p(concurrent.map(\.1), 50)) ms  p95 \(Self.p(concurrent.map(\.1), 95)) ms"
                )
                print(
                    "floor pin + CNI ADD (sequential): p50 \(Self.p(floor.map(\.0), 50)) ms  p95 \(Self.p(floor.map(\.0), 95)) ms"
                )
                print(
                    "floor whole cycle (sequential):   p50 \(Self.p(floor.map(\.1), 50)) ms  p95 \(Self.p(floor.map(\.1), 95)) ms"
                )
                let ratio = Self.median(sequentialRun) / Self.median(floor.map(\.0))
                print("RunPodSandbox p50 / floor p50: \((ratio * 100).rounded() / 100)x (target <= 1.5x)")
            }
        }

        static func cycle(
            _ runtime: Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>,
            name: String
        ) async throws -> (Double, Double) {
            var request = Runtime_V1_RunPodSandboxRequest()
            request.config.metadata.name = name
            request.config.metadata.namespace = "bench"
            request.config.metadata.uid = "uid-\(name)-\(UUID().uuidString.prefix(6))"
            // As the kubelet sends for pods without shareProcessNamespace: no pause process.
            request.config.linux.securityContext.namespaceOptions.pid = .container
            let start = ContinuousClock.now
            let id = try await runtime.runPodSandbox(request).podSandboxID
            let ran = ContinuousClock.now - start
            var stop = Runtime_V1_StopPodSandboxRequest()
            stop.podSandboxID = id
            _ = try await runtime.stopPodSandbox(stop)
            var remove = Runtime_V1_RemovePodSandboxRequest()
            remove.podSandboxID = id
            _ = try await runtime.removePodSandbox(remove)
            return (milliseconds(ran), milliseconds(ContinuousClock.now - start))
        }

        func floorSeries() async throws -> [(Double, Double)] {
            try await Floor.series(cniConfDir: cniConfDir, cniBinDir: cniBinDir, scratch: scratch, count: count)
                .map { ($0.add, $0.whole) }
        }

        static func milliseconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        }

        static func median(_ values: [Double]) -> Double { percentile(values, 50) }

        static func percentile(_ values: [Double], _ p: Int) -> Double {
            let sorted = values.sorted()
            guard !sorted.isEmpty else { return 0 }
            return sorted[min(sorted.count - 1, Int((Double(p) / 100 * Double(sorted.count - 1)).rounded()))]
        }

        static func p(_ values: [Double], _ percent: Int) -> String {
            String(format: "%.1f", percentile(values, percent))
        }
    }
}
