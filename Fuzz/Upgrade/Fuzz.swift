// libFuzzer target: the streaming server's HTTP/1.1 front door — what a client's raw bytes go
// through before any stream exists: NIO's HTTP decoding, the WebSocket and SPDY/3.1 upgraders
// with StreamingHTTPServer's route / protocol negotiation / token claim (`reserve`), the
// handlers `installStream` puts into an upgraded pipeline, and NotFoundResponder for everything
// else. The pipeline is the one `StreamingHTTPServer.start()` builds for each connection (minus
// TLS and the idle timer), on a NIOAsyncTestingChannel (the server's token claim completes on
// another thread, which EmbeddedChannel does not allow).
//
// Input: raw bytes from a client. Each input gets fresh tokens for an exec, an attach and a
// port-forward; the placeholders XTOKEN, ATOKEN and PTOKEN in the input are replaced by them,
// so seeds can reach a real upgrade (and the frames after it). The backend refuses everything,
// so a started session ends at once. Besides not crashing: without a placeholder, no request
// is ever upgraded (no route, header or token trick gets past the token check).
import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOWebSocket
import SkiffCommon

@testable import StreamingServer

struct RefusingBackend: StreamingBackend {
    func startExec(_ request: ExecStreamRequest) async throws(SkiffError) -> StartedExec {
        throw .notFound("fuzz: no container")
    }
    func startAttach(_ request: AttachStreamRequest) async throws(SkiffError) -> StartedAttach {
        throw .notFound("fuzz: no container")
    }
    func connectToPod(_ podSandboxID: String, port: UInt16) async throws(SkiffError) -> Int32 {
        throw .notFound("fuzz: no pod")
    }
}

let server: StreamingHTTPServer = {
    var logger = Logger(label: "fuzz")
    logger.logLevel = .critical
    return StreamingHTTPServer(address: "127.0.0.1", port: 0, starter: RefusingBackend(), logger: logger)
}()

/// The outcomes of the reservations (token claims) the upgraders started for one connection.
final class Reservations: Sendable {
    private let futures = NIOLockedValueBox<[EventLoopFuture<String?>]>([])
    func track(_ future: EventLoopFuture<String?>) { futures.withLockedValue { $0.append(future) } }
    func all() -> [EventLoopFuture<String?>] { futures.withLockedValue { $0 } }
}

/// The server's SPDY upgrader, with its reservation tracked.
struct TrackedSPDYUpgrader: HTTPServerProtocolUpgrader, Sendable {
    let inner: StreamingHTTPServer.SPDYUpgrader
    let reservations: Reservations
    var supportedProtocol: String { inner.supportedProtocol }
    var requiredUpgradeHeaders: [String] { inner.requiredUpgradeHeaders }

    func buildUpgradeResponse(
        channel: Channel,
        upgradeRequest: HTTPRequestHead,
        initialResponseHeaders: HTTPHeaders
    ) -> EventLoopFuture<HTTPHeaders> {
        let response = inner.buildUpgradeResponse(
            channel: channel,
            upgradeRequest: upgradeRequest,
            initialResponseHeaders: initialResponseHeaders
        )
        reservations.track(response.map { $0.first(name: "X-Stream-Protocol-Version") }.recover { _ in nil })
        return response
    }

    func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
        inner.upgrade(context: context, upgradeRequest: upgradeRequest)
    }
}

/// StreamingHTTPServer.start()'s per-connection pipeline.
func configure(_ channel: Channel, reservations: Reservations) throws {
    let upgrader = NIOWebSocketServerUpgrader(
        maxFrameSize: 1 << 20,
        automaticErrorHandling: true,
        shouldUpgrade: { channel, head in
            let reserved = server.reserve(
                head,
                offeredIn: "Sec-WebSocket-Protocol",
                served: StreamingHTTPServer.webSocketSubprotocols(for:),
                on: channel
            )
            reservations.track(reserved)
            return reserved.map { chosen in chosen.map { HTTPHeaders([("Sec-WebSocket-Protocol", $0)]) } }
        },
        upgradePipelineHandler: { channel, _ in server.installStream(on: channel, webSocket: true) }
    )
    let spdy = TrackedSPDYUpgrader(inner: StreamingHTTPServer.SPDYUpgrader(server: server), reservations: reservations)
    let leaveAfterUpgrade: @Sendable (ChannelHandlerContext) -> Void = { context in
        context.pipeline.removeHandler(name: NotFoundResponder.name, promise: nil)
    }
    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
        withServerUpgrade: (upgraders: [upgrader, spdy], completionHandler: leaveAfterUpgrade)
    )
    try channel.pipeline.syncOperations.addHandler(NotFoundResponder(), name: NotFoundResponder.name)
}

func replace(_ placeholder: String, with token: String, in input: [UInt8]) -> ([UInt8], Bool) {
    let needle = Array(placeholder.utf8)
    var output: [UInt8] = []
    output.reserveCapacity(input.count)
    var index = 0
    var found = false
    while index < input.count {
        if input[index] == needle[0], index + needle.count <= input.count,
            input[index..<(index + needle.count)].elementsEqual(needle)
        {
            output += token.utf8
            index += needle.count
            found = true
        } else {
            output.append(input[index])
            index += 1
        }
    }
    return (output, found)
}

func serve(_ original: [UInt8]) async {
    let requests: [(String, StreamRequest)] = [
        (
            "XTOKEN",
            .exec(
                ExecStreamRequest(
                    containerID: "c",
                    command: ["sh"],
                    tty: false,
                    stdin: true,
                    stdout: true,
                    stderr: true
                )
            )
        ),
        ("ATOKEN", .attach(AttachStreamRequest(containerID: "c", tty: true, stdin: true, stdout: true, stderr: false))),
        ("PTOKEN", .portForward(PortForwardStreamRequest(podSandboxID: "p", ports: [80]))),
    ]
    var input = original
    var tokens: [String] = []
    var substituted = false
    for (placeholder, request) in requests {
        guard let token = await server.tokens.insert(request) else { preconditionFailure("the token cache is full") }
        tokens.append(token)
        let (replaced, found) = replace(placeholder, with: token, in: input)
        input = replaced
        substituted = substituted || found
    }

    let channel = NIOAsyncTestingChannel()
    let reservations = Reservations()
    do {
        try await channel.testingEventLoop.executeInContext { try configure(channel, reservations: reservations) }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
    } catch {
        preconditionFailure("cannot set up the pipeline: \(error)")
    }
    // Two writes, so requests are also cut in the middle.
    let split = input.count * 2 / 3
    for part in [input[..<split], input[split...]] where !part.isEmpty {
        do {
            try await channel.writeInbound(ByteBuffer(bytes: part))
        } catch {
            break  // malformed HTTP or frames: the pipeline has answered and closes
        }
    }
    var upgraded = false
    for reservation in reservations.all() {
        if (try? await reservation.get()) != nil { upgraded = true }
    }
    await channel.testingEventLoop.run()
    precondition(
        substituted || !upgraded,
        "a request without a token was upgraded:\n\(String(decoding: original, as: UTF8.self))"
    )

    // The client hangs up; whatever is still running sees the connection gone.
    _ = try? await channel.close()
    await channel.testingEventLoop.run()
    _ = try? await channel.finish(acceptAlreadyClosed: true)
    for token in tokens { _ = await server.tokens.consume(token) }
    server.claimed.withLockedValue { $0.removeAll() }
}

final class Completion: @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let completion = Completion()
    Task {
        await serve(input)
        completion.done.signal()
    }
    completion.done.wait()
    return 0
}
