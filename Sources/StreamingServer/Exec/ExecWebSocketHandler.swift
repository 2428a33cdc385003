import LinuxSys
import Logging
import NIOCore
import NIOPosix
import NIOWebSocket

/// One exec session over WebSocket (`v5.channel.k8s.io` / `v4.channel.k8s.io`): starts the
/// command, relays its stdout and stderr as channel 1 and 2 messages, the client's channel 0
/// messages to its stdin, and ends with the exit status on channel 3 and a close frame. A client
/// that goes away ends (kills) only its own exec.
final class ExecWebSocketHandler: ChannelInboundHandler, ExecTransport {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let request: ExecStreamRequest
    let starter: any StreamingBackend
    let version5: Bool
    let logger: Logger
    private var session: ExecSession?
    private var context: ChannelHandlerContext?

    init(request: ExecStreamRequest, starter: any StreamingBackend, version5: Bool, logger: Logger) {
        self.request = request
        self.starter = starter
        self.version5 = version5
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let session = ExecSession(request: request, starter: starter, loop: context.eventLoop, logger: logger)
        session.transport = self
        self.session = session
        session.start()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func send(_ channel: StreamChannel, _ payload: ByteBuffer) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: payload.readableBytes + 1)
        buffer.writeInteger(channel.rawValue)
        buffer.writeImmutableBuffer(payload)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: buffer)), promise: nil)
    }

    func finish(status: [UInt8]) {
        guard let context else { return }
        send(.error, ByteBuffer(bytes: status))
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
            case .stdin:
                session?.stdin(payload)
            case .close where version5:
                if payload.readInteger(as: UInt8.self) == StreamChannel.stdin.rawValue { session?.closeStdin() }
            default:
                break  // resize: terminal resizes for exec need the runtime's console socket
            }
        case .connectionClose:
            session?.kill()
            context.close(promise: nil)
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        session?.kill()
        context.fireChannelInactive()
    }
}

/// Reads one of the command's output pipes and hands every chunk on (or drops it, for a stream
/// the client did not ask for), then reports the end of the pipe.
final class OutputRelay: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let channel: StreamChannel
    let forward: Bool
    let onData: (ByteBuffer) -> Void
    let onEnd: () -> Void
    private var ended = false

    init(channel: StreamChannel, forward: Bool, onData: @escaping (ByteBuffer) -> Void, onEnd: @escaping () -> Void) {
        self.channel = channel
        self.forward = forward
        self.onData = onData
        self.onEnd = onEnd
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if forward { onData(unwrapInboundIn(data)) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        end()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            end()
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func end() {
        guard !ended else { return }
        ended = true
        onEnd()
    }
}
