import Foundation
import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// One attach, independent of the wire protocol: connects to the container's monitor, relays
/// the output produced from now on (conmon tags it 2 stdout, 3 stderr) to the transport and
/// the client's stdin to the container, and reports Success when the output ends (the container
/// exited). A client that goes away only detaches.
final class AttachSession: StreamSession {
    let request: AttachStreamRequest
    let backend: any StreamingBackend
    let loop: EventLoop
    let logger: Logger
    weak var transport: (any ExecTransport)?
    private var attached: StartedAttach?
    private var finished = false
    /// Holds the socket reader back while the client is not keeping up.
    private let gate = FlowGate()
    /// Input that arrives before the connection to conmon is up.
    private var pendingStdin: [[UInt8]] = []
    private var pendingStdinClose = false

    init(request: AttachStreamRequest, backend: any StreamingBackend, loop: EventLoop, logger: Logger) {
        self.request = request
        self.backend = backend
        self.loop = loop
        self.logger = logger
    }

    func start() {
        let bound = NIOLoopBound(self, eventLoop: loop)
        let backend = self.backend
        let request = self.request
        let loop = self.loop
        Task {
            do {
                let attach = try await backend.startAttach(request)
                loop.execute { bound.value.connected(attach) }
            } catch {
                loop.execute { bound.value.end(KubernetesStatus.failure("\(error)")) }
            }
        }
    }

    private func connected(_ attach: StartedAttach) {
        guard !finished else {
            close(attach.socket)
            return
        }
        attached = attach
        for bytes in pendingStdin { sendToContainer(bytes, attach) }
        pendingStdin = []
        if !request.stdin || pendingStdinClose { shutdown(attach.socket, Int32(SHUT_WR)) }
        let bound = NIOLoopBound(self, eventLoop: loop)
        let request = self.request
        let loop = self.loop
        let socket = attach.socket
        let gate = self.gate
        // conmon's socket is SOCK_SEQPACKET: one read is one message, so a thread reads it
        // (NIO's channels are stream sockets). The event loop owns the fd and closes it once
        // the reader has stopped.
        Thread.detachNewThread {
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
            loop.execute { bound.value.readerStopped() }
        }
    }

    func transportWritabilityChanged(_ writable: Bool) {
        gate.setWritable(writable)
    }

    private func readerStopped() {
        if let attached { close(attached.socket) }
        attached = nil
        end(KubernetesStatus.success())
    }

    private func end(_ status: [UInt8]) {
        guard !finished else { return }
        finished = true
        gate.stop()
        transport?.finish(status: status)
    }

    func stdin(_ payload: ByteBuffer) {
        guard request.stdin, payload.readableBytes > 0 else { return }
        let bytes = Array(payload.readableBytesView)
        if let attached { sendToContainer(bytes, attached) } else { pendingStdin.append(bytes) }
    }

    func closeStdin() {
        if let attached { shutdown(attached.socket, Int32(SHUT_WR)) } else { pendingStdinClose = true }
    }

    func resize(width: UInt16, height: UInt16) {
        attached?.resize(width, height)
    }

    func clientGone() {
        if !finished { logger.debug("attach client went away", metadata: ["container": "\(request.containerID)"]) }
        finished = true
        gate.stop()
        if let attached { shutdown(attached.socket, Int32(SHUT_RDWR)) }
    }

    private func sendToContainer(_ bytes: [UInt8], _ attached: StartedAttach) {
        _ = bytes.withUnsafeBytes { send(attached.socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}
