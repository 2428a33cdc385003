import Foundation
import LinuxSys
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// An OCI runtime CLI (runc, crun, …) as Skiff drives it: every call with the handler's `--root`,
/// a deadline, and the runtime's own error text in the failure. A protocol so the container
/// service can be tested with a fake and handlers can be swapped.
public protocol OCIRuntime: Sendable {
    var name: String { get }
    /// Runs the container of `bundle` in the foreground to completion (used for short-lived
    /// helpers and tests; long-running containers go through the monitor).
    func run(id: String, bundle: String, timeout: Duration) async throws(SkiffError) -> ChildProcess.Result
    /// Starts a created container (the monitor ran `create`).
    func start(id: String) async throws(SkiffError)
    /// Runs `process.json` in the running container, capturing its output; the exec'd
    /// process's host pid is written to `pidFile`.
    func exec(
        id: String,
        processFile: String,
        pidFile: String,
        timeout: Duration,
        outputLimit: Int
    ) async throws(SkiffError) -> ChildProcess.Result
    /// Starts `process.json` in the running container with its stdio left open to the caller
    /// (an interactive exec); with `tty` the runtime runs on a pseudo-terminal (stdin/stdout are
    /// its master side), allocates the container's and relays between them, following resizes.
    func startExec(id: String, processFile: String, pidFile: String, tty: Bool) throws(SkiffError) -> RunningChild
    /// Applies new `linux.resources` (a JSON file) to the running container's cgroup.
    func update(id: String, resourcesFile: String) async throws(SkiffError)
    /// The container's state; nil only when the runtime says it has no such container. Output
    /// that is not an OCI state is an error, never "gone".
    func state(id: String) async throws(SkiffError) -> OCIState?
    func kill(id: String, signal: Int32) async throws(SkiffError)
    func delete(id: String, force: Bool) async throws(SkiffError)
}

/// `runtime state` output (OCI runtime spec, "State").
public struct OCIState: Codable, Sendable, Equatable {
    public var id: String
    public var status: String
    public var pid: Int32?
    public var bundle: String?
}

/// runc and crun share this command line.
public struct RuncCompatibleRuntime: OCIRuntime {
    public let name: String
    public let binary: String
    public let root: String
    public let commandTimeout: Duration

    public init(name: String, binary: String, root: String, commandTimeout: Duration = .seconds(30)) {
        self.name = name
        self.binary = binary
        self.root = root
        self.commandTimeout = commandTimeout
    }

    public func run(id: String, bundle: String, timeout: Duration) async throws(SkiffError) -> ChildProcess.Result {
        try await invoke(["run", "--bundle", bundle, id], timeout: timeout, allowFailure: true)
    }

    public func start(id: String) async throws(SkiffError) {
        try await invoke(["start", id], timeout: commandTimeout)
    }

    public func exec(
        id: String,
        processFile: String,
        pidFile: String,
        timeout: Duration,
        outputLimit: Int
    ) async throws(SkiffError) -> ChildProcess.Result {
        let result: ChildProcess.Result
        do {
            // On a timeout or cancellation the command and its children die first, while the
            // runtime is still their parent and reaps them; then the runtime.
            result = try await ChildProcess.run(
                binary,
                arguments: execArguments(id: id, processFile: processFile, pidFile: pidFile, tty: false),
                environment: ["PATH=\(ExecutableLookup.fallbackPath)"],
                timeout: timeout,
                outputLimit: outputLimit,
                options: .init(beforeKill: { Self.killExecTree(pidFile: pidFile) })
            )
        } catch {
            throw error.skiffError("cannot run the OCI runtime \(binary)", ifMissing: .failedPrecondition)
        }
        return result
    }

    public func startExec(
        id: String,
        processFile: String,
        pidFile: String,
        tty: Bool
    ) throws(SkiffError) -> RunningChild {
        do {
            // With a tty the runtime runs on a terminal of ours: it relays it to the container's
            // console and follows its size (SIGWINCH), so resizing ours resizes the container's.
            return try RunningChild.start(
                binary,
                arguments: execArguments(id: id, processFile: processFile, pidFile: pidFile, tty: tty),
                environment: ["PATH=\(ExecutableLookup.fallbackPath)"],
                options: .init(terminal: tty)
            )
        } catch {
            throw error.skiffError("cannot run the OCI runtime \(binary)", ifMissing: .failedPrecondition)
        }
    }

    /// Kills an exec'd command and everything it started, by the host pid the runtime writes to
    /// `pidFile` once the command runs (waited for up to 2 s), and waits up to 1 s for it to be
    /// reaped. Blocking: runs on a dedicated thread. Returns the pid, nil if none was written.
    @discardableResult
    public static func killExecTree(pidFile: String) -> Int32? {
        var pid: Int32?
        let deadline = ContinuousClock.now + .seconds(2)
        while pid == nil && ContinuousClock.now < deadline {
            // try?: the runtime writes the pid file only once the command runs; until then it is polled.
            pid = (try? FileSystem.readText(pidFile)).flatMap { Int32($0.trimmingNewline) }
            if pid == nil { usleep(5000) }
        }
        guard let pid, pid > 0 else { return nil }
        ProcessTree.kill(pid)
        _ = ProcessTree.waitUntilGone(pid, milliseconds: 1000)
        return pid
    }

    func execArguments(id: String, processFile: String, pidFile: String, tty: Bool) -> [String] {
        ["--root", root, "exec", "--process", processFile, "--pid-file", pidFile] + (tty ? ["--tty"] : []) + [id]
    }

    public func update(id: String, resourcesFile: String) async throws(SkiffError) {
        try await invoke(["update", "--resources", resourcesFile, id], timeout: commandTimeout)
    }

    public func state(id: String) async throws(SkiffError) -> OCIState? {
        let result = try await invoke(["state", id], timeout: commandTimeout, allowFailure: true)
        guard result.status == 0 else {
            if Self.saysNoSuchContainer(result) { return nil }
            throw failure("state \(id)", result)
        }
        do {
            return try JSONDecoder().decode(OCIState.self, from: Data(result.stdout))
        } catch {
            // Not "gone": recovery would record a running container as exited.
            throw SkiffError(
                .internalError,
                "\(name) state \(id) printed no OCI state: \(String(decoding: result.stdout.prefix(200), as: UTF8.self))",
                cause: DescribedError(error)
            )
        }
    }

    /// runc ("container does not exist"), crun ("container `x` does not exist") and runsc
    /// ("… not found") word it differently; exit status 1 is all the CLI contract gives.
    static func saysNoSuchContainer(_ result: ChildProcess.Result) -> Bool {
        result.stderrText.contains("does not exist") || result.stderrText.contains("not found")
    }

    public func kill(id: String, signal: Int32) async throws(SkiffError) {
        _ = try await invoke(["kill", id, String(signal)], timeout: commandTimeout)
    }

    public func delete(id: String, force: Bool) async throws(SkiffError) {
        let result = try await invoke(
            ["delete"] + (force ? ["--force"] : []) + [id],
            timeout: commandTimeout,
            allowFailure: true
        )
        if result.status != 0 && !Self.saysNoSuchContainer(result) {
            throw failure("delete \(id)", result)
        }
    }

    @discardableResult
    func invoke(
        _ arguments: [String],
        timeout: Duration,
        allowFailure: Bool = false
    ) async throws(SkiffError) -> ChildProcess.Result {
        let result: ChildProcess.Result
        do {
            result = try await ChildProcess.run(
                binary,
                arguments: ["--root", root] + arguments,
                environment: ["PATH=\(ExecutableLookup.fallbackPath)"],
                timeout: timeout
            )
        } catch {
            throw error.skiffError("cannot run the OCI runtime \(binary)", ifMissing: .failedPrecondition)
        }
        if result.timedOut {
            throw SkiffError(.deadlineExceeded, "\(name) \(arguments.first ?? "") did not finish within \(timeout)")
        }
        if result.status != 0 && !allowFailure { throw failure(arguments.joined(separator: " "), result) }
        return result
    }

    func failure(_ what: String, _ result: ChildProcess.Result) -> SkiffError {
        SkiffError(
            .internalError,
            "\(name) \(what) failed (exit \(result.status)): \(result.stderrText.trimmingNewline)"
        )
    }
}
