import Clocks
import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import StreamingServer

/// The streaming server's timeouts on a test clock: the handlers on a NIOAsyncTestingChannel
/// (its event loop takes the timer's hop from another thread), time moved by the test only.
@Suite struct TimeoutTests {
    static let localhost = try! SocketAddress(ipAddress: "127.0.0.1", port: 1)

    @Test func idleDeadlinesMoveWithTraffic() {
        let start = StreamingClock.Instant(sinceOrigin: .zero)
        var machine = IdleTimeoutStateMachine(timeout: .seconds(100), now: start)
        #expect(machine.started() == .armTimer(at: start.advanced(by: .seconds(100))))
        machine.traffic(at: start.advanced(by: .seconds(30)))
        #expect(
            machine.timerFired(at: start.advanced(by: .seconds(100)))
                == .armTimer(at: start.advanced(by: .seconds(130)))
        )
        #expect(machine.timerFired(at: start.advanced(by: .seconds(130))) == .close)
        machine.traffic(at: start.advanced(by: .seconds(10)))
        #expect(machine.lastTraffic == start.advanced(by: .seconds(30)), "time does not go back")
    }

    @Test func anIdleConnectionClosesAfterTheTimeoutAndTrafficPutsThatOff() async throws {
        let clock = TestClock()
        let channel = NIOAsyncTestingChannel()
        let streamingClock = StreamingClock(clock)
        try await channel.testingEventLoop.executeInContext {
            try channel.pipeline.syncOperations.addHandler(
                IdleConnectionCloser(timeout: .seconds(100), clock: streamingClock)
            )
        }
        try await channel.connect(to: Self.localhost)
        try await Self.waitForTimer(on: clock)
        await clock.advance(by: .seconds(60))
        try await channel.writeInbound(ByteBuffer(string: "traffic"))
        await clock.advance(by: .seconds(40))
        #expect(channel.isActive, "traffic 40 s ago")
        // The timer that fired re-arms itself for 60 s after the traffic, from a task of its own.
        try await Self.waitForTimer(on: clock)
        await clock.advance(by: .seconds(59))
        #expect(channel.isActive)
        await clock.advance(by: .seconds(1))
        try await channel.closeFuture.get()
    }

    @Test func aPortForwardPairWhoseSecondStreamNeverComesTimesOut() async throws {
        let clock = TestClock()
        let channel = NIOAsyncTestingChannel()
        let streamingClock = StreamingClock(clock)
        try await channel.testingEventLoop.executeInContext {
            let handler = PortForwardHandler(
                request: PortForwardStreamRequest(podSandboxID: "pod", ports: []),
                backend: PortForwardHandlerTests.UnreachableBackend(),
                clock: streamingClock,
                logger: Logger(label: "test")
            )
            try channel.pipeline.syncOperations.addHandler(handler)
        }
        try await Self.openStream(on: channel, [("streamtype", "error"), ("port", "80"), ("requestid", "4")])
        try await Self.advance(clock, to: PortForwardHandler.pairTimeout, checking: channel)
        let text = Array("timed out waiting for the other stream of request 4".utf8)
        #expect(try await Self.frame(channel) == .data(streamID: 1, flags: 0, payload: text))
        #expect(try await Self.frame(channel) == .data(streamID: 1, flags: SPDYFrame.flagFin, payload: []))
    }

    @Test func aStreamSetIncompleteWhenTheWaitEndsGetsAFailureAndTheConnectionCloses() async throws {
        let clock = TestClock()
        let channel = NIOAsyncTestingChannel()
        let streamingClock = StreamingClock(clock)
        try await channel.testingEventLoop.executeInContext {
            let handler = SPDYStreamHandler(
                needs: .init(stdin: false, stdout: true, stderr: false),
                version: "v4.channel.k8s.io",
                clock: streamingClock,
                logger: Logger(label: "test"),
                makeSession: { _, _ in preconditionFailure("the session never starts") }
            )
            try channel.pipeline.syncOperations.addHandler(handler)
        }
        try await Self.openStream(on: channel, [("streamtype", "error")])
        try await Self.advance(clock, to: SPDYStreamHandler.streamWaitTimeout, checking: channel)
        let status = KubernetesStatus.failure("timed out waiting for the client to open the streams stdout")
        #expect(try await Self.frame(channel) == .data(streamID: 1, flags: 0, payload: status))
        #expect(try await Self.frame(channel) == .data(streamID: 1, flags: SPDYFrame.flagFin, payload: []))
        #expect(try await Self.frame(channel) == .goAway(lastGoodStreamID: 1, status: 0))
        try await channel.closeFuture.get()
    }

    /// Connects the channel and opens stream 1 with `headers`, which the handler answers.
    static func openStream(on channel: NIOAsyncTestingChannel, _ headers: [(name: String, value: String)]) async throws
    {
        try await channel.connect(to: localhost)
        let block = SPDYHeaderDeflater().compress(headers)
        try await channel.writeInbound(
            SPDYFrame.synStream(streamID: 1, associatedTo: 0, priority: 0, flags: 0, headerBlock: block)
        )
        #expect(try await frame(channel)?.isSynReply == true)
    }

    /// Moves the clock to a second before `timeout`, checks nothing was written, then to `timeout`.
    static func advance(
        _ clock: TestClock<Duration>,
        to timeout: Duration,
        checking channel: NIOAsyncTestingChannel
    )
        async throws
    {
        await clock.advance(by: timeout - .seconds(1))
        #expect(try await channel.readOutbound(as: ByteBuffer.self) == nil, "nothing before the timeout")
        await clock.advance(by: .seconds(1))
    }

    /// Returns once a timer sleeps on `clock`. A timer's sleep starts on a task of its own, and
    /// TestClock wakes a sleep only when time moves to or past its deadline after the sleep began:
    /// advanced first, the clock would leave a sleep that began exactly at its deadline asleep for
    /// good (this test hung CI that way). TestClock tells of pending sleeps only through
    /// `checkSuspension`, so it is asked until it says so, for up to 10 s.
    static func waitForTimer(on clock: TestClock<Duration>) async throws {
        let giveUp = ContinuousClock.now.advanced(by: .seconds(10))
        while ContinuousClock.now < giveUp {
            do {
                try await clock.checkSuspension()
            } catch {
                return
            }
            try await Task.sleep(for: .milliseconds(1))
        }
        Issue.record("no timer was armed on the test clock within 10 s")
    }

    /// The next frame the handler writes (each write is one frame here), waiting for it.
    static func frame(_ channel: NIOAsyncTestingChannel) async throws -> SPDYFrame? {
        var buffer = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        var bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        return try SPDYFrame.parse(&bytes)
    }
}

extension SPDYFrame {
    var isSynReply: Bool {
        if case .synReply = self { true } else { false }
    }
}
