import ArgumentParser
import CRIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import LinuxSys

/// Container latency and footprint through a running skiffd, next to plain runc in the same run:
/// CreateContainer+StartContainer of `count` containers in one pod against an overlay mount plus
/// `runc create` + `runc start` of the same spec; ExecSync round trips against `runc exec`;
/// ListContainers/ContainerStatus with `listCount` containers; skiffd's and conmon's memory.
extension SkiffBench {
    struct Containers: AsyncParsableCommand {
        @Option(help: "skiffd's socket.") var socket: String
        @Option(help: "skiffd's pid (for its memory).") var daemonPid: Int32
        @Option(help: "skiffd's root_dir (the floor mounts the same layer snapshots).") var rootDir: String
        @Option(help: "Image to run (pulled first).") var image: String
        @Option(help: "Directory for the floor's bundles.") var scratch: String
        @Option(help: "OCI runtime for the floor.") var runtime: String = "/usr/sbin/runc"
        @Option(help: "Containers created and started in one pod.") var count: Int = 50
        @Option(help: "ExecSync round trips.") var execCount: Int = 500
        @Option(help: "Containers present while ListContainers/ContainerStatus are timed.") var listCount: Int = 200

        func run() async throws {
            try await withGRPCClient(
                transport: try .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)
            ) { client in
                let runtimeClient = Runtime_V1_RuntimeService.Client(wrapping: client)
                let (imageID, podID) = try await SkiffBench.pullAndRunPod(
                    client,
                    image: image,
                    name: "bench-containers",
                    logDirectory: scratch + "/logs",
                    hostNetwork: true
                )
                defer {
                    Task {
                        var remove = Runtime_V1_RemovePodSandboxRequest()
                        remove.podSandboxID = podID
                        _ = try? await runtimeClient.removePodSandbox(remove)
                    }
                }
                let baselineRSS = Self.memory(of: daemonPid)

                var createStart: [Double] = []
                var ids: [String] = []
                for index in 0..<count {
                    let start = ContinuousClock.now
                    let id = try await Self.createAndStart(runtimeClient, pod: podID, image: imageID, name: "c\(index)")
                    createStart.append(Self.milliseconds(ContinuousClock.now - start))
                    ids.append(id)
                }
                let floor = try await floorSeries(specOf: runtimeClient, container: ids[0])

                var execs: [Double] = []
                var exec = Runtime_V1_ExecSyncRequest()
                exec.containerID = ids[0]
                exec.cmd = ["/bin/echo", "hi"]
                exec.timeout = 10
                for _ in 0..<execCount {
                    let start = ContinuousClock.now
                    _ = try await runtimeClient.execSync(exec)
                    execs.append(Self.milliseconds(ContinuousClock.now - start))
                }
                let floorExecs = try await floorExecSeries(
                    containerRoot: try await runtimeRoot(runtimeClient, ids[0]),
                    id: ids[0],
                    count: min(execCount, 100)
                )

                for index in count..<listCount {
                    ids.append(
                        try await Self.createAndStart(runtimeClient, pod: podID, image: imageID, name: "c\(index)")
                    )
                }
                try await Task.sleep(for: .seconds(1))
                let loadedRSS = Self.memory(of: daemonPid)
                let monitors = Self.conmonMemory(for: ids)
                var lists: [Double] = []
                var statuses: [Double] = []
                for round in 0..<1000 {
                    let start = ContinuousClock.now
                    let listed = try await runtimeClient.listContainers(Runtime_V1_ListContainersRequest()).containers
                    lists.append(Self.milliseconds(ContinuousClock.now - start))
                    precondition(listed.count >= listCount)
                    var status = Runtime_V1_ContainerStatusRequest()
                    status.containerID = ids[round % ids.count]
                    let statusStart = ContinuousClock.now
                    _ = try await runtimeClient.containerStatus(status)
                    statuses.append(Self.milliseconds(ContinuousClock.now - statusStart))
                }

                print(
                    "CreateContainer+StartContainer, \(count) in one pod: p50 \(Self.p(createStart, 50)) ms  p95 \(Self.p(createStart, 95)) ms"
                )
                print(
                    "floor overlay mount + runc create + runc start:   p50 \(Self.p(floor, 50)) ms  p95 \(Self.p(floor, 95)) ms"
                )
                print(
                    "Create+Start p50 / floor p50: \(String(format: "%.2f", Self.percentile(createStart, 50) / Self.percentile(floor, 50)))x (target <= 1.5x)"
                )
                print(
                    "ExecSync echo hi, \(execCount) calls:               p50 \(Self.p(execs, 50)) ms  p95 \(Self.p(execs, 95)) ms"
                )
                print(
                    "floor runc exec echo hi, \(floorExecs.count) calls:           p50 \(Self.p(floorExecs, 50)) ms  p95 \(Self.p(floorExecs, 95)) ms"
                )
                print(
                    "ListContainers with \(ids.count) containers, 1000 calls:  p50 \(Self.p(lists, 50)) ms  p99 \(Self.p(lists, 99)) ms (target p99 < 10 ms)"
                )
                print(
                    "ContainerStatus with \(ids.count) containers, 1000 calls: p50 \(Self.p(statuses, 50)) ms  p99 \(Self.p(statuses, 99)) ms (target p99 < 10 ms)"
                )
                print(
                    "skiffd RSS: \(baselineRSS.rss / 1024) MiB with 0 containers, \(loadedRSS.rss / 1024) MiB with \(ids.count) running (PSS \(loadedRSS.pss / 1024) MiB)"
                )
                print(
                    "conmon per container: RSS \(String(format: "%.2f", monitors.rss / 1024)) MiB, PSS \(String(format: "%.2f", monitors.pss / 1024)) MiB (average over \(monitors.count); target < 2 MiB)"
                )
                for id in ids {
                    var stop = Runtime_V1_StopContainerRequest()
                    stop.containerID = id
                    _ = try await runtimeClient.stopContainer(stop)
                }
            }
        }

        static func createAndStart(
            _ client: Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>,
            pod: String,
            image: String,
            name: String
        ) async throws -> String {
            var create = Runtime_V1_CreateContainerRequest()
            create.podSandboxID = pod
            create.config.metadata.name = name
            create.config.image.image = image
            create.config.command = ["/bin/sleep", "100000"]
            create.config.logPath = "\(name).log"
            create.config.linux.securityContext.namespaceOptions.pid = .container
            let id = try await client.createContainer(create).containerID
            var start = Runtime_V1_StartContainerRequest()
            start.containerID = id
            _ = try await client.startContainer(start)
            return id
        }

        func runtimeRoot(
            _ client: Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>,
            _ id: String
        ) async throws -> String {
            var status = Runtime_V1_ContainerStatusRequest()
            status.containerID = id
            status.verbose = true
            let info = try await client.containerStatus(status).info["info"] ?? "{}"
            let record = try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any] ?? [:]
            return (record["runtimeHandler"] as? String).map {
                URL(fileURLWithPath: socket).deletingLastPathComponent().path + "/runtime/" + $0
            } ?? ""
        }

        /// The same spec, layers and runtime, without skiffd or conmon: overlay mount, config.json,
        /// `runc create` (stdio to /dev/null) and `runc start`.
        func floorSeries(
            specOf client: Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>,
            container: String
        ) async throws -> [Double] {
            var status = Runtime_V1_ContainerStatusRequest()
            status.containerID = container
            status.verbose = true
            let response = try await client.containerStatus(status)
            let specText = response.info["runtimeSpec"] ?? "{}"
            let rootfs =
                (try JSONSerialization.jsonObject(with: Data(specText.utf8)) as? [String: Any])?["root"]
                as? [String: Any]
            let mounted = rootfs?["path"] as? String ?? ""
            let lower = try Self.lowerDirectories(of: mounted)
            var times: [Double] = []
            let root = scratch + "/runc-root"
            for index in 0..<count {
                let bundle = "\(scratch)/floor-\(index)"
                let id = "floor-\(index)-\(UUID().uuidString.prefix(6).lowercased())"
                let start = ContinuousClock.now
                for directory in ["upper", "work", "rootfs"] {
                    try FileSystem.makeDirectories(bundle + "/" + directory, mode: 0o755)
                }
                try OverlayMount.mount(
                    lowerDirectories: lower,
                    upper: bundle + "/upper",
                    work: bundle + "/work",
                    target: bundle + "/rootfs"
                )
                var spec = try JSONSerialization.jsonObject(with: Data(specText.utf8)) as? [String: Any] ?? [:]
                spec["root"] = ["path": bundle + "/rootfs", "readonly": false]
                var linux = spec["linux"] as? [String: Any] ?? [:]
                linux["cgroupsPath"] = "/skiff-bench/\(id)"
                spec["linux"] = linux
                try FileSystem.writeAtomically(
                    bundle + "/config.json",
                    Array(try JSONSerialization.data(withJSONObject: spec))
                )
                // runc create hands its stdio to the container: /dev/null, through a shell's exec
                // (about 1 ms of the figure), so the floor does not wait for the container's output.
                let created = try await ChildProcess.run(
                    "/bin/sh",
                    arguments: [
                        "-c", "exec \"$0\" --root \"$1\" create --bundle \"$2\" \"$3\" </dev/null >/dev/null 2>&1",
                        runtime, root, bundle, id,
                    ],
                    timeout: .seconds(30)
                )
                guard created.status == 0 else { throw ValidationError("runc create: \(created.stderrText)") }
                let started = try await ChildProcess.run(
                    runtime,
                    arguments: ["--root", root, "start", id],
                    timeout: .seconds(30)
                )
                guard started.status == 0 else { throw ValidationError("runc start: \(started.stderrText)") }
                times.append(Self.milliseconds(ContinuousClock.now - start))
            }
            for index in 0..<count {
                let bundle = "\(scratch)/floor-\(index)"
                if let ids = try? await ChildProcess.run(
                    runtime,
                    arguments: ["--root", root, "list", "-q"],
                    timeout: .seconds(30)
                ) {
                    for id in ids.stdoutText.split(separator: "\n") where id.hasPrefix("floor-\(index)-") {
                        _ = try? await ChildProcess.run(
                            runtime,
                            arguments: ["--root", root, "delete", "--force", String(id)],
                            timeout: .seconds(30)
                        )
                    }
                }
                try? FileSystem.unmount(bundle + "/rootfs")
            }
            return times
        }

        func floorExecSeries(containerRoot: String, id: String, count: Int) async throws -> [Double] {
            let process = scratch + "/exec-process.json"
            let spec =
                #"{"terminal":false,"user":{"uid":0,"gid":0},"args":["/bin/echo","hi"],"env":["PATH=/bin"],"cwd":"/"}"#
            try FileSystem.writeAtomically(process, Array(spec.utf8))
            var times: [Double] = []
            for _ in 0..<count {
                let start = ContinuousClock.now
                let result = try await ChildProcess.run(
                    runtime,
                    arguments: ["--root", containerRoot, "exec", "--process", process, id],
                    timeout: .seconds(30)
                )
                guard result.status == 0 else { throw ValidationError("runc exec: \(result.stderrText)") }
                times.append(Self.milliseconds(ContinuousClock.now - start))
            }
            return times
        }

        static func milliseconds(_ duration: Duration) -> Double { Sandboxes.milliseconds(duration) }
        static func percentile(_ values: [Double], _ p: Int) -> Double { Sandboxes.percentile(values, p) }
        static func p(_ values: [Double], _ percent: Int) -> String { Sandboxes.p(values, percent) }

        /// The overlay's lowerdir of a mounted container root filesystem, from mountinfo.
        static func lowerDirectories(of mountPoint: String) throws -> [String] {
            let table = try MountTable.current()
            guard let entry = table.entries.last(where: { $0.mountPoint == mountPoint }) else {
                throw ValidationError("\(mountPoint) is not mounted")
            }
            guard let lower = entry.superOptions.first(where: { $0.hasPrefix("lowerdir=") }) else {
                throw ValidationError("no lowerdir for \(mountPoint)")
            }
            return lower.dropFirst("lowerdir=".count).split(separator: ":").map(String.init)
        }

        /// VmRSS and Pss of a process, in KiB.
        static func memory(of pid: Int32) -> (rss: Int, pss: Int) {
            func field(_ file: String, _ name: String) -> Int {
                let text = (try? FileSystem.readText(file)) ?? ""
                for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
                    return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0")
                        ?? 0
                }
                return 0
            }
            return (field("/proc/\(pid)/status", "VmRSS"), field("/proc/\(pid)/smaps_rollup", "Pss"))
        }

        /// Average RSS and PSS (KiB) of the conmon processes of `ids`.
        static func conmonMemory(for ids: [String]) -> (rss: Double, pss: Double, count: Int) {
            let wanted = Set(ids)
            var rss = 0
            var pss = 0
            var count = 0
            for entry in FileSystem.directoryEntries("/proc") ?? [] {
                guard let pid = Int32(entry),
                    let command = try? FileSystem.readBytes("/proc/\(entry)/cmdline", limit: 8192)
                else { continue }
                let arguments = command.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                guard arguments.first?.hasSuffix("conmon") == true, let index = arguments.firstIndex(of: "--cid"),
                    index + 1 < arguments.count,
                    wanted.contains(arguments[index + 1])
                else { continue }
                let usage = memory(of: pid)
                rss += usage.rss
                pss += usage.pss
                count += 1
            }
            return count == 0 ? (0, 0, 0) : (Double(rss) / Double(count), Double(pss) / Double(count), count)
        }
    }
}
