import CRIAPI
import Foundation
import GRPCCore
import ImageFixtures
import LinuxSys
import Testing

/// A running skiffd with the busybox test image pulled from a local registry and one pod, for
/// container tests; everything is removed afterwards through the CRI and then checked: no
/// mount, conmon or container process of the run may be left.
struct ContainerHarness {
    let daemon: DaemonHarness
    let image: String
    let podID: String
    let logDirectory: String

    // Empty when busybox-static is missing: the images then fail to run, visibly, instead of a trap.
    static let busybox = (try? BusyboxImages.busyboxBinary()) ?? []

    /// `privilegedPod`: the pod may run privileged containers (LinuxSandboxSecurityContext.privileged).
    static func with(
        handler: String = "",
        sharedPID: Bool = false,
        privilegedPod: Bool = false,
        extraConfig: String = "",
        _ body: (ContainerHarness) async throws -> Void
    ) async throws {
        let registry = try await TestRegistry.start()
        defer { registry.stop() }
        let fixture = BusyboxImages.standard(busybox: busybox)
        try await registry.withPusher { try await $0.push(fixture, repository: "skiff/busybox", tag: "1.0") }
        try await withDaemon(extraConfig: extraConfig) { daemon in
            var pull = Runtime_V1_PullImageRequest()
            pull.image.image = "\(registry.host)/skiff/busybox:1.0"
            let image = try await daemon.images { try await $0.pullImage(pull) }.imageRef
            let logDirectory = daemon.directory + "/pod-logs"
            var config = PodSandboxTests.config("ctr-pod", hostNetwork: true)
            config.logDirectory = logDirectory
            config.linux.securityContext.namespaceOptions.pid = sharedPID ? .pod : .container
            config.linux.securityContext.privileged = privilegedPod
            let podID = try await PodSandboxTests.run(daemon, config, handler: handler)
            let harness = ContainerHarness(daemon: daemon, image: image, podID: podID, logDirectory: logDirectory)
            do {
                try await body(harness)
            } catch {
                try? await harness.tearDown()
                throw error
            }
            try await harness.tearDown()
        }
    }

    /// Removes every pod (and so every container) through the CRI, then checks for leftovers.
    func tearDown() async throws {
        let pods = try await daemon.runtime { try await $0.listPodSandbox(Runtime_V1_ListPodSandboxRequest()) }.items
        let created = try await daemon.runtime { try await $0.listContainers(Runtime_V1_ListContainersRequest()) }
            .containers.map(\.id)
        for pod in pods { try await PodSandboxTests.remove(daemon, pod.id) }
        let cgroups = (created + pods.map { "pause-" + $0.id }).flatMap { id in
            [
                "/sys/fs/cgroup/memory/skiff/skiff-\(id)", "/sys/fs/cgroup/pids/skiff/skiff-\(id)",
                "/sys/fs/cgroup/skiff/skiff-\(id)",
            ]
        }.filter { FileManager.default.fileExists(atPath: $0) }
        #expect(cgroups.isEmpty, "cgroups left: \(cgroups)")
        let containers = try await daemon.runtime { try await $0.listContainers(Runtime_V1_ListContainersRequest()) }
            .containers
        #expect(containers.isEmpty)
        #expect(try PodSandboxTests.leftovers(daemon).isEmpty, "mounts left under \(daemon.directory)")
        let daemonPID = daemon.process.map { "\($0.processIdentifier): " } ?? "-"
        let left = Self.processes(mentioning: daemon.directory).filter { !$0.hasPrefix(daemonPID) }
        #expect(left.isEmpty, "processes left: \(left)")
    }

    /// Config for runc as the default handler plus a handler `name` whose runtime is the shell
    /// `script` (written to `directory`), for runtimes that misbehave on purpose.
    static func wrapperHandlerConfig(_ name: String, in directory: String, script: String) throws -> String {
        let wrapper = "\(directory)/\(name)-runc"
        try ("#!/bin/sh\n" + script + "\n").write(toFile: wrapper, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: wrapper)
        return """
            [runtime.handlers.runc]
            runtime_path = "runc"
            [runtime.handlers.\(name)]
            runtime_path = "\(wrapper)"
            """
    }

    /// `[runtime] pause_path` naming a script that runs `script` before it execs the real
    /// skiff-pause (with the same arguments): to make the pod's pause slow or fail. Put it before
    /// any `[runtime.…]` table of the extra config.
    static func wrapperPauseConfig(in directory: String, script: String) throws -> String {
        let wrapper = "\(directory)/wrapped-pause"
        let real = FileSystem.besideExecutable("skiff-pause")
        try ("#!/bin/sh\n" + script + "\nexec \(real) \"$@\"\n").write(
            toFile: wrapper,
            atomically: true,
            encoding: .utf8
        )
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: wrapper)
        return """
            [runtime]
            pause_path = "\(wrapper)"
            """
    }

    /// VmRSS in KiB of the first process in skiffd's cgroup `skiff-<name>` (cgroup v1's pids
    /// hierarchy, or v2), or nil when there is no such cgroup or process.
    static func residentKiB(ofCgroup name: String) -> Int? {
        for root in ["/sys/fs/cgroup/pids/skiff", "/sys/fs/cgroup/skiff"] {
            // try?: the cgroup exists in one hierarchy only; the other is skipped.
            guard let procs = try? FileSystem.readText("\(root)/skiff-\(name)/cgroup.procs"),
                let pid = procs.split(separator: "\n").first,
                // try?: the process may have exited since; then there is nothing to measure.
                let status = try? FileSystem.readText("/proc/\(pid)/status"),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
            else { continue }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
        }
        return nil
    }

    /// Command lines of processes whose arguments contain `text` (conmon, runc, containers).
    static func processes(mentioning text: String) -> [String] {
        IntegrationTests.processes(mentioning: text).map { "\($0.pid): \($0.commandLine)" }
    }

    func config(
        _ name: String,
        _ command: [String],
        configure: (inout Runtime_V1_ContainerConfig) -> Void = { _ in }
    ) -> Runtime_V1_ContainerConfig {
        var config = Runtime_V1_ContainerConfig()
        config.metadata.name = name
        config.image.image = image
        config.command = command
        config.logPath = "\(name)/0.log"
        config.labels = ["container": name]
        config.linux.securityContext.namespaceOptions.pid = .container
        configure(&config)
        return config
    }

    func create(_ config: Runtime_V1_ContainerConfig, in pod: String? = nil) async throws -> String {
        var request = Runtime_V1_CreateContainerRequest()
        request.podSandboxID = pod ?? podID
        request.config = config
        return try await daemon.runtime { try await $0.createContainer(request) }.containerID
    }

    func start(_ id: String) async throws {
        var request = Runtime_V1_StartContainerRequest()
        request.containerID = id
        _ = try await daemon.runtime { try await $0.startContainer(request) }
    }

    func run(_ config: Runtime_V1_ContainerConfig) async throws -> String {
        let id = try await create(config)
        try await start(id)
        return id
    }

    func stop(_ id: String, timeout: Int64) async throws {
        var request = Runtime_V1_StopContainerRequest()
        request.containerID = id
        request.timeout = timeout
        _ = try await daemon.runtime { try await $0.stopContainer(request) }
    }

    func remove(_ id: String) async throws {
        var request = Runtime_V1_RemoveContainerRequest()
        request.containerID = id
        _ = try await daemon.runtime { try await $0.removeContainer(request) }
    }

    func status(_ id: String, verbose: Bool = false) async throws -> Runtime_V1_ContainerStatusResponse {
        var request = Runtime_V1_ContainerStatusRequest()
        request.containerID = id
        request.verbose = verbose
        return try await daemon.runtime { try await $0.containerStatus(request) }
    }

    /// Polls until the container has exited (or fails after `timeout`).
    func waitForExit(_ id: String, timeout: Duration = .seconds(20)) async throws -> Runtime_V1_ContainerStatus {
        let deadline = ContinuousClock.now + timeout
        while true {
            let status = try await status(id).status
            if status.state == .containerExited { return status }
            guard ContinuousClock.now < deadline else {
                throw HarnessError("container \(id) did not exit within \(timeout): \(status.state)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func execSync(_ id: String, _ command: [String], timeout: Int64 = 0) async throws -> Runtime_V1_ExecSyncResponse {
        var request = Runtime_V1_ExecSyncRequest()
        request.containerID = id
        request.cmd = command
        request.timeout = timeout
        return try await daemon.runtime { try await $0.execSync(request) }
    }

    func logPath(_ name: String) -> String { "\(logDirectory)/\(name)/0.log" }

    /// The CRI log file as (stream, tag, message) triples.
    func logLines(_ name: String) -> [(stream: String, tag: String, message: String)] {
        let text = (try? String(contentsOfFile: logPath(name), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count >= 3 else { return nil }
            return (String(parts[1]), String(parts[2]), parts.count > 3 ? String(parts[3]) : "")
        }
    }

    func stdout(_ name: String) -> String {
        logLines(name).filter { $0.stream == "stdout" }.map { $0.message + ($0.tag == "F" ? "\n" : "") }.joined()
    }

    /// Waits until the log of `name` contains `text`.
    func waitForLog(_ name: String, containing text: String, timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !((try? String(contentsOfFile: logPath(name), encoding: .utf8)) ?? "").contains(text) {
            guard ContinuousClock.now < deadline else { throw HarnessError("log of \(name) never showed \"\(text)\"") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
