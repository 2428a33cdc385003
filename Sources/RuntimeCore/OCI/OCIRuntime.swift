import FoundationEssentials
import LinuxSys
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// An OCI runtime CLI (runc, crun, …) as Skiff drives it: every call with the handler's `--root`,
/// a deadline, and the runtime's own error message in the failure. A container the runtime does
/// not have is NOT_FOUND (`state` answers nil instead, `delete` succeeds). A protocol so the
/// container service can be tested with a fake and handlers can be swapped.
public protocol OCIRuntime: Sendable {
    var name: String { get }
    /// Runs the container of `bundle` in the foreground to completion (used for short-lived
    /// helpers and tests; long-running containers go through the monitor).
    func run(id: String, bundle: String, timeout: Duration) async throws(SkiffError) -> ChildProcess.Result
    /// Starts a created container (the monitor ran `create`).
    func start(id: String) async throws(SkiffError)
    /// Runs the exec's process in the running container to its end, capturing its output (up
    /// to `limit` bytes of each stream) within `timeout`.
    func exec(
        id: String,
        _ exec: OCIExec,
        timeout: Duration,
        outputLimit: Int
    ) async throws(SkiffError) -> ChildProcess.Result
    /// Starts the exec's process in the running container with its stdio left open to the
    /// caller (an interactive exec); with `tty` the runtime runs on a pseudo-terminal
    /// (stdin/stdout are its master side), allocates the container's and relays between them,
    /// following resizes.
    func startExec(id: String, _ exec: OCIExec) throws(SkiffError) -> RunningChild
    /// Kills an exec'd command and everything it started, by what the runtime wrote of it;
    /// returns its pid when one was known. For a command whose runtime process timed out or
    /// whose caller went away.
    func killExec(id: String, _ exec: OCIExec) async -> Int32?
    /// Applies new `linux.resources` (a JSON file) to the running container's cgroup.
    func update(id: String, resourcesFile: String) async throws(SkiffError)
    /// The container's state; nil only when the runtime says it has no such container. Output
    /// that is not an OCI state is an error, never "gone".
    func state(id: String) async throws(SkiffError) -> OCIState?
    func kill(id: String, signal: Int32) async throws(SkiffError)
    func delete(id: String, force: Bool) async throws(SkiffError)
}

extension OCIRuntime {
    /// runc's and crun's way: the exec'd command is a host process whose pid the runtime wrote.
    public func killExec(id: String, _ exec: OCIExec) async -> Int32? {
        let pidFile = exec.pidFile
        return await DedicatedThread.run { RuncCompatibleRuntime.killExecTree(pidFile: pidFile) }
    }
}

/// What `runtime exec` runs: the process spec (JSON, in the bundle), where the runtime writes the
/// exec'd process's host pid, and whether it gets a terminal.
public struct OCIExec: Sendable, Equatable {
    public var processFile: String
    public var pidFile: String
    public var tty: Bool

    /// Where a sandbox runtime (runsc) writes the command's pid inside the sandbox; `pidFile`
    /// then names runsc's own process.
    public var sandboxPIDFile: String { pidFile + ".sandbox" }

    public init(processFile: String, pidFile: String, tty: Bool) {
        self.processFile = processFile
        self.pidFile = pidFile
        self.tty = tty
    }
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
    /// The handler's `runtime_args`, before the subcommand of every call.
    public let globalArguments: [String]
    public let commandTimeout: Duration

    public init(
        name: String,
        binary: String,
        root: String,
        globalArguments: [String] = [],
        commandTimeout: Duration = .seconds(30)
    ) {
        self.name = name
        self.binary = binary
        self.root = root
        self.globalArguments = globalArguments
        self.commandTimeout = commandTimeout
    }

    public func run(id: String, bundle: String, timeout: Duration) async throws(SkiffError) -> ChildProcess.Result {
        try await invoke(["run", "--bundle", bundle, id], container: id, timeout: timeout, allowFailure: true)
    }

    public func start(id: String) async throws(SkiffError) {
        try await invoke(["start", id], container: id, timeout: commandTimeout)
    }

    /// Without `--log-format json`: the runtime's stderr is the command's, returned as is.
    public func exec(
        id: String,
        _ exec: OCIExec,
        timeout: Duration,
        outputLimit: Int
    ) async throws(SkiffError) -> ChildProcess.Result {
        let pidFile = exec.pidFile
        // On a timeout or cancellation the command and its children die first, while the
        // runtime is still their parent and reaps them; then the runtime.
        return try await runExec(
            execArguments(id: id, OCIExec(processFile: exec.processFile, pidFile: pidFile, tty: false)),
            timeout: timeout,
            outputLimit: outputLimit,
            beforeKill: { Self.killExecTree(pidFile: pidFile) }
        )
    }

    /// Runs `runtime exec` to its end, its output captured (each stream up to `outputLimit`).
    func runExec(
        _ arguments: [String],
        timeout: Duration,
        outputLimit: Int,
        beforeKill: (@Sendable () -> Void)? = nil
    ) async throws(SkiffError) -> ChildProcess.Result {
        do {
            return try await ChildProcess.run(
                binary,
                arguments: arguments,
                environment: ["PATH=\(ExecutableLookup.fallbackPath)"],
                timeout: timeout,
                outputLimit: outputLimit,
                options: .init(beforeKill: beforeKill)
            )
        } catch {
            throw error.skiffError("cannot run the OCI runtime \(binary)", ifMissing: .failedPrecondition)
        }
    }

    public func startExec(id: String, _ exec: OCIExec) throws(SkiffError) -> RunningChild {
        do {
            // With a tty the runtime runs on a terminal of ours: it relays it to the container's
            // console and follows its size (SIGWINCH), so resizing ours resizes the container's.
            return try RunningChild.start(
                binary,
                arguments: execArguments(id: id, exec),
                environment: ["PATH=\(ExecutableLookup.fallbackPath)"],
                options: .init(terminal: exec.tty)
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
        let pid = ProcessIDFile.wait(for: pidFile, within: .seconds(2))
        guard let pid, pid > 0 else { return nil }
        ProcessTree.kill(pid)
        _ = ProcessTree.waitUntilGone(pid, milliseconds: 1000)
        return pid
    }

    func execArguments(id: String, _ exec: OCIExec) -> [String] {
        ["--root", root] + globalArguments + ["exec", "--process", exec.processFile, "--pid-file", exec.pidFile]
            + (exec.tty ? ["--tty"] : []) + [id]
    }

    public func update(id: String, resourcesFile: String) async throws(SkiffError) {
        try await invoke(["update", "--resources", resourcesFile, id], container: id, timeout: commandTimeout)
    }

    public func state(id: String) async throws(SkiffError) -> OCIState? {
        let result: ChildProcess.Result
        do {
            result = try await invoke(["state", id], container: id, timeout: commandTimeout)
        } catch  where error.code == .notFound {
            return nil
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

    public func kill(id: String, signal: Int32) async throws(SkiffError) {
        try await invoke(["kill", id, String(signal)], container: id, timeout: commandTimeout)
    }

    /// Deleting a container the runtime does not have succeeds: it is as deleted as can be.
    public func delete(id: String, force: Bool) async throws(SkiffError) {
        do {
            try await invoke(["delete"] + (force ? ["--force"] : []) + [id], container: id, timeout: commandTimeout)
        } catch  where error.code == .notFound {
            return
        }
    }

    /// Runs a command about `container` (logs as JSON where the runtime can); a failure says
    /// what the runtime said, and is NOT_FOUND when that is that it has no such container.
    @discardableResult
    func invoke(
        _ arguments: [String],
        container: String,
        timeout: Duration,
        allowFailure: Bool = false
    ) async throws(SkiffError) -> ChildProcess.Result {
        let result: ChildProcess.Result
        do {
            result = try await ChildProcess.run(
                binary,
                arguments: ["--root", root, "--log-format", "json"] + globalArguments + arguments,
                environment: ["PATH=\(ExecutableLookup.fallbackPath)"],
                timeout: timeout
            )
        } catch {
            throw error.skiffError("cannot run the OCI runtime \(binary)", ifMissing: .failedPrecondition)
        }
        if result.timedOut {
            throw SkiffError(.deadlineExceeded, "\(name) \(arguments.first ?? "") did not finish within \(timeout)")
        }
        if result.status != 0 && !allowFailure {
            let report = RuntimeErrorReport(stderr: result.stderr)
            let what = "\(name) \(arguments.joined(separator: " ")) failed (exit \(result.status)): \(report.summary)"
            throw SkiffError(report.saysNoSuchContainer(container) ? .notFound : .internalError, what)
        }
        return result
    }
}
