import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Testing

@testable import SkiffDaemon

/// A request's `grpc-timeout` is taken off its headers (so grpc-swift starts no `Task.sleep`) and
/// kept as an event-loop timer that closes the stream at the deadline and is cancelled when the
/// stream ends first.
@Suite struct RequestDeadlineHandlerTests {
    static func request(timeout: String?) -> HTTP2Frame.FramePayload {
        var headers: HPACKHeaders = [
            ":method": "POST", ":path": "/runtime.v1.RuntimeService/Version", "content-type": "application/grpc",
        ]
        if let timeout { headers.add(name: "grpc-timeout", value: timeout) }
        return .headers(.init(headers: headers))
    }

    static func passedHeaders(_ channel: EmbeddedChannel) throws -> HPACKHeaders? {
        guard case .headers(let frame) = try channel.readInbound(as: HTTP2Frame.FramePayload.self) else { return nil }
        return frame.headers
    }

    @Test func theTimeoutIsTakenOffTheHeadersAndClosesTheStreamAtTheDeadline() async throws {
        let handler = RequestDeadlineHandler()
        let channel = EmbeddedChannel(handler: handler)
        try await channel.connect(to: .init(unixDomainSocketPath: "/nowhere")).get()
        try channel.writeInbound(Self.request(timeout: "2S"))
        let headers = try #require(try Self.passedHeaders(channel))
        #expect(headers.first(name: "grpc-timeout") == nil)
        #expect(headers.first(name: ":path") == "/runtime.v1.RuntimeService/Version")
        #expect(handler.deadline != nil)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1999))
        #expect(channel.isActive, "closed before the deadline")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!channel.isActive, "still open at the deadline")
        #expect(handler.deadline == nil)
    }

    @Test func aStreamThatEndsFirstCancelsItsTimer() async throws {
        let handler = RequestDeadlineHandler()
        let channel = EmbeddedChannel(handler: handler)
        try await channel.connect(to: .init(unixDomainSocketPath: "/nowhere")).get()
        try channel.writeInbound(Self.request(timeout: "300000m"))
        let timer = try #require(handler.deadline)
        try await channel.close().get()
        #expect(handler.deadline == nil)
        // A cancelled NIO timer fails its future with `cancelled`; one that ran would succeed.
        await #expect(throws: EventLoopError.cancelled) { try await timer.futureResult.get() }
    }

    @Test(arguments: [nil, "", "S", "123456789S", "10x", "1.5S", "-1S"])
    func aRequestWithoutAValidTimeoutPassesUntouched(timeout: String?) throws {
        let handler = RequestDeadlineHandler()
        let channel = EmbeddedChannel(handler: handler)
        try channel.writeInbound(Self.request(timeout: timeout))
        let headers = try #require(try Self.passedHeaders(channel))
        #expect(headers.first(name: "grpc-timeout") == timeout)
        #expect(handler.deadline == nil)
        _ = try? channel.finish()  // try?: the channel is only torn down here
    }

    @Test func onlyTheRequestHeadersAreLookedAt() throws {
        let handler = RequestDeadlineHandler()
        let channel = EmbeddedChannel(handler: handler)
        try channel.writeInbound(Self.request(timeout: nil))
        try channel.writeInbound(Self.request(timeout: "1S"))  // trailers, as a client may send
        _ = try Self.passedHeaders(channel)
        #expect(try Self.passedHeaders(channel)?.first(name: "grpc-timeout") == "1S")
        #expect(handler.deadline == nil)
        _ = try? channel.finish()  // try?: the channel is only torn down here
    }

    @Test(arguments: [
        ("1H", Int64(3_600_000_000_000)), ("2M", 120_000_000_000), ("300S", 300_000_000_000),
        ("120000m", 120_000_000_000), ("5u", 5_000), ("99999999n", 99_999_999),
        ("99999999H", Int64.max),
    ])
    func timeoutsParse(value: String, nanoseconds: Int64) {
        #expect(RequestDeadlineHandler.parse(value) == .nanoseconds(nanoseconds))
    }
}
