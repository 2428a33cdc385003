import Clocks
import Logging
import NIOCore
import NIOEmbedded
import SkiffCommon
import Testing

@testable import StreamingServer

/// The port-forward handler on an embedded channel, frames in and frames out, with a backend that
/// is never reached: every case here is decided before a connection to the pod would be made.
/// (The rules themselves: PortForwardStateMachineTests; the pair timeout: TimeoutTests.)
@Suite struct PortForwardHandlerTests {
    struct UnreachableBackend: StreamingBackend {
        func startExec(_ request: ExecStreamRequest) async throws(SkiffError) -> StartedExec {
            throw SkiffError.invalidArgument("unused")
        }
        func startAttach(_ request: AttachStreamRequest) async throws(SkiffError) -> StartedAttach {
            throw SkiffError.invalidArgument("unused")
        }
        func connectToPod(_ podSandboxID: String, port: UInt16) async throws(SkiffError) -> Int32 {
            Issue.record("the backend was reached for port \(port)")
            throw SkiffError.invalidArgument("unused")
        }
    }

    /// A client side: compresses its headers with its own zlib stream and reads what the handler wrote.
    struct Client {
        let channel = EmbeddedChannel()
        let deflater = SPDYHeaderDeflater()
        let inflater = SPDYHeaderInflater()

        init(ports: [UInt16] = []) throws {
            let handler = PortForwardHandler(
                request: PortForwardStreamRequest(podSandboxID: "pod", ports: ports),
                backend: UnreachableBackend(),
                clock: StreamingClock(TestClock()),
                logger: Logger(label: "test")
            )
            try channel.pipeline.syncOperations.addHandler(handler)
            // The handler writes only on an active connection.
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        func open(_ id: UInt32, _ headers: [(String, String)]) throws {
            try channel.writeInbound(
                SPDYFrame.synStream(
                    streamID: id,
                    associatedTo: 0,
                    priority: 0,
                    flags: 0,
                    headerBlock: deflater.compress(headers.map { (name: $0.0, value: $0.1) })
                )
            )
        }

        /// Every frame the handler wrote so far (SYN_REPLY header blocks read through the inflater).
        func written() throws -> [SPDYFrame] {
            var frames: [SPDYFrame] = []
            while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
                var bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
                while let frame = try SPDYFrame.parse(&bytes) {
                    if case .synReply(_, _, let block) = frame { _ = try inflater.headers(from: block) }
                    frames.append(frame)
                }
            }
            return frames
        }
    }

    static func errorText(_ frames: [SPDYFrame], stream: UInt32) -> String {
        frames.reduce(into: "") { text, frame in
            if case .data(stream, _, let payload) = frame { text += String(decoding: payload, as: UTF8.self) }
        }
    }

    static func finished(_ frames: [SPDYFrame], stream: UInt32) -> Bool {
        frames.contains { if case .data(stream, let flags, _) = $0 { flags & SPDYFrame.flagFin != 0 } else { false } }
    }

    @Test func streamsWithoutARequestIDOrOfAnUnknownTypeAreReset() throws {
        let client = try Client()
        try client.open(1, [("streamtype", "data"), ("port", "80")])
        try client.open(3, [("streamtype", "stdout"), ("port", "80"), ("requestid", "0")])
        let frames = try client.written()
        #expect(frames == [.rstStream(streamID: 1, status: 1), .rstStream(streamID: 3, status: 1)])
    }

    @Test func aPortTheRequestDidNotNameFailsOnTheErrorStream() throws {
        let client = try Client(ports: [8080])
        try client.open(1, [("streamtype", "error"), ("port", "22"), ("requestid", "7")])
        try client.open(3, [("streamtype", "data"), ("port", "22"), ("requestid", "7")])
        let frames = try client.written()
        #expect(frames.filter { if case .synReply = $0 { true } else { false } }.count == 2, "both streams answered")
        #expect(Self.errorText(frames, stream: 1).contains("port 22 was not named in the PortForward request (8080)"))
        #expect(Self.finished(frames, stream: 1) && Self.finished(frames, stream: 3))
    }

    @Test func aPortHeaderThatIsNoPortFailsOnTheErrorStream() throws {
        let client = try Client()
        try client.open(1, [("streamtype", "error"), ("port", "http"), ("requestid", "0")])
        try client.open(3, [("streamtype", "data"), ("port", "http"), ("requestid", "0")])
        #expect(Self.errorText(try client.written(), stream: 1).contains("invalid port header \"http\""))
    }

    @Test func aSecondStreamOfTheSameTypeIsReset() throws {
        let client = try Client(ports: [1])
        try client.open(1, [("streamtype", "error"), ("port", "1"), ("requestid", "0")])
        try client.open(3, [("streamtype", "error"), ("port", "1"), ("requestid", "0")])
        let frames = try client.written()
        #expect(frames.contains(.rstStream(streamID: 3, status: 1)))
    }

    @Test func pingsAreAnsweredAndGarbageEndsTheConnection() throws {
        let client = try Client()
        try client.channel.writeInbound(SPDYFrame.ping(id: 7))
        #expect(try client.written() == [.ping(id: 7)])
        client.channel.pipeline.fireErrorCaught(SPDYFrame.ParseError.malformed("test"))
        #expect(try client.written().first == .goAway(lastGoodStreamID: 0, status: 1))
        #expect(!client.channel.isActive)
    }
}
