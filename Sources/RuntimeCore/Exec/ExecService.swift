import FoundationEssentials
import LinuxSys
import Logging
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Calls that run a command in a running container or connect to it: ExecSync, the streaming
/// server's exec and attach (`+Attach`), terminal resizes. It keeps no state of its own: each
/// call has `ContainerService` check that the container runs, writes the exec's process spec
/// into the container's bundle, and asks the container's OCI runtime (or its conmon).
public struct ExecService: Sendable {
    let containers: ContainerService
    let logger: Logger

    public init(containers: ContainerService, logger: Logger) {
        self.containers = containers
        self.logger = logger
    }

    public struct ExecResult: Sendable, Equatable {
        public var stdout: [UInt8]
        public var stderr: [UInt8]
        public var exitCode: Int32
    }

    /// The kubelet's cap on each of stdout and stderr.
    public static let execOutputLimit = 16 << 20

    /// Runs `command` in the container with the container's user, env and working directory;
    /// a timeout (seconds, 0 = none) kills the command and fails with DEADLINE_EXCEEDED.
    public func execSync(_ id: String, command: [String], timeout: Int64) async throws(SkiffError) -> ExecResult {
        let exec = try await prepareExec(id, command: command, tty: false, rpc: "ExecSync")
        defer { exec.cleanUp() }
        let limit: Duration = timeout > 0 ? .seconds(timeout) : .seconds(365 * 24 * 3600)
        let result = try await containers.runtime(for: exec.container).exec(
            id: exec.container.id,
            exec.runtimeExec(tty: false),
            timeout: limit,
            outputLimit: Self.execOutputLimit
        )
        if result.timedOut {
            // The runtime killed the command's process tree before itself (killExecTree).
            throw SkiffError(
                .deadlineExceeded,
                "command \(Self.quoted(command)) in container \(exec.container.id) timed out after \(timeout)s"
            )
        }
        return ExecResult(stdout: result.stdout, stderr: result.stderr, exitCode: result.status)
    }

    /// The container's own process, as its bundle's config.json gives it.
    func processSpec(bundle: String) throws(SkiffError) -> RuntimeSpec.Process {
        do {
            let bytes = try FileSystem.readBytes(bundle + "/config.json", limit: 16 << 20)
            return try JSONDecoder().decode(RuntimeSpec.self, from: Data(bytes)).process
        } catch let error as SystemCallError {
            throw error.skiffError("cannot read the container's spec")
        } catch {
            throw SkiffError(
                .internalError,
                "the container's spec in \(bundle) is unreadable",
                cause: DescribedError(error)
            )
        }
    }

    static func quoted(_ command: [String]) -> String {
        command.joined(separator: " ").count > 80
            ? "\"\(command.joined(separator: " ").prefix(77))...\"" : "\"\(command.joined(separator: " "))\""
    }

    /// An interactive exec for the streaming server: the runtime's `exec` with its stdio left
    /// open to the caller. With `tty` the runtime allocates the terminal and relays it over
    /// those pipes. `finish` removes the exec's files once the caller is done.
    public func startStreamingExec(
        _ id: String,
        command: [String],
        tty: Bool
    ) async throws(SkiffError)
        -> (
            child: RunningChild, kill: @Sendable () -> Void, finish: @Sendable () -> Void,
            resize: @Sendable (UInt16, UInt16) -> Void
        )
    {
        let exec = try await prepareExec(id, command: command, tty: tty, rpc: "Exec")
        let child: RunningChild
        let runtime: any OCIRuntime
        do {
            runtime = try containers.runtime(for: exec.container)
            child = try runtime.startExec(id: exec.container.id, exec.runtimeExec(tty: tty))
        } catch {
            exec.cleanUp()
            throw error
        }
        let kill: @Sendable () -> Void = {
            // The runtime puts the exec'd process in a session of its own (runsc: in the
            // sandbox), so it is killed by what the runtime wrote of it, with everything it
            // started, while the runtime can still reap it; then the runtime's process group.
            Task {
                let pid = await runtime.killExec(id: exec.container.id, exec.runtimeExec(tty: tty))
                child.kill()
                logger.debug(
                    "exec killed",
                    metadata: ["container": "\(exec.container.id)", "pid": "\(pid.map(String.init) ?? "unknown")"]
                )
            }
        }
        // The runtime's own terminal (which it copies to the command's, once or on every
        // SIGWINCH, depending on the runtime) and the command's terminal itself.
        let resize: @Sendable (UInt16, UInt16) -> Void = { columns, rows in
            child.resizeTerminal(columns: columns, rows: rows)
            if let pid = exec.pid(), pid > 0 {
                TerminalResize.resizeTerminal(ofProcess: pid, columns: columns, rows: rows)
            }
        }
        return (child, kill, exec.cleanUp, resize)
    }

    /// An exec's process spec written into the container's bundle, and where the runtime writes
    /// the exec'd process's pid.
    struct PreparedExec: Sendable {
        var logger: Logger
        var container: Container
        var processFile: String
        var pidFile: String

        func runtimeExec(tty: Bool) -> OCIExec { OCIExec(processFile: processFile, pidFile: pidFile, tty: tty) }

        /// The exec'd process's host pid, once the runtime has written it.
        func pid() -> Int32? {
            ProcessIDFile.read(pidFile)
        }

        /// Removes the exec's files from the bundle; the bundle goes with the container, so a
        /// file left (logged) costs nothing more.
        @Sendable func cleanUp() {
            for path in [processFile, pidFile, runtimeExec(tty: false).sandboxPIDFile] {
                logger.logFailure(.warning, "cannot remove an exec's file", metadata: ["path": "\(path)"]) {
                    () throws(SystemCallError) in try FileSystem.removeIfPresent(path)
                }
            }
        }
    }

    /// Checks the container runs and writes the process spec for `command`: the container's
    /// own process (user, env, working directory, capabilities) with new arguments.
    func prepareExec(_ id: String, command: [String], tty: Bool, rpc: String) async throws(SkiffError) -> PreparedExec {
        guard !command.isEmpty, !command[0].isEmpty else { throw SkiffError.invalidArgument("\(rpc) needs a command") }
        let container = try await containers.running(id, toAllow: "exec in it")
        let bundle = containers.bundleDirectory(of: container.id)
        var process = try processSpec(bundle: bundle)
        process.args = command
        process.terminal = tty
        process.consoleSize = nil
        if tty && !process.env.contains(where: { $0.hasPrefix("TERM=") }) { process.env.append("TERM=xterm") }
        let token = ObjectID.random().prefix(16)
        let exec = PreparedExec(
            logger: logger,
            container: container,
            processFile: "\(bundle)/exec-\(token).json",
            pidFile: "\(bundle)/exec-\(token).pid"
        )
        try JSONFile.write(process, to: exec.processFile)
        return exec
    }
}
