import NIOCore

/// One attach's life, whatever the wire protocol, without any I/O: the connection to the
/// container's monitor being made (the client's stdin, and its end, wait for it), output relayed
/// until the monitor's socket ends (the container exited: Success), and the client leaving first,
/// which only detaches. `AttachSession` feeds the events in and performs the actions.
struct AttachSessionStateMachine {
    enum Action: Equatable {
        /// Start the thread that reads the monitor's socket.
        case startReading
        /// Stop handing output on, for good (the reader thread is released).
        case stopReading
        case sendStdin(ByteBuffer)
        /// The container's stdin ends: the socket's write side is shut.
        case endContainerStdin
        case resizeTerminal(width: UInt16, height: UInt16)
        /// Shut the socket both ways, so the reader thread stops.
        case shutDownSocket
        case closeSocket
        /// End the stream with this metav1.Status.
        case sendStatus([UInt8])
        case logClientGone
    }

    private enum Connection {
        /// The monitor's socket is not connected yet: stdin waits, and so does its end.
        case connecting(held: [ByteBuffer], stdinEnded: Bool)
        case attached
        /// The socket is closed (or was never wanted: the client left first).
        case closed
    }

    let request: AttachStreamRequest
    private var connection = Connection.connecting(held: [], stdinEnded: false)
    /// The status went out, or the client left: nothing more goes to the client.
    private(set) var isFinished = false

    init(request: AttachStreamRequest) {
        self.request = request
    }

    // MARK: - Monitor events

    mutating func connected() -> [Action] {
        guard !isFinished, case .connecting(let held, let stdinEnded) = connection else {
            connection = .closed
            return [.closeSocket]
        }
        connection = .attached
        var actions = held.map { Action.sendStdin($0) }
        if !request.stdin || stdinEnded { actions.append(.endContainerStdin) }
        actions.append(.startReading)
        return actions
    }

    mutating func connectionFailed(_ message: String) -> [Action] {
        connection = .closed
        return end(KubernetesStatus.failure(message))
    }

    /// The reader thread stopped: the container's output ended (it exited) or the socket was
    /// shut down.
    mutating func readerStopped() -> [Action] {
        let wasAttached: Bool
        if case .attached = connection { wasAttached = true } else { wasAttached = false }
        connection = .closed
        return (wasAttached ? [.closeSocket] : []) + end(KubernetesStatus.success())
    }

    // MARK: - Client events

    mutating func stdinReceived(_ payload: ByteBuffer) -> [Action] {
        guard request.stdin, payload.readableBytes > 0 else { return [] }
        switch connection {
        case .connecting(var held, let stdinEnded):
            held.append(payload)
            connection = .connecting(held: held, stdinEnded: stdinEnded)
            return []
        case .attached:
            return [.sendStdin(payload)]
        case .closed:
            return []
        }
    }

    mutating func stdinEnded() -> [Action] {
        switch connection {
        case .connecting(let held, _):
            connection = .connecting(held: held, stdinEnded: true)
            return []
        case .attached:
            return [.endContainerStdin]
        case .closed:
            return []
        }
    }

    func resize(width: UInt16, height: UInt16) -> [Action] {
        if case .attached = connection { [.resizeTerminal(width: width, height: height)] } else { [] }
    }

    /// The client went away: the session detaches; the container runs on.
    mutating func clientGone() -> [Action] {
        var actions: [Action] = isFinished ? [.stopReading] : [.logClientGone, .stopReading]
        isFinished = true
        if case .attached = connection { actions.append(.shutDownSocket) }
        return actions
    }

    private mutating func end(_ status: [UInt8]) -> [Action] {
        guard !isFinished else { return [] }
        isFinished = true
        return [.stopReading, .sendStatus(status)]
    }
}
