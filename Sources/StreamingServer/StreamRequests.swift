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

/// An attach to a running container's stdio, waiting for its client.
public struct AttachStreamRequest: Sendable, Equatable {
    public var containerID: String
    public var tty: Bool
    public var stdin: Bool
    public var stdout: Bool
    public var stderr: Bool

    public init(containerID: String, tty: Bool, stdin: Bool, stdout: Bool, stderr: Bool) {
        self.containerID = containerID
        self.tty = tty
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// What a streaming URL's token stands for.
public enum StreamRequest: Sendable, Equatable {
    case exec(ExecStreamRequest)
    case attach(AttachStreamRequest)

    var containerID: String {
        switch self {
        case .exec(let request): request.containerID
        case .attach(let request): request.containerID
        }
    }
}

/// A connection to a container's monitor for attach: a connected SOCK_SEQPACKET socket whose
/// messages carry a leading stream byte (2 stdout, 3 stderr, as conmon numbers them) one way and stdin the other.
public struct StartedAttach: Sendable {
    public var socket: Int32
    public var resize: @Sendable (_ width: UInt16, _ height: UInt16) -> Void

    public init(socket: Int32, resize: @escaping @Sendable (UInt16, UInt16) -> Void) {
        self.socket = socket
        self.resize = resize
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
public protocol StreamingBackend: Sendable {
    func startExec(_ request: ExecStreamRequest) async throws(SkiffError) -> StartedExec
    func startAttach(_ request: AttachStreamRequest) async throws(SkiffError) -> StartedAttach
}
