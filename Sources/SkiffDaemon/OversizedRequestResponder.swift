import NIOCore
import NIOHPACK
import NIOHTTP2

/// Answers a request message over the size limit with RESOURCE_EXHAUSTED, on one HTTP/2 stream
/// of the gRPC socket.
///
/// grpc-swift-nio-transport 2.9 refuses such a message by resetting the stream, which the client
/// sees as CANCELLED — indistinguishable from a dropped connection, and retried as one. Installed
/// first in each stream's pipeline (`onAcceptHTTP2Stream`), this handler reads the gRPC
/// length prefixes of the request's messages as they arrive; the first one over `limit` gets a
/// trailers-only response (`grpc-status: 8` and a short message naming the size and the limit,
/// never the content), the stream is reset with NO_ERROR (RFC 9113 §8.1: the server needs no
/// more of the request), and nothing of it reaches gRPC, whose own response, if any, is dropped.
final class OversizedRequestResponder: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    static let prefixLength = 5

    let limit: Int
    /// Bytes of the current message's payload still to come.
    private var payloadLeft = 0
    /// A length prefix that began in an earlier DATA frame.
    private var heldPrefix: [UInt8] = []
    /// Set once the stream was answered here: inbound frames and gRPC's writes are dropped.
    private(set) var refused = false

    init(limit: Int) {
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        let payload = unwrapInboundIn(data)
        if case .data(let frame) = payload, case .byteBuffer(let buffer) = frame.data,
            let size = oversizedMessage(in: buffer)
        {
            refuse(context: context, size: size)
            return
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !refused else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(data, promise: promise)
    }

    /// Walks the message prefixes in `buffer`; the size of the first message over the limit.
    private func oversizedMessage(in buffer: ByteBuffer) -> Int? {
        var index = buffer.readerIndex
        let end = buffer.writerIndex
        while index < end {
            if payloadLeft > 0 {
                let skipped = min(payloadLeft, end - index)
                payloadLeft -= skipped
                index += skipped
                continue
            }
            let needed = Self.prefixLength - heldPrefix.count
            let count = min(needed, end - index)
            heldPrefix += buffer.getBytes(at: index, length: count) ?? []
            index += count
            guard heldPrefix.count == Self.prefixLength else { break }
            let size = heldPrefix[1...4].reduce(0) { $0 << 8 | Int($1) }
            heldPrefix = []
            if size > limit { return size }
            payloadLeft = size
        }
        return nil
    }

    private func refuse(context: ChannelHandlerContext, size: Int) {
        refused = true
        let headers: HPACKHeaders = [
            ":status": "200",
            "content-type": "application/grpc",
            "grpc-status": "8",
            "grpc-message": "request message of \(size) bytes is over the \(limit)-byte limit",
        ]
        context.write(wrapOutboundOut(.headers(.init(headers: headers, endStream: true))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.rstStream(.noError)), promise: nil)
        context.close(promise: nil)
    }
}
