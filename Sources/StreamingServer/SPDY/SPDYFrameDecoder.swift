import NIOCore

/// Cuts the connection's byte stream into SPDY frames, so the protocol handlers (remotecommand,
/// port-forward) see whole frames whatever way TCP or a WebSocket tunnel split them.
struct SPDYFrameDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = SPDYFrame

    mutating func decode(buffer: inout ByteBuffer) throws -> SPDYFrame? {
        guard buffer.readableBytes >= 8, let lengthBytes = buffer.getBytes(at: buffer.readerIndex + 5, length: 3) else {
            return nil
        }
        let length = Int(lengthBytes[0]) << 16 | Int(lengthBytes[1]) << 8 | Int(lengthBytes[2])
        guard buffer.readableBytes >= 8 + length, var bytes = buffer.readBytes(length: 8 + length) else { return nil }
        return try SPDYFrame.parse(&bytes)
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> SPDYFrame? {
        try decode(buffer: &buffer)
    }
}

extension SPDYFrame {
    /// A DATA frame's 8-byte header, for payloads that stay in their `ByteBuffer`.
    static func dataHeader(streamID: UInt32, flags: UInt8, length: Int) -> [UInt8] {
        [
            UInt8(streamID >> 24 & 0x7F), UInt8(streamID >> 16 & 0xFF), UInt8(streamID >> 8 & 0xFF),
            UInt8(streamID & 0xFF),
            flags, UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF),
        ]
    }

    /// The largest DATA payload this server sends in one frame.
    static let outgoingDataChunk = 262_144

    /// DATA frames carrying `payload` on `streamID`, as header and payload buffers to write in
    /// turn (one writev; the payload is not copied), split into chunks.
    static func dataFrameParts(streamID: UInt32, payload: ByteBuffer) -> [ByteBuffer] {
        var remaining = payload
        var parts: [ByteBuffer] = []
        while remaining.readableBytes > 0,
            let chunk = remaining.readSlice(length: min(remaining.readableBytes, outgoingDataChunk))
        {
            parts.append(ByteBuffer(bytes: dataHeader(streamID: streamID, flags: 0, length: chunk.readableBytes)))
            parts.append(chunk)
        }
        return parts
    }
}
