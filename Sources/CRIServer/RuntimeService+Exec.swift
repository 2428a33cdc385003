import CRIAPI
import FoundationEssentials
import GRPCCore
import SkiffCommon
import StreamingServer

/// ExecSync and the streaming entry points (api.proto: ExecSync, Exec, Attach, PortForward).
extension RuntimeService {
    public func execSync(
        request: Runtime_V1_ExecSyncRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_ExecSyncResponse {
        let exec = self.exec
        let result = try await cancelledWithRPC {
            try await exec.execSync(request.containerID, command: request.cmd, timeout: max(0, request.timeout))
        }
        var response = Runtime_V1_ExecSyncResponse()
        response.stdout = Data(result.stdout)
        response.stderr = Data(result.stderr)
        response.exitCode = result.exitCode
        return response
    }

    /// Validates the request and answers with a single-use URL on the streaming server.
    public func exec(request: Runtime_V1_ExecRequest, context: ServerContext) async throws -> Runtime_V1_ExecResponse {
        guard let streaming else { throw SkiffError.notImplemented("Exec", "streaming") }
        guard !request.cmd.isEmpty, !request.cmd[0].isEmpty else {
            throw SkiffError.invalidArgument("Exec needs a command")
        }
        guard request.stdin || request.stdout || request.stderr else {
            throw SkiffError.invalidArgument("Exec needs at least one of stdin, stdout and stderr")
        }
        guard !(request.tty && request.stderr) else {
            throw SkiffError.invalidArgument(
                "Exec with tty has no separate stderr: set stderr false (a terminal merges it into stdout)"
            )
        }
        let container = try await containers.running(request.containerID, toAllow: "exec in it")
        var response = Runtime_V1_ExecResponse()
        response.url = try await streaming.url(
            for: .exec(
                ExecStreamRequest(
                    containerID: container.id,
                    command: request.cmd,
                    tty: request.tty,
                    stdin: request.stdin,
                    stdout: request.stdout,
                    stderr: request.stderr
                )
            )
        )
        return response
    }

    /// Validates the request (the container runs; stdin only if it was created with stdin) and
    /// answers with a single-use URL on the streaming server.
    public func attach(
        request: Runtime_V1_AttachRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_AttachResponse {
        guard let streaming else { throw SkiffError.notImplemented("Attach", "streaming") }
        guard request.stdin || request.stdout || request.stderr else {
            throw SkiffError.invalidArgument("Attach needs at least one of stdin, stdout and stderr")
        }
        let container = try await exec.validateAttach(request.containerID, stdin: request.stdin)
        var response = Runtime_V1_AttachResponse()
        response.url = try await streaming.url(
            for: .attach(
                AttachStreamRequest(
                    containerID: container.id,
                    tty: container.tty,
                    stdin: request.stdin,
                    stdout: request.stdout,
                    stderr: request.stderr && !container.tty
                )
            )
        )
        return response
    }

    /// Validates the request (the pod exists and is ready; ports are 1-65535) and answers with a
    /// single-use URL on the streaming server.
    public func portForward(
        request: Runtime_V1_PortForwardRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_PortForwardResponse {
        guard let streaming else { throw SkiffError.notImplemented("PortForward", "streaming") }
        guard !request.podSandboxID.isEmpty else {
            throw SkiffError.invalidArgument("PortForward needs a pod_sandbox_id")
        }
        var ports: [UInt16] = []
        for port in request.port {
            guard let valid = UInt16(exactly: port), valid > 0 else {
                throw SkiffError.invalidArgument("PortForward port \(port) is not a TCP port (1-65535)")
            }
            ports.append(valid)
        }
        let sandbox = try await sandboxes.validatePortForward(request.podSandboxID)
        var response = Runtime_V1_PortForwardResponse()
        response.url = try await streaming.url(
            for: .portForward(PortForwardStreamRequest(podSandboxID: sandbox.id, ports: ports))
        )
        return response
    }
}
