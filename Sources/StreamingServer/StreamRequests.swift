import LinuxSys
import SkiffCommon

/// An exec the kubelet (or crictl) asked for with the Exec rpc, waiting for its client to
/// connect to the streaming URL.
public struct ExecStreamRequest: Sendable, Equatable {
    public var containerID: String
    public var command: [String]
    public var tty: Bool
    public var stdin: Bool
    public var stdout: Bool
    public var stderr: Bool

    public init(containerID: String, command: [String], tty: Bool, stdin: Bool, stdout: Bool, stderr: Bool) {
        self.containerID = containerID
        self.command = command
        self.tty = tty
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// A started exec: its process (stdio pipes open) and what to do when the session ends.
public struct StartedExec: Sendable {
    public var child: RunningChild
    /// Kills whatever of the exec is still running (the client went away).
    public var kill: @Sendable () -> Void
    /// Removes the exec's files once it has been reaped.
    public var finish: @Sendable () -> Void

    public init(child: RunningChild, kill: @escaping @Sendable () -> Void, finish: @escaping @Sendable () -> Void) {
        self.child = child
        self.kill = kill
        self.finish = finish
    }
}

/// What the streaming server needs from the container side; a protocol so the server can be
/// tested without containers and the container service stays free of HTTP.
public protocol ExecStarter: Sendable {
    func startExec(_ request: ExecStreamRequest) async throws(SkiffError) -> StartedExec
}
