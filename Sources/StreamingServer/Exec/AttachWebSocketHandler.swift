import Foundation
import Logging
import NIOCore
import NIOWebSocket

#if canImport(Glibc)
import Glibc
#endif

/// One attach session over WebSocket (`v5`/`v4.channel.k8s.io`): the container's output as it
/// is produced from now on (what is already in the log is not replayed), the client's stdin to
/// the container, resizes to its terminal. Ends with Success on the error channel when the
/// container's output ends (it exited); a client that goes away detaches and stops nothing.
final class AttachWebSocketHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let request: AttachStreamRequest
    let backend: any StreamingBackend
    let version5: Bool
    let logger: Logger
    private var attached: StartedAttach?
    private var finished = false
    /// Input that arrives before the connection to conmon is up.
    private var pendingStdin: [[UInt8]] = []
    private var pendingStdinClose = false

    init(request: AttachStreamRequest, backend: any StreamingBackend, version5: Bool, logger: Logger) {
        self.request = request
        self.backend = backend
        self.version5 = version5
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let backend = self.backend, request = self.request
        Task {
            do {
                let attach = try await backend.startAttach(request)
                loop.execute { bound.value.0.start(attach, context: bound.value.1) }
            } catch {
                loop.execute { bound.value.0.end(KubernetesStatus.failure("\(error)"), context: bound.value.1) }
            }
        }
    }

    private func start(_ attach: StartedAttach, context: ChannelHandlerContext) {
        attached = attach
        guard context.channel.isActive else {
            close(attach.socket)
            attached = nil
            return
        }
        for bytes in pendingStdin { sendToContainer(bytes, attach) }
        pendingStdin = []
        if !request.stdin || pendingStdinClose { shutdown(attach.socket, Int32(SHUT_WR)) }
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let request = self.request
        // conmon's socket is SOCK_SEQPACKET: one read is one message, so a thread reads it
        // (NIO's channels are stream sockets). The event loop owns the fd and closes it once
        // the reader has stopped.
        let socket = attach.socket
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                // conmon's stream numbers: 2 stdout, 3 stderr (1 is its stdin).
                let stream = buffer[0]
                let wanted = stream == 2 ? request.stdout : (stream == 3 ? request.stderr : false)
                guard wanted, count > 1 else { continue }
                let payload = ByteBuffer(bytes: buffer[1..<count])
                loop.execute { bound.value.0.relay(stream == 2 ? .stdout : .stderr, payload, context: bound.value.1) }
            }
            loop.execute { bound.value.0.readerStopped(context: bound.value.1) }
        }
    }

    private func readerStopped(context: ChannelHandlerContext) {
        if let attached { close(attached.socket) }
        attached = nil
        end(KubernetesStatus.success(), context: context)
    }

    private func relay(_ channel: StreamChannel, _ payload: ByteBuffer, context: ChannelHandlerContext) {
        guard !finished else { return }
        var buffer = context.channel.allocator.buffer(capacity: payload.readableBytes + 1)
        buffer.writeInteger(channel.rawValue)
        buffer.writeImmutableBuffer(payload)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: buffer)), promise: nil)
    }

    private func end(_ status: [UInt8], context: ChannelHandlerContext) {
        guard !finished else { return }
        finished = true
        guard context.channel.isActive else { return }
        var buffer = context.channel.allocator.buffer(capacity: status.count + 1)
        buffer.writeInteger(StreamChannel.error.rawValue)
        buffer.writeBytes(status)
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: buffer)), promise: nil)
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: .normalClosure)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .text:
            var payload = frame.unmaskedData
            guard let first = payload.readInteger(as: UInt8.self), let channel = StreamChannel(rawValue: first) else { return }
            switch channel {
            case .stdin where request.stdin:
                let bytes = payload.readBytes(length: payload.readableBytes) ?? []
                guard !bytes.isEmpty else { return }
                if let attached { sendToContainer(bytes, attached) } else { pendingStdin.append(bytes) }
            case .close where version5:
                guard payload.readInteger(as: UInt8.self) == StreamChannel.stdin.rawValue else { return }
                if let attached { shutdown(attached.socket, Int32(SHUT_WR)) } else { pendingStdinClose = true }
            case .resize:
                guard let attached else { return }
                let size = (try? JSONSerialization.jsonObject(with: Data(payload.readableBytesView))) as? [String: Any]
                if let width = size?["Width"] as? Int, let height = size?["Height"] as? Int, width > 0, height > 0 {
                    attached.resize(UInt16(clamping: width), UInt16(clamping: height))
                }
            default:
                break
            }
        case .connectionClose:
            detach()
            context.close(promise: nil)
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        default:
            break
        }
    }

    private func sendToContainer(_ bytes: [UInt8], _ attached: StartedAttach) {
        _ = bytes.withUnsafeBytes { send(attached.socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Leaves the container running: only this client's connection to conmon goes.
    private func detach() {
        finished = true
        if let attached { shutdown(attached.socket, Int32(SHUT_RDWR)) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !finished { logger.debug("attach client went away", metadata: ["container": "\(request.containerID)"]) }
        detach()
        context.fireChannelInactive()
    }
}
