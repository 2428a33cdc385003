import RuntimeCore
import SkiffCommon
import StreamingServer

/// Connects the streaming server to the container service: an exec stream runs the command
/// through the container's OCI runtime.
struct ContainerExecStarter: ExecStarter {
    let containers: ContainerService

    func startExec(_ request: ExecStreamRequest) async throws(SkiffError) -> StartedExec {
        let started = try await containers.startStreamingExec(request.containerID, command: request.command, tty: request.tty)
        return StartedExec(child: started.child, kill: started.kill, finish: started.finish)
    }
}
