import NIOCore

/// The pod side of a forwarded connection: reports bytes, the end of input, writability changes
/// and the close to the port-forward handler, which feeds them to its state machine.
final class PodConnectionRelay: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    enum Event {
        case data(ByteBuffer, from: PodChannel)
        /// The pod closed its side (its FIN); the connection stays half-open.
        case inputEnded
        case writabilityChanged(Bool)
        case closed
    }

    let onEvent: (Event) -> Void

    init(onEvent: @escaping (Event) -> Void) {
        self.onEvent = onEvent
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        onEvent(.data(unwrapInboundIn(data), from: PodChannel(channel: context.channel)))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { onEvent(.inputEnded) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        onEvent(.writabilityChanged(context.channel.isWritable))
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        onEvent(.closed)
        context.fireChannelInactive()
    }
}

/// A pod connection as the port-forward state machine sees it: compared by identity.
struct PodChannel: Equatable {
    let channel: any Channel

    static func == (lhs: PodChannel, rhs: PodChannel) -> Bool { lhs.channel === rhs.channel }
}
