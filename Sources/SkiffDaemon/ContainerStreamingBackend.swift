import RuntimeCore
import SkiffCommon
import StreamingServer

/// Connects the streaming server to the container and sandbox services: an exec stream runs
/// the command through the container's OCI runtime; an attach stream connects to the
/// container's conmon; a port-forward connects inside the pod's network namespace.
struct ContainerStreamingBackend: StreamingBackend {
    let exec: ExecService
    let sandboxes: SandboxService

    func connectToPod(_ podSandboxID: String, port: UInt16) async throws(SkiffError) -> Int32 {
        try await sandboxes.connectToPod(podSandboxID, port: port)
    }

    func startExec(_ request: ExecStreamRequest) async throws(SkiffError) -> StartedExec {
        let started = try await exec.startStreamingExec(
            request.containerID,
            command: request.command,
            tty: request.tty
        )
        return StartedExec(child: started.child, kill: started.kill, finish: started.finish, resize: started.resize)
    }

    func startAttach(_ request: AttachStreamRequest) async throws(SkiffError) -> StartedAttach {
        let connection = try await exec.connectAttach(request.containerID, stdin: request.stdin)
        let exec = self.exec
        let id = request.containerID
        return StartedAttach(socket: connection.socket) { width, height in
            Task { await exec.resizeTerminalLoggingFailure(id, width: width, height: height) }
        }
    }
}
