import LinuxSys
import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// One attach, independent of the wire protocol: connects to the container's monitor, relays
/// the output produced from now on (conmon tags it 2 stdout, 3 stderr) to the transport and
/// the client's stdin to the container, and reports Success when the output ends (the container
/// exited). A client that goes away only detaches. `AttachSessionStateMachine` decides what
/// happens when; this class owns the socket and its reader thread and performs the actions.
final class AttachSession: StreamSession {
    let request: AttachStreamRequest
    let backend: any StreamingBackend
    let loop: EventLoop
    let logger: Logger
    weak var transport: (any ExecTransport)?
    private var stateMachine: AttachSessionStateMachine
    private var attached: StartedAttach?
    /// Holds the socket reader back while the client is not keeping up.
    private let gate = FlowGate()

    init(request: AttachStreamRequest, backend: any StreamingBackend, loop: EventLoop, logger: Logger) {
        self.request = request
        self.backend = backend
        self.loop = loop
        self.logger = logger
        self.stateMachine = AttachSessionStateMachine(request: request)
    }

    func start() {
        let bound = NIOLoopBound(self, eventLoop: loop)
        let backend = self.backend
        let request = self.request
        let loop = self.loop
        Task {
            do {
                let attach = try await backend.startAttach(request)
                loop.execute {
                    let session = bound.value
                    session.attached = attach
                    session.perform(session.stateMachine.connected())
                }
            } catch {
                loop.execute {
                    let session = bound.value
                    session.perform(session.stateMachine.connectionFailed("\(error)"))
                }
            }
        }
    }

    private func perform(_ actions: [AttachSessionStateMachine.Action]) {
        for action in actions { perform(action) }
    }

    private func perform(_ action: AttachSessionStateMachine.Action) {
        switch action {
        case .startReading:
            if let attached { startReading(attached.socket) }
        case .stopReading:
            gate.stop()
        case .sendStdin(let payload):
            guard let attached else { return }
            _ = payload.withUnsafeReadableBytes {
                send(attached.socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
        case .endContainerStdin:
            if let attached { shutdown(attached.socket, Int32(SHUT_WR)) }
        case .resizeTerminal(let width, let height):
            attached?.resize(width, height)
        case .shutDownSocket:
            if let attached { shutdown(attached.socket, Int32(SHUT_RDWR)) }
        case .closeSocket:
            if let attached { close(attached.socket) }
            attached = nil
        case .sendStatus(let status):
            transport?.finish(status: status)
        case .logClientGone:
            logger.debug("attach client went away", metadata: ["container": "\(request.containerID)"])
        }
    }

    /// conmon's socket is SOCK_SEQPACKET: one read is one message, so a thread reads it (NIO's
    /// channels are stream sockets). The event loop owns the fd and closes it once the reader
    /// has stopped.
    private func startReading(_ socket: Int32) {
        let bound = NIOLoopBound(self, eventLoop: loop)
        let request = self.request
        let loop = self.loop
        let gate = self.gate
        let readerStopped: @Sendable () -> Void = {
            loop.execute {
                let session = bound.value
                session.perform(session.stateMachine.readerStopped())
            }
        }
        let started = DedicatedThread.start {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                let stream = buffer[0]
                let wanted = stream == 2 ? request.stdout : (stream == 3 ? request.stderr : false)
                guard wanted, count > 1 else { continue }
                guard gate.waitToHandOver(count - 1) else { break }
                let payload = ByteBuffer(bytes: buffer[1..<count])
                loop.execute {
                    let transport = bound.value.transport
                    transport?.send(stream == 2 ? .stdout : .stderr, payload)
                    gate.handedOn(payload.readableBytes, writable: transport?.isWritable ?? true)
                }
            }
            readerStopped()
        }
        if started != 0 {
            logger.error("attach: no thread to read conmon's socket", metadata: ["errno": "\(started)"])
            readerStopped()
        }
    }

    func transportWritabilityChanged(_ writable: Bool) {
        gate.setWritable(writable)
    }

    func stdin(_ payload: ByteBuffer) {
        perform(stateMachine.stdinReceived(payload))
    }

    func closeStdin() {
        perform(stateMachine.stdinEnded())
    }

    func resize(width: UInt16, height: UInt16) {
        perform(stateMachine.resize(width: width, height: height))
    }

    func clientGone() {
        perform(stateMachine.clientGone())
    }
}
