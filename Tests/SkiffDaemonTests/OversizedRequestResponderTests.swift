import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Testing

@testable import SkiffDaemon

/// A request message over the limit is answered RESOURCE_EXHAUSTED (trailers-only, then
/// RST_STREAM NO_ERROR) and never reaches gRPC; messages within it pass untouched, however the
/// DATA frames split them.
@Suite struct OversizedRequestResponderTests {
    static func message(_ size: Int) -> [UInt8] {
        [0, UInt8(size >> 24 & 0xFF), UInt8(size >> 16 & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size & 0xFF)]
            + Array(repeating: 0x61, count: size)
    }

    /// Sends `bytes` as DATA frames of `chunk` bytes (after the request HEADERS); returns the
    /// payloads passed on and those written back.
    static func run(
        _ bytes: [UInt8],
        chunk: Int,
        limit: Int
    ) throws -> (passed: [HTTP2Frame.FramePayload], written: [HTTP2Frame.FramePayload], refused: Bool) {
        let responder = OversizedRequestResponder(limit: limit)
        let channel = EmbeddedChannel(handler: responder)
        let request: HPACKHeaders = [
            ":method": "POST", ":path": "/runtime.v1.RuntimeService/RunPodSandbox", "content-type": "application/grpc",
        ]
        try channel.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: request)))
        var offset = 0
        while offset < bytes.count && !responder.refused {
            let piece = Array(bytes[offset..<min(bytes.count, offset + chunk)])
            offset += piece.count
            try channel.writeInbound(
                HTTP2Frame.FramePayload.data(
                    .init(data: .byteBuffer(channel.allocator.buffer(bytes: piece)), endStream: offset == bytes.count)
                )
            )
        }
        var passed: [HTTP2Frame.FramePayload] = []
        while let payload = try channel.readInbound(as: HTTP2Frame.FramePayload.self) { passed.append(payload) }
        var written: [HTTP2Frame.FramePayload] = []
        while let payload = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) { written.append(payload) }
        _ = try? channel.finish()
        return (passed, written, responder.refused)
    }

    static func dataBytes(_ payloads: [HTTP2Frame.FramePayload]) -> [UInt8] {
        payloads.flatMap { payload -> [UInt8] in
            guard case .data(let frame) = payload, case .byteBuffer(let buffer) = frame.data else { return [] }
            return Array(buffer.readableBytesView)
        }
    }

    @Test(arguments: [1, 3, 5, 7, 64, 4096])
    func messagesWithinTheLimitPassUntouched(chunk: Int) throws {
        let bytes = Self.message(100) + Self.message(0) + Self.message(1000)
        let result = try Self.run(bytes, chunk: chunk, limit: 1000)
        #expect(!result.refused)
        #expect(result.written.isEmpty)
        #expect(Self.dataBytes(result.passed) == bytes)
    }

    @Test(arguments: [1, 4, 5, 6, 4096])
    func aMessageOverTheLimitIsAnsweredResourceExhausted(chunk: Int) throws {
        let bytes = Self.message(10) + Self.message(2000)
        let result = try Self.run(bytes, chunk: chunk, limit: 1000)
        #expect(result.refused)
        // The first message, and at most the first 4 bytes of the second's prefix (a DATA frame
        // that ends inside a prefix passes before the size is known; gRPC never sees a payload byte).
        #expect(Self.dataBytes(result.passed).count <= 15 + 4, "only the first message reaches gRPC")
        guard case .headers(let trailers) = result.written.first else {
            Issue.record("no trailers: \(result.written)")
            return
        }
        #expect(trailers.endStream)
        #expect(trailers.headers.first(name: "grpc-status") == "8")
        #expect(
            trailers.headers.first(name: "grpc-message") == "request message of 2000 bytes is over the 1000-byte limit"
        )
        guard result.written.count == 2, case .rstStream(let code) = result.written[1] else {
            Issue.record("no RST_STREAM after the trailers: \(result.written)")
            return
        }
        #expect(code == .noError)
    }
}
