import CRIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import LinuxSys

/// A real skiffd process on a private root, state dir and socket, driven over its socket with
/// the generated CRI client. Everything lives under one temporary directory that `cleanUp()`
/// removes; a daemon still running then is killed.
final class DaemonHarness: @unchecked Sendable {
    // @unchecked: the harness is used by one test at a time; `process` is only touched from it.
    let directory: String
    let configPath: String
    var process: Process?
    /// The exit status of a daemon the harness had to reap itself.
    private var reapedStatus: Int32?
    private var logIndex = 0

    var rootDir: String { directory + "/root" }
    var stateDir: String { directory + "/state" }
    var socketPath: String { stateDir + "/skiff.sock" }
    var cniConfDir: String { directory + "/cni" }
    var logPath: String { directory + "/skiffd-\(logIndex).log" }

    /// The skiffd built beside this test binary (or $SKIFFD_BINARY).
    static var skiffdBinary: String {
        if let override = ProcessInfo.processInfo.environment["SKIFFD_BINARY"] { return override }
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // The test runner may live inside an .xctest bundle directory.
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("skiffd").path),
            directory.path != "/"
        {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("skiffd").path
    }

    init(extraConfig: String = "") throws {
        directory = "/tmp/skiff-it-\(UUID().uuidString.prefix(8).lowercased())"
        configPath = directory + "/skiff.toml"
        try FileManager.default.createDirectory(atPath: directory + "/cni", withIntermediateDirectories: true)
        let config = """
            root_dir = "\(directory)/root"
            state_dir = "\(directory)/state"
            log_level = "debug"
            [grpc]
            socket = "\(directory)/state/skiff.sock"
            shutdown_timeout = "5s"
            [network]
            cni_conf_dir = "\(directory)/cni"
            \(extraConfig)
            """
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Adds TOML to the end of the config file, then starts skiffd.
    func start(extraConfigAppend: String) async throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: configPath))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(("\n" + extraConfigAppend).utf8))
        try handle.close()
        try await start()
    }

    /// Starts skiffd and waits until its socket answers Version.
    func start() async throws {
        logIndex += 1
        let process = try launch(arguments: ["--config", configPath])
        self.process = process
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if !process.isRunning {
                throw HarnessError("skiffd exited with \(process.terminationStatus) at start: \(log())")
            }
            if FileManager.default.fileExists(atPath: socketPath),
                (try? await runtime { try await $0.version(.init()) }) != nil
            {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw HarnessError("skiffd did not answer on \(socketPath) within 30 s: \(log())")
    }

    /// Runs skiffd with `arguments` to completion (for runs expected to fail) and returns its
    /// exit status and standard error.
    func runToCompletion(
        arguments: [String],
        timeout: Duration = .seconds(30)
    ) async throws -> (status: Int32, stderr: String) {
        logIndex += 1
        let process = try launch(arguments: arguments)
        reapedStatus = nil
        try await waitForExit(process, timeout: timeout)
        // Reaped by waitForExit itself: Foundation never saw the exit, and asking it would trap.
        return (reapedStatus ?? process.terminationStatus, log())
    }

    /// Sends `signal` and waits for the daemon to exit; returns its exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(30)) async throws -> Int32 {
        guard let process else { throw HarnessError("skiffd is not running") }
        kill(process.processIdentifier, signal)
        reapedStatus = nil
        try await waitForExit(process, timeout: timeout)
        self.process = nil
        return reapedStatus ?? process.terminationStatus
    }

    func runtime<Result: Sendable>(
        _ body: (Runtime_V1_RuntimeService.Client<HTTP2ClientTransport.Posix>) async throws -> Result
    ) async throws -> Result {
        try await withGRPCClient(
            transport: try .http2NIOPosix(target: .unixDomainSocket(path: socketPath), transportSecurity: .plaintext)
        ) { client in
            try await body(Runtime_V1_RuntimeService.Client(wrapping: client))
        }
    }

    func images<Result: Sendable>(
        _ body: (Runtime_V1_ImageService.Client<HTTP2ClientTransport.Posix>) async throws -> Result
    ) async throws -> Result {
        try await withGRPCClient(
            transport: try .http2NIOPosix(target: .unixDomainSocket(path: socketPath), transportSecurity: .plaintext)
        ) { client in
            try await body(Runtime_V1_ImageService.Client(wrapping: client))
        }
    }

    /// skiffd's resident memory in KiB (0 when it does not run): all of it (VmRSS), or only its
    /// private anonymous pages (`field: "RssAnon:"`, which file pages coming and going leave alone).
    func residentKiB(field: String = "VmRSS:") -> Int {
        guard let pid = process?.processIdentifier,
            let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) })
        else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    func log() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// Kills a daemon still running and removes everything the test made, also what a failed
    /// test left: containers (through their OCI runtime), conmon processes and mounts.
    func cleanUp() {
        if let process { stopProcess(process) }
        let runtimes = stateDir + "/runtime"
        for handler in (try? FileManager.default.contentsOfDirectory(atPath: runtimes)) ?? [] {
            let binary = handler == "crun" ? "/usr/bin/crun" : "/usr/sbin/runc"
            for id in (try? FileManager.default.contentsOfDirectory(atPath: "\(runtimes)/\(handler)")) ?? [] {
                _ = try? runQuietly(binary, ["--root", "\(runtimes)/\(handler)", "delete", "--force", id])
            }
        }
        for line in nodeMountInfo().split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count > 4, fields[4].hasPrefix(directory) { umount2(String(fields[4]), Int32(MNT_DETACH)) }
        }
        for process in processes(mentioning: directory) { kill(process.pid, SIGKILL) }
        killPauses()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The pauses skiffd started itself name nothing of the run on their command line; they are
    /// found by their cgroups (`<hierarchy>/skiff/skiff-pause-<pod>`), killed, and the cgroups
    /// removed: a pod recovery leaves alone (an unreadable record) keeps its pause.
    private func killPauses() {
        let pods = (try? FileManager.default.contentsOfDirectory(atPath: stateDir + "/sandboxes")) ?? []
        let hierarchies =
            ["/sys/fs/cgroup"]
            + ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []).map {
                "/sys/fs/cgroup/" + $0
            }
        let cgroups = pods.flatMap { pod in hierarchies.map { "\($0)/skiff/skiff-pause-\(pod)" } }.filter {
            FileManager.default.fileExists(atPath: $0 + "/cgroup.procs")
        }
        for cgroup in cgroups {
            let procs = (try? String(contentsOfFile: cgroup + "/cgroup.procs", encoding: .utf8)) ?? ""
            for pid in procs.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
        }
        for cgroup in cgroups {
            for _ in 0..<200 where rmdir(cgroup) != 0 && errno == EBUSY { usleep(10_000) }
        }
    }

    @discardableResult
    private func runQuietly(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<500 where process.isRunning { usleep(10_000) }
        return process.isRunning ? -1 : process.terminationStatus
    }

    private func launch(arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.skiffdBinary)
        process.arguments = arguments
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardError = log
        process.standardOutput = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try log.close()
        return process
    }

    private func waitForExit(_ process: Process, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var zombieSince: ContinuousClock.Instant?
        while process.isRunning {
            // Foundation sometimes leaves a killed child unreaped; reap it ourselves then.
            let stat = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8)) ?? ""
            if stat.split(separator: ")").last?.split(separator: " ").first == "Z" {
                if let since = zombieSince, ContinuousClock.now - since > .seconds(1) {
                    var status: Int32 = 0
                    if waitpid(process.processIdentifier, &status, WNOHANG) == process.processIdentifier {
                        reapedStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
                        return
                    }
                }
                zombieSince = zombieSince ?? ContinuousClock.now
            }
            if ContinuousClock.now > deadline {
                stopProcess(process)
                throw HarnessError("skiffd did not exit within \(timeout): \(log())")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` with a fresh harness and always cleans up, even when the test fails.
func withDaemon(extraConfig: String = "", start: Bool = true, _ body: (DaemonHarness) async throws -> Void) async throws
{
    let harness = try DaemonHarness(extraConfig: extraConfig)
    defer { harness.cleanUp() }
    if start { try await harness.start() }
    try await body(harness)
}

/// Waits until `condition` holds, looking every 20 ms for at most `timeout`, for state the test
/// has no event for (processes it did not start, files a runtime writes); fails naming `what`.
func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ condition: () throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try !condition() {
        guard ContinuousClock.now < deadline else {
            throw HarnessError("timed out after \(timeout) waiting until \(what)")
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// Processes whose command line (arguments joined by spaces) contains `text`.
func processes(mentioning text: String) -> [(pid: Int32, commandLine: String)] {
    var found: [(pid: Int32, commandLine: String)] = []
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
            !data.isEmpty
        else { continue }
        let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        if line.contains(text) { found.append((pid, line)) }
    }
    return found
}

/// /proc/self/mountinfo, read to its end (Foundation's String(contentsOfFile:) stops after the
/// first page of a /proc file, which hides every mount past it).
func nodeMountInfo() -> String {
    (try? FileSystem.readBytes("/proc/self/mountinfo", limit: 64 << 20)).map { String(decoding: $0, as: UTF8.self) }
        ?? ""
}

/// Mount points under `directory` (from the node's whole mount table, however long).
func nodeMountPoints(under directory: String) -> [String] {
    nodeMountInfo().split(separator: "\n").compactMap { line in
        let fields = line.split(separator: " ")
        return fields.count > 4 && fields[4].hasPrefix(directory + "/") ? String(fields[4]) : nil
    }
}
