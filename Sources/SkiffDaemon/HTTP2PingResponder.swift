import NIOCore

/// Answers the client's HTTP/2 PINGs on the gRPC socket before swift-nio-http2 sees them.
///
/// Why: swift-nio-http2 1.46 counts every inbound PING, SETTINGS and PRIORITY frame against a
/// fixed denial-of-service budget (200 per 30 s, not configurable through grpc-swift-nio-transport
/// 2.9) and, once it is spent, sends GOAWAY with last-stream-id 0 and closes. grpc-go's BDP
/// estimator — on by default in the kubelet's client — sends a PING with nearly every response it
/// receives, so any client doing more than ~7 rpcs a second trips it. Worse, a GOAWAY naming
/// stream 0 tells the client that *no* in-flight stream was processed, and grpc-go transparently
/// replays them: a RunPodSandbox or CreateContainer that skiffd had already run arrives a second
/// time (ALREADY_EXISTS, or a second object).
///
/// PING is stateless in HTTP/2 (RFC 9113 §6.7: the receiver answers with the same 8 bytes and
/// the ACK flag), so this handler, first in the connection's pipeline, answers each well-formed
/// client PING itself and drops it from the inbound bytes; PING ACKs (replies to the server's
/// own keepalive and shutdown pings) and anything malformed pass through untouched, so the HTTP/2
/// handler still enforces the protocol. Only plaintext connections (the unix socket) carry the
/// frames in the clear at this position.
final class HTTP2PingResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let frameHeaderLength = 9
    static let pingType: UInt8 = 0x6
    static let ackFlag: UInt8 = 0x1
    static let pingPayloadLength = 8
    /// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", which a client sends before its first frame.
    static let prefaceLength = 24

    /// Preface bytes still to pass.
    private var prefaceLeft = HTTP2PingResponder.prefaceLength
    /// Payload bytes of the current (passed-through) frame still to pass.
    private var payloadLeft = 0
    /// Bytes of a frame header that began in an earlier read (held back until the header is
    /// complete and the frame's type is known).
    private var heldHeader: [UInt8] = []
    /// The payload of a PING being collected (nil when not inside a PING).
    private var pingPayload: [UInt8]?
    /// PINGs answered on this connection (for tests).
    private(set) var pingsAnswered = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        var index = buffer.readerIndex
        let end = buffer.writerIndex
        // Bytes from runStart up to index pass on as one slice of the read.
        var runStart = index
        func passRun(upTo position: Int) {
            if position > runStart, let slice = buffer.getSlice(at: runStart, length: position - runStart) {
                context.fireChannelRead(wrapInboundOut(slice))
            }
            runStart = position
        }
        while index < end {
            let available = end - index
            if prefaceLeft > 0 {
                let count = min(prefaceLeft, available)
                prefaceLeft -= count
                index += count
            } else if payloadLeft > 0 {
                let count = min(payloadLeft, available)
                payloadLeft -= count
                index += count
            } else if var payload = pingPayload {
                let count = min(Self.pingPayloadLength - payload.count, available)
                payload += buffer.getBytes(at: index, length: count) ?? []
                index += count
                runStart = index
                if payload.count == Self.pingPayloadLength {
                    answer(payload, context: context)
                    pingPayload = nil
                } else {
                    pingPayload = payload
                }
            } else if heldHeader.isEmpty && available >= Self.frameHeaderLength {
                let header = buffer.getBytes(at: index, length: Self.frameHeaderLength) ?? []
                if Self.isClientPing(header) {
                    passRun(upTo: index)
                    index += Self.frameHeaderLength
                    runStart = index
                    pingPayload = []
                } else {
                    index += Self.frameHeaderLength
                    payloadLeft = Self.payloadLength(header)
                }
            } else {
                // A header split across reads: hold its bytes until it is complete.
                if heldHeader.isEmpty { passRun(upTo: index) }
                let count = min(Self.frameHeaderLength - heldHeader.count, available)
                heldHeader += buffer.getBytes(at: index, length: count) ?? []
                index += count
                runStart = index
                guard heldHeader.count == Self.frameHeaderLength else { continue }
                let header = heldHeader
                heldHeader = []
                if Self.isClientPing(header) {
                    pingPayload = []
                } else {
                    var copy = context.channel.allocator.buffer(capacity: header.count)
                    copy.writeBytes(header)
                    context.fireChannelRead(wrapInboundOut(copy))
                    payloadLeft = Self.payloadLength(header)
                }
            }
        }
        passRun(upTo: end)
    }

    /// A PING the client sent (not an ACK of ours), well-formed: 8 bytes on stream 0.
    static func isClientPing(_ header: [UInt8]) -> Bool {
        header[3] == pingType && header[4] & ackFlag == 0 && payloadLength(header) == pingPayloadLength
            && header[5] & 0x7F == 0 && header[6] == 0 && header[7] == 0 && header[8] == 0
    }

    static func payloadLength(_ header: [UInt8]) -> Int {
        Int(header[0]) << 16 | Int(header[1]) << 8 | Int(header[2])
    }

    private func answer(_ payload: [UInt8], context: ChannelHandlerContext) {
        var reply = context.channel.allocator.buffer(capacity: Self.frameHeaderLength + payload.count)
        reply.writeBytes([0, 0, UInt8(Self.pingPayloadLength), Self.pingType, Self.ackFlag, 0, 0, 0, 0])
        reply.writeBytes(payload)
        pingsAnswered += 1
        context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
    }
}
