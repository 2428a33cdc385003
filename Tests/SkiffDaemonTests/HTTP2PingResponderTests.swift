import NIOCore
import NIOEmbedded
import Testing

@testable import SkiffDaemon

/// The responder in front of swift-nio-http2: client PINGs answered and removed, every other
/// byte passed on unchanged and in order, however the reads split the frames.
@Suite struct HTTP2PingResponderTests {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    static func frame(type: UInt8, flags: UInt8 = 0, stream: UInt32 = 0, payload: [UInt8]) -> [UInt8] {
        let length = payload.count
        return [
            UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags,
            UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF),
        ] + payload
    }

    static let settings = frame(type: 0x4, payload: [0, 3, 0, 0, 0, 100])
    static let headers = frame(type: 0x1, flags: 0x4, stream: 1, payload: Array(repeating: 0x82, count: 20))
    static let data = frame(type: 0x0, flags: 0x1, stream: 1, payload: Array(0..<200).map { UInt8($0 & 0xFF) })
    static let ping = frame(type: 0x6, payload: [1, 2, 3, 4, 5, 6, 7, 8])
    static let pingAck = frame(type: 0x6, flags: 0x1, payload: [9, 9, 9, 9, 9, 9, 9, 9])
    static let badPing = frame(type: 0x6, payload: [1, 2, 3])

    /// Feeds `bytes` in reads of `chunk` bytes; returns what was passed on and what was written.
    static func run(_ bytes: [UInt8], chunk: Int) throws -> (passed: [UInt8], written: [UInt8], answered: Int) {
        let responder = HTTP2PingResponder()
        let channel = EmbeddedChannel(handler: responder)
        var offset = 0
        while offset < bytes.count {
            let piece = Array(bytes[offset..<min(bytes.count, offset + chunk)])
            try channel.writeInbound(channel.allocator.buffer(bytes: piece))
            offset += piece.count
        }
        var passed: [UInt8] = []
        while let buffer = try channel.readInbound(as: ByteBuffer.self) { passed += Array(buffer.readableBytesView) }
        var written: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { written += Array(buffer.readableBytesView) }
        _ = try channel.finish()
        return (passed, written, responder.pingsAnswered)
    }

    @Test(arguments: [1, 2, 5, 9, 10, 17, 64, 4096])
    func pingsAreAnsweredAndRemovedWhateverTheReadSizes(chunk: Int) throws {
        let input =
            Self.preface + Self.settings + Self.ping + Self.headers + Self.ping + Self.ping + Self.data + Self.pingAck
            + Self.ping
        let result = try Self.run(input, chunk: chunk)
        #expect(result.passed == Self.preface + Self.settings + Self.headers + Self.data + Self.pingAck)
        let ack = Self.frame(type: 0x6, flags: 0x1, payload: [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(result.written == ack + ack + ack + ack)
        #expect(result.answered == 4)
    }

    @Test func malformedPingsAndPingsOnAStreamPassThroughForTheHTTP2HandlerToRefuse() throws {
        let onStream = Self.frame(type: 0x6, stream: 3, payload: [1, 2, 3, 4, 5, 6, 7, 8])
        let input = Self.preface + Self.badPing + onStream
        let result = try Self.run(input, chunk: 7)
        #expect(result.passed == input)
        #expect(result.written.isEmpty)
    }

    @Test func aConnectionWithoutPingsPassesUnchanged() throws {
        let input = Self.preface + Self.settings + Self.headers + Self.data + Self.data
        for chunk in [3, 1000] {
            #expect(try Self.run(input, chunk: chunk).passed == input)
        }
    }
}
