import RuntimeCore
import SkiffCommon
import StreamingServer

/// Connects the streaming server to the container and sandbox services: an exec stream runs
/// the command through the container's OCI runtime; an attach stream connects to the
/// container's conmon; a port-forward connects inside the pod's network namespace.
struct ContainerStreamingBackend: StreamingBackend {
    let containers: ContainerService
    let sandboxes: SandboxService

    func connectToPod(_ podSandboxID: String, port: UInt16) async throws(SkiffError) -> Int32 {
        try await sandboxes.connectToPod(podSandboxID, port: port)
    }

    func startExec(_ request: ExecStreamRequest) async throws(SkiffError) -> StartedExec {
        let started = try await containers.startStreamingExec(
            request.containerID,
            command: request.command,
            tty: request.tty
        )
        return StartedExec(child: started.child, kill: started.kill, finish: started.finish, resize: started.resize)
    }

    func startAttach(_ request: AttachStreamRequest) async throws(SkiffError) -> StartedAttach {
        let connection = try await containers.connectAttach(request.containerID, stdin: request.stdin)
        let containers = self.containers
        let id = request.containerID
        return StartedAttach(socket: connection.socket) { width, height in
            Task { try? await containers.resizeTerminal(id, width: width, height: height) }
        }
    }
}
