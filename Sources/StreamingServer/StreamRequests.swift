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

/// A port-forward into a pod's network namespace, waiting for its client. The ports the client
/// may open: those the rpc named, or any when it named none (crictl and the kubelet name none;
/// each forwarded connection says its port in a header).
public struct PortForwardStreamRequest: Sendable, Equatable {
    public var podSandboxID: String
    public var ports: [UInt16]

    public init(podSandboxID: String, ports: [UInt16]) {
        self.podSandboxID = podSandboxID
        self.ports = ports
    }
}

/// What a streaming URL's token stands for.
public enum StreamRequest: Sendable, Equatable {
    case exec(ExecStreamRequest)
    case attach(AttachStreamRequest)
    case portForward(PortForwardStreamRequest)

    /// The URL's first path segment.
    var kind: String {
        switch self {
        case .exec: "exec"
        case .attach: "attach"
        case .portForward: "portforward"
        }
    }

    /// The container or pod the stream is for, for logs.
    var target: String {
        switch self {
        case .exec(let request): request.containerID
        case .attach(let request): request.containerID
        case .portForward(let request): request.podSandboxID
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
    /// Sets the terminal size (columns, rows) of a tty exec.
    public var resize: @Sendable (UInt16, UInt16) -> Void

    public init(
        child: RunningChild,
        kill: @escaping @Sendable () -> Void,
        finish: @escaping @Sendable () -> Void,
        resize: @escaping @Sendable (UInt16, UInt16) -> Void = { _, _ in }
    ) {
        self.child = child
        self.kill = kill
        self.finish = finish
        self.resize = resize
    }
}

/// What the streaming server needs from the container side; a protocol so the server can be
/// tested without containers and the container service stays free of HTTP.
public protocol StreamingBackend: Sendable {
    func startExec(_ request: ExecStreamRequest) async throws(SkiffError) -> StartedExec
    func startAttach(_ request: AttachStreamRequest) async throws(SkiffError) -> StartedAttach
    /// A TCP connection to `port` on the loopback address inside the pod's network namespace
    /// (the node's, for a host-network pod): a connected, non-blocking socket fd the caller owns.
    func connectToPod(_ podSandboxID: String, port: UInt16) async throws(SkiffError) -> Int32
}
