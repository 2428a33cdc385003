import CLinuxShim
import FoundationEssentials
import LinuxSys
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// What a container's monitor is asked to start: `runtime create` of a bundle, with the
/// container's stdio going to its CRI log file.
public struct MonitorRequest: Sendable {
    public var id: String
    public var name: String
    public var bundle: String
    public var runtimePath: String
    public var runtimeRoot: String
    /// Flags the runtime gets after `--root` and before its subcommand (`runtime_args`, and
    /// the sandbox shim's own).
    public var runtimeArguments: [String] = []
    /// The CRI log file; empty for none (a log inside the bundle is used then).
    public var logPath: String
    public var exitDirectory: String
    public var socketDirectory: String
    public var stdin: Bool
    public var stdinOnce: Bool
    public var tty: Bool
    public var timeout: Duration
}

public struct MonitorStarted: Sendable, Equatable {
    /// The container's init process (created, waiting for `start`).
    public var pid: Int32
    public var monitorPID: Int32
}

/// A per-container monitor that outlives skiffd: holds the container's stdio, writes its logs,
/// records its exit. A protocol so the container service can be tested with a fake.
public protocol ContainerMonitor: Sendable {
    func create(_ request: MonitorRequest) async throws(SkiffError) -> MonitorStarted
    /// Asks the monitor to reopen the log file (after the kubelet rotated it).
    func reopenLog(bundle: String) throws(SkiffError)
}

/// conmon (from Debian's conmon package) as the monitor, driven like cri-o drives it: the
/// container ID, bundle and runtime on the command line, the `_OCI_SYNCPIPE` fd for the
/// container's pid (or the runtime's error), an exit file per container in one directory,
/// and the `ctl` fifo in the bundle for log reopening and terminal resizes.
public struct ConmonMonitor: ContainerMonitor {
    public let binary: String

    public init(binary: String) {
        self.binary = binary
    }

    public func create(_ request: MonitorRequest) async throws(SkiffError) -> MonitorStarted {
        var fds: [Int32] = [0, 0]
        guard skiff_pipe_cloexec(&fds) == 0 else {
            throw SkiffError(
                .internalError,
                "cannot create the sync pipe for conmon",
                cause: SystemCallError("pipe2", request.id, errno: errno)
            )
        }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        defer { close(readEnd) }
        let logPath = request.logPath.isEmpty ? request.bundle + "/container.log" : request.logPath
        var arguments = [
            "--api-version", "1", "--cid", request.id, "--cuuid", request.id, "--name", request.name,
            "--runtime", request.runtimePath, "--runtime-arg", "--root=\(request.runtimeRoot)",
        ]
        for argument in request.runtimeArguments { arguments += ["--runtime-arg", argument] }
        arguments += [
            "--bundle", request.bundle, "--container-pidfile", request.bundle + "/pidfile",
            "--conmon-pidfile", request.bundle + "/conmon.pid", "--log-path", "k8s-file:\(logPath)",
            "--exit-dir", request.exitDirectory, "--socket-dir-path", request.socketDirectory,
        ]
        if request.stdin { arguments.append("--stdin") }
        if request.stdin && !request.stdinOnce { arguments.append("--leave-stdin-open") }
        if request.tty { arguments.append("--terminal") }
        let result: ChildProcess.Result
        do {
            result = try await ChildProcess.run(
                binary,
                arguments: arguments,
                environment: ["PATH=\(ExecutableLookup.fallbackPath)", "_OCI_SYNCPIPE=3"],
                timeout: request.timeout,
                options: .init(workingDirectory: request.bundle, inheritedFDs: [writeEnd], killGroupAfterExit: false)
            )
        } catch {
            close(writeEnd)
            throw SkiffError(.internalError, "cannot start conmon (\(binary))", cause: error)
        }
        close(writeEnd)
        guard result.status == 0, !result.timedOut else {
            throw SkiffError(
                .internalError,
                "conmon exited with \(result.status) before creating container \(request.id): \(result.stderrText.trimmingNewline)"
            )
        }
        let message = try await Self.readSyncMessage(
            readEnd,
            deadline: ContinuousClock.now + request.timeout,
            id: request.id
        )
        guard message.value > 0 else {
            let text = message.text.isEmpty ? "no message" : message.text.trimmingNewline
            throw SkiffError(.internalError, "the OCI runtime could not create container \(request.id): \(text)")
        }
        // conmon's pid only lets a forced end kill conmon too (0: unknown); the container was created.
        let monitorPID = ProcessIDFile.read(request.bundle + "/conmon.pid") ?? 0
        return MonitorStarted(pid: message.value, monitorPID: monitorPID)
    }

    public func reopenLog(bundle: String) throws(SkiffError) {
        try Self.writeControl("2 0 0\n", bundle: bundle)
    }

    /// Writes one message to conmon's control fifo (`<bundle>/ctl`): "1 H W" resizes the
    /// terminal, "2 0 0" reopens the log.
    static func writeControl(_ message: String, bundle: String) throws(SkiffError) {
        let path = bundle + "/ctl"
        let fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw SkiffError(
                .failedPrecondition,
                "the container's monitor is not listening (\(path))",
                cause: SystemCallError("open", path, errno: errno)
            )
        }
        defer { close(fd) }
        let bytes = Array(message.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else {
            throw SkiffError(
                .internalError,
                "cannot write to \(path)",
                cause: SystemCallError("write", path, errno: errno)
            )
        }
    }

    /// conmon writes one JSON line per event: `{"data": N}` or `{"data": N, "message": "…"}`
    /// (N the pid, or negative on failure). Read without blocking a thread.
    static func readSyncMessage(
        _ fd: Int32,
        deadline: ContinuousClock.Instant,
        id: String
    ) async throws(SkiffError) -> (value: Int32, text: String) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !bytes.contains(10) {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                bytes.append(contentsOf: buffer[0..<count])
                continue
            }
            if count == 0 { break }
            guard errno == EAGAIN || errno == EINTR else { break }
            if ContinuousClock.now >= deadline {
                throw SkiffError(.deadlineExceeded, "conmon did not report container \(id) created in time")
            }
            do {
                try await Task.sleep(for: .milliseconds(2))
            } catch {
                // A cancelled sleep returns at once: without this, the loop would spin to the deadline.
                throw SkiffError(.cancelled, "creating container \(id) was cancelled while waiting for conmon")
            }
        }
        let line = bytes.split(separator: 10).first.map { Array($0) } ?? []
        // try?: anything that is not a sync message is reported below with the line itself.
        guard let message = try? JSONDecoder().decode(ConmonSyncMessage.self, from: Data(line)),
            let value = message.data ?? message.pid
        else {
            throw SkiffError(
                .internalError,
                "conmon ended without reporting container \(id) (\"\(String(decoding: line, as: UTF8.self))\")"
            )
        }
        return (Int32(clamping: value), message.message ?? "")
    }
}

/// One line conmon writes on its sync pipe: the container's pid (or a negative error) in
/// `data` (`pid` in older conmons), and a message when something failed.
struct ConmonSyncMessage: Decodable {
    var data: Int64?
    var pid: Int64?
    var message: String?
}
