import NIOCore

/// One forwarded connection: its two streams and, once connected, the pod-side channel.
final class ForwardedConnection {
    let requestID: String
    var portHeader: String?
    var dataStream: UInt32?
    var errorStream: UInt32?
    var started = false
    var pairTimer: Scheduled<Void>?
    var target: Channel?
    /// Client data that arrived before the pod connection was up.
    var pending: [(ByteBuffer, UInt32)] = []
    var lastWrite: EventLoopFuture<Void>?
    var clientFinished = false
    var podFinished = false
    var dataFinSent = false
    var errorFinSent = false
    /// Given up on (error, reset, client gone): whatever arrives later is dropped.
    var closed = false

    init(requestID: String) { self.requestID = requestID }
}

/// The pod side of a forwarded connection: hands bytes, the end of input, writability changes
/// and the close to the port-forward handler.
final class PodConnectionRelay: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let onData: (ByteBuffer) -> Void
    let onInputEnd: () -> Void
    let onWritabilityChanged: () -> Void
    let onClose: () -> Void

    init(
        onData: @escaping (ByteBuffer) -> Void,
        onInputEnd: @escaping () -> Void,
        onWritabilityChanged: @escaping () -> Void,
        onClose: @escaping () -> Void
    ) {
        self.onData = onData
        self.onInputEnd = onInputEnd
        self.onWritabilityChanged = onWritabilityChanged
        self.onClose = onClose
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        onData(unwrapInboundIn(data))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { onInputEnd() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        onWritabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        onClose()
        context.fireChannelInactive()
    }
}
