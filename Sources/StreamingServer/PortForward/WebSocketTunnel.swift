import NIOCore
import NIOWebSocket

/// The WebSocket tunnel of client-go's `NewSPDYOverWebsocketDialer` (subprotocol
/// `SPDY/3.1+portforward.k8s.io`): binary messages carry the SPDY connection's bytes, split
/// anywhere. Inbound, the payloads become one byte stream for the SPDY frame decoder; outbound,
/// every write becomes one binary message.
final class WebSocketTunnel: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    static let subprotocol = "SPDY/3.1+portforward.k8s.io"

    private var closeSent = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .continuation:
            context.fireChannelRead(wrapInboundOut(frame.unmaskedData))
        case .ping:
            context.writeAndFlush(
                wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)),
                promise: nil
            )
        case .connectionClose:
            sendClose(context: context, code: .normalClosure)
        case .text:
            // The tunnel is binary only (client-go refuses text itself).
            sendClose(context: context, code: .unacceptableData)
        default:
            break
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = unwrapOutboundIn(data)
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: bytes)), promise: promise)
    }

    private func sendClose(context: ChannelHandlerContext, code: WebSocketErrorCode) {
        guard !closeSent else { return }
        closeSent = true
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)))
            .whenComplete { _ in
                channel.close(promise: nil)
            }
    }
}
