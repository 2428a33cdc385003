import ArgumentParser
import CRIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix

/// Liveness probes on a busy node for a long while: `pods` pods with one container each, every
/// container probed by ExecSync every `interval` — half with `echo ok`, half with a 1 s timeout on
/// `sleep 5` (a probe that always times out) — for `duration`. Reports skiffd's RSS, open fds
/// and threads at the start and the end, ExecSync latency, and whatever the probes left in the
/// containers (processes beyond each container's own, zombies).
extension SkiffBench {
    struct Soak: AsyncParsableCommand {
        @Option(help: "skiffd's socket.") var socket: String
        @Option(help: "skiffd's pid (for its memory, fds and threads).") var daemonPid: Int32
        @Option(help: "Image to run (pulled first).") var image: String
        @Option(help: "Directory for the pods' logs.") var scratch: String
        @Option(help: "Pods, one probed container each.") var pods: Int = 100
        @Option(help: "Seconds the probes run.") var duration: Int = 600
        @Option(help: "Seconds between two probes of one container.") var interval: Double = 1

        struct Sample: CustomStringConvertible {
            var rssKiB: Int
            var fds: Int
            var threads: Int
            var description: String {
                "RSS \(rssKiB / 1024).\(rssKiB % 1024 * 10 / 1024) MiB, \(fds) fds, \(threads) threads"
            }

            static func of(_ pid: Int32) -> Sample {
                let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
                func field(_ name: String) -> Int {
                    status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
                        .flatMap { Int($0.split(whereSeparator: { $0 == " " || $0 == "\t" })[1]) } ?? -1
                }
                let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
                return Sample(rssKiB: field("VmRSS"), fds: fds, threads: field("Threads"))
            }
        }

        func run() async throws {
            try await withGRPCClient(
                transport: try .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)
            ) { client in
                let runtime = Runtime_V1_RuntimeService.Client(wrapping: client)
                var containers: [(pod: String, container: String)] = []
                var imageID = ""
                for index in 0..<pods {
                    let (pulled, pod) = try await SkiffBench.pullAndRunPod(
                        client,
                        image: image,
                        name: "soak-\(index)",
                        logDirectory: scratch + "/logs/\(index)",
                        hostNetwork: true
                    )
                    imageID = pulled
                    let container = try await Containers.createAndStart(
                        runtime,
                        pod: pod,
                        image: imageID,
                        name: "probed"
                    )
                    containers.append((pod, container))
                }
                try await Task.sleep(for: .seconds(2))
                let start = Sample.of(daemonPid)
                print("\(pods) pods running, probes every \(interval) s for \(duration) s; skiffd at start: \(start)")

                let deadline = ContinuousClock.now + .seconds(duration)
                // skiffd every minute, to tell a plateau from growth.
                let daemonPid = self.daemonPid
                let sampler = Task {
                    var minute = 0
                    while ContinuousClock.now < deadline {
                        try await Task.sleep(for: .seconds(60))
                        minute += 1
                        print("  after \(minute) min: \(Sample.of(daemonPid))")
                    }
                }
                defer { sampler.cancel() }
                let results = await withTaskGroup(of: ProbeSeries.self) { group in
                    for (index, entry) in containers.enumerated() {
                        group.addTask {
                            await Self.probe(
                                runtime,
                                container: entry.container,
                                timingOut: index % 2 == 1,
                                every: interval,
                                until: deadline
                            )
                        }
                    }
                    var all = ProbeSeries()
                    for await series in group { all.merge(series) }
                    return all
                }
                try await Task.sleep(for: .seconds(2))
                let end = Sample.of(daemonPid)

                var leftovers: [String] = []
                for entry in containers {
                    let ps = try await runtime.execSync(
                        Self.exec(entry.container, ["/bin/ps", "-o", "stat,args"], timeout: 10)
                    )
                    let lines = String(decoding: ps.stdout, as: UTF8.self).split(separator: "\n").dropFirst()
                        .filter { !$0.contains("ps -o") && !$0.contains("sleep 100000") }
                    leftovers += lines.map { "\(entry.container.prefix(12)): \($0)" }
                }
                for entry in containers {
                    var remove = Runtime_V1_RemovePodSandboxRequest()
                    remove.podSandboxID = entry.pod
                    _ = try await runtime.removePodSandbox(remove)
                }

                print(
                    "ExecSync echo ok:        \(results.quick.count) calls, p50 \(Sandboxes.p(results.quick, 50)) ms  p99 \(Sandboxes.p(results.quick, 99)) ms, \(results.quickFailures) failed"
                )
                print(
                    "ExecSync sleep 5 (1 s timeout): \(results.timedOut.count) calls, p50 \(Sandboxes.p(results.timedOut, 50)) ms  p99 \(Sandboxes.p(results.timedOut, 99)) ms, \(results.unexpected) not DEADLINE_EXCEEDED"
                )
                print("skiffd at start: \(start)")
                print("skiffd at end:   \(end)")
                print(
                    "left in the containers by the probes: \(leftovers.count)\(leftovers.isEmpty ? "" : " — " + leftovers.prefix(10).joined(separator: "; "))"
                )
            }
        }

        struct ProbeSeries {
            var quick: [Double] = []
            var timedOut: [Double] = []
            var quickFailures = 0
            var unexpected = 0

            mutating func merge(_ other: ProbeSeries) {
                quick += other.quick
                timedOut += other.timedOut
                quickFailures += other.quickFailures
                unexpected += other.unexpected
            }
        }

        static func exec(_ container: String, _ command: [String], timeout: Int64) -> Runtime_V1_ExecSyncRequest {
            var request = Runtime_V1_ExecSyncRequest()
            request.containerID = container
            request.cmd = command
            request.timeout = timeout
            return request
        }

        /// One container's probes, one at a time, every `interval` (as the kubelet's prober).
        static func probe(
            _ runtime: Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>,
            container: String,
            timingOut: Bool,
            every interval: Double,
            until deadline: ContinuousClock.Instant
        ) async -> ProbeSeries {
            var series = ProbeSeries()
            let request =
                timingOut
                ? exec(container, ["/bin/sleep", "5"], timeout: 1) : exec(container, ["/bin/echo", "ok"], timeout: 10)
            // Spread the first probes over one interval.
            try? await Task.sleep(for: .milliseconds(Int.random(in: 0..<max(1, Int(interval * 1000)))))
            while ContinuousClock.now < deadline {
                let started = ContinuousClock.now
                do {
                    _ = try await runtime.execSync(request)
                    if timingOut {
                        series.unexpected += 1
                    } else {
                        series.quick.append(Sandboxes.milliseconds(ContinuousClock.now - started))
                    }
                } catch let error as RPCError where timingOut && error.code == .deadlineExceeded {
                    series.timedOut.append(Sandboxes.milliseconds(ContinuousClock.now - started))
                } catch {
                    if timingOut { series.unexpected += 1 } else { series.quickFailures += 1 }
                }
                let next = started + .milliseconds(Int(interval * 1000))
                if next > ContinuousClock.now { try? await Task.sleep(until: next) }
            }
            return series
        }
    }
}
