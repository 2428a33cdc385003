import FoundationEssentials
import LinuxSys
import Logging
import NIOCore
import NIOPosix
import NIOWebSocket

#if canImport(Glibc)
import Glibc
#endif

/// An exec or attach session over WebSocket (`v5.channel.k8s.io` / `v4.channel.k8s.io`): the
/// session's stdout and stderr as channel 1 and 2 messages, the client's channel 0 messages to
/// its stdin, v5's `[255, 0]` closing stdin, channel 4 resizes, and at the end the status on
/// channel 3 and a close frame.
final class StreamWebSocketHandler: ChannelInboundHandler, ExecTransport {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    typealias SessionFactory = (EventLoop, any ExecTransport) -> any StreamSession

    let version5: Bool
    let makeSession: SessionFactory
    private var session: (any StreamSession)?
    private var context: ChannelHandlerContext?

    init(version5: Bool, makeSession: @escaping SessionFactory) {
        self.version5 = version5
        self.makeSession = makeSession
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let session = makeSession(context.eventLoop, self)
        self.session = session
        session.start()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    var isWritable: Bool { context?.channel.isWritable ?? true }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        session?.transportWritabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func send(_ channel: StreamChannel, _ payload: ByteBuffer) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: payload.readableBytes + 1)
        buffer.writeInteger(channel.rawValue)
        buffer.writeImmutableBuffer(payload)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: buffer)), promise: nil)
    }

    func finish(status: [UInt8]) {
        guard let context, context.channel.isActive else { return }
        send(.error, ByteBuffer(bytes: status))
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: .normalClosure)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)))
            .whenComplete { _ in
                channel.close(promise: nil)
            }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .text:
            var payload = frame.unmaskedData
            guard let first = payload.readInteger(as: UInt8.self), let channel = StreamChannel(rawValue: first) else {
                return
            }
            switch channel {
            case .stdin:
                session?.stdin(payload)
            case .close where version5:
                if payload.readInteger(as: UInt8.self) == StreamChannel.stdin.rawValue { session?.closeStdin() }
            case .resize:
                if let size = TerminalSize(json: payload) { session?.resize(width: size.width, height: size.height) }
            default:
                break
            }
        case .connectionClose:
            session?.clientGone()
            context.close(promise: nil)
        case .ping:
            context.writeAndFlush(
                wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)),
                promise: nil
            )
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        session?.clientGone()
        context.fireChannelInactive()
    }
}

/// A remotecommand resize message: `{"Width": W, "Height": H}`.
struct TerminalSize {
    var width: UInt16
    var height: UInt16

    private struct Message: Decodable {
        var width: Int64
        var height: Int64

        enum CodingKeys: String, CodingKey {
            case width = "Width"
            case height = "Height"
        }
    }

    /// nil for anything but a resize message with two positive sizes (the client's to get right;
    /// a bad one is ignored, as the kubelet's streaming server does).
    init?(json payload: ByteBuffer) {
        // try?: a message that is not a resize is ignored, as documented above.
        guard let message = try? JSONDecoder().decode(Message.self, from: Data(payload.readableBytesView)),
            message.width > 0, message.height > 0
        else { return nil }
        width = UInt16(clamping: message.width)
        height = UInt16(clamping: message.height)
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

    /// A terminal's master side reports EIO once the last process holding the terminal is gone:
    /// that is its end of output.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
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
