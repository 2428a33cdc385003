import FoundationEssentials
import LinuxSys
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// A runtime that runs a whole pod as one sandbox with a kernel of its own: gVisor's runsc. The
/// pod's pause container is the sandbox (its root container); every other container runs
/// inside it. runsc takes runc's command line, with three differences Skiff handles here:
///
/// - A container inside the sandbox gets the stdio of `runsc start`, and its pid file names the
///   sandbox, which conmon cannot wait for. conmon runs `skiff-sandbox-shim` as its runtime: a
///   holder process stands for the container as conmon's child, and `start` goes through the
///   shim, which hands the holder's stdio (conmon's pipes) to `runsc start`.
/// - `runsc exec` has no `--tty` (the process file's `terminal` decides) and its `--pid-file`
///   names runsc's own process: the command is killed inside the sandbox by the pid
///   `--internal-pid-file` gives (`runsc kill --pid`).
/// - Usage comes from `runsc events --stats`: the containers' cgroups stay empty.
public struct SandboxedRuntime: OCIRuntime {
    public let base: RuncCompatibleRuntime
    /// `skiff-sandbox-shim`.
    public let shim: String

    public init(base: RuncCompatibleRuntime, shim: String) {
        self.base = base
        self.shim = shim
    }

    public var name: String { base.name }

    /// Where the shim records each holder's pid: beside (not inside) the runtime's root, whose
    /// entries are runsc's own.
    public static func holderDirectory(root: String) -> String { root + ".holders" }
    func holderPIDFile(of id: String) -> String { Self.holderDirectory(root: base.root) + "/\(id).pid" }

    /// The `--runtime-arg`s conmon gives the shim, before runsc's own global flags.
    public func shimArguments() -> [String] {
        ["--skiff-runtime=\(base.binary)", "--skiff-holders=\(Self.holderDirectory(root: base.root))"]
    }

    public func run(id: String, bundle: String, timeout: Duration) async throws(SkiffError) -> ChildProcess.Result {
        try await base.run(id: id, bundle: bundle, timeout: timeout)
    }

    /// The sandbox itself (no holder) starts as any runc container; a container inside it is
    /// started by the shim with its holder's stdio.
    public func start(id: String) async throws(SkiffError) {
        let holderFile = holderPIDFile(of: id)
        guard FileSystem.exists(holderFile) else { return try await base.start(id: id) }
        let log = Self.holderDirectory(root: base.root) + "/\(id).start.log"
        defer {
            // try?: a log left behind is removed with the next start of this ID or never read.
            try? FileSystem.removeIfPresent(log)
        }
        let arguments =
            ["start", holderFile, id, "--", base.binary, "--root", base.root, "--log", log, "--log-format", "json"]
            + base.globalArguments + ["start", id]
        let result: ChildProcess.Result
        do {
            result = try await ChildProcess.run(
                shim,
                arguments: arguments,
                environment: ["PATH=\(ExecutableLookup.fallbackPath)"],
                timeout: base.commandTimeout,
                // `runsc start` of a container inside the sandbox starts the container's gofer,
                // which must outlive the command (it serves the container's files).
                options: .init(killGroupAfterExit: false)
            )
        } catch {
            throw error.skiffError("cannot run \(shim)", ifMissing: .failedPrecondition)
        }
        if result.timedOut {
            throw SkiffError(.deadlineExceeded, "\(name) start \(id) did not finish within \(base.commandTimeout)")
        }
        guard result.status != 0 else { return }
        // runsc's own error is in its log; the shim's, on its stderr.
        // try?: an unreadable log leaves the shim's message alone.
        let logged = (try? FileSystem.readBytes(log, limit: 1 << 20)) ?? []
        let report = RuntimeErrorReport(stderr: logged.isEmpty ? result.stderr : logged)
        throw SkiffError(
            report.saysNoSuchContainer(id) ? .notFound : .internalError,
            "\(name) start \(id) failed (exit \(result.status)): \(report.summary)"
        )
    }

    public func exec(
        id: String,
        _ exec: OCIExec,
        timeout: Duration,
        outputLimit: Int
    ) async throws(SkiffError) -> ChildProcess.Result {
        let result = try await base.runExec(execArguments(id: id, exec), timeout: timeout, outputLimit: outputLimit)
        // Killing `runsc exec` leaves the command running in the sandbox.
        if result.timedOut || Task.isCancelled { _ = await killExec(id: id, exec) }
        return result
    }

    public func startExec(id: String, _ exec: OCIExec) throws(SkiffError) -> RunningChild {
        do {
            return try RunningChild.start(
                base.binary,
                arguments: execArguments(id: id, exec),
                environment: ["PATH=\(ExecutableLookup.fallbackPath)"],
                options: .init(terminal: exec.tty)
            )
        } catch {
            throw error.skiffError("cannot run the OCI runtime \(base.binary)", ifMissing: .failedPrecondition)
        }
    }

    /// `runsc kill --pid` of the command inside the sandbox (it takes the command's process
    /// group there), then runsc's own process.
    public func killExec(id: String, _ exec: OCIExec) async -> Int32? {
        // runsc writes the file once the command runs, as runc does its own.
        let sandboxPIDFile = exec.sandboxPIDFile
        let pid = await DedicatedThread.run { ProcessIDFile.wait(for: sandboxPIDFile, within: .seconds(2)) }
        if let pid, pid > 0 {
            do throws(SkiffError) {
                try await base.invoke(
                    ["kill", "--pid", String(pid), id, String(SIGKILL)],
                    container: id,
                    timeout: base.commandTimeout
                )
            } catch {
                // The command may have ended meanwhile; runsc's process is killed below anyway.
            }
        }
        if let runscPID = ProcessIDFile.read(exec.pidFile), runscPID > 0 { Glibc.kill(runscPID, SIGKILL) }
        return pid
    }

    func execArguments(id: String, _ exec: OCIExec) -> [String] {
        ["--root", base.root] + base.globalArguments + [
            "exec", "--process", exec.processFile, "--pid-file", exec.pidFile, "--internal-pid-file",
            exec.sandboxPIDFile, id,
        ]
    }

    /// gVisor sizes its sandbox from the pod; runsc 20221219 has no `update` at all.
    public func update(id: String, resourcesFile: String) async throws(SkiffError) {
        throw SkiffError(
            .failedPrecondition,
            "runtime handler \"\(name)\" runs the pod in a gVisor sandbox, whose resources cannot be changed per container (runsc has no update)"
        )
    }

    public func state(id: String) async throws(SkiffError) -> OCIState? {
        try await base.state(id: id)
    }

    public func kill(id: String, signal: Int32) async throws(SkiffError) {
        try await base.kill(id: id, signal: signal)
    }

    /// Also ends the holder of a container deleted before it started (it waits for a start that
    /// will not come).
    public func delete(id: String, force: Bool) async throws(SkiffError) {
        try await base.delete(id: id, force: force)
        let holderFile = holderPIDFile(of: id)
        if let pid = ProcessIDFile.read(holderFile), pid > 0,
            ProcessTree.commandLine(of: pid)?.contains("skiff-sandbox-shim") == true,
            ProcessTree.commandLine(of: pid)?.contains(id) == true
        {
            Glibc.kill(pid, SIGTERM)
        }
        // try?: the holder removes its file itself; this one is of a holder already gone.
        try? FileSystem.removeIfPresent(holderFile)
    }

    /// `runsc events --stats`: the container's usage as the sandbox accounts it.
    public func stats(id: String) async throws(SkiffError) -> SandboxedUsage {
        let result = try await base.invoke(["events", "--stats", id], container: id, timeout: base.commandTimeout)
        return try SandboxedUsage.parse(result.stdout, id: id)
    }
}
