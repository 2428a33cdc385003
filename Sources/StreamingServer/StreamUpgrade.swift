import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// A stream request whose token an upgrade spent, with the protocol it is served with.
struct ClaimedStream: Sendable {
    var request: StreamRequest
    var chosenProtocol: String
}

/// What turns an upgraded connection into a stream: the token cache the claim spends, and what
/// the stream's handlers need. One per server, shared by its connections.
struct StreamDispatcher: Sendable {
    let tokens: StreamTokenCache<StreamRequest>
    let backend: any StreamingBackend
    let clock: StreamingClock
    let logger: Logger

    /// Spends the route's token; the request if the token was live and made for this kind of
    /// stream (a token only opens the kind of stream it was made for).
    func claim(_ route: StreamRoute) async -> StreamRequest? {
        guard let request = await tokens.consume(route.token) else { return nil }
        return request.kind == route.kind.rawValue ? request : nil
    }

    /// The handlers that serve a claimed request once the connection is upgraded, after the
    /// WebSocket codec (`webSocket`) or on the raw connection (SPDY).
    func streamHandlers(for claimed: ClaimedStream, webSocket: Bool) -> [any ChannelHandler] {
        let needs: SPDYStreamSetStateMachine.Needs
        switch claimed.request {
        case .portForward(let forward):
            let spdy: [any ChannelHandler] = [
                ByteToMessageHandler(SPDYFrameDecoder()),
                PortForwardHandler(request: forward, backend: backend, clock: clock, logger: logger),
            ]
            return webSocket ? [WebSocketTunnel()] + spdy : spdy
        case .exec(let exec):
            needs = .init(stdin: exec.stdin, stdout: exec.stdout, stderr: exec.stderr && !exec.tty)
        case .attach(let attach):
            needs = .init(stdin: attach.stdin, stdout: attach.stdout, stderr: attach.stderr && !attach.tty)
        }
        let makeSession = sessionFactory(for: claimed.request)
        if webSocket {
            return [StreamWebSocketHandler(version5: claimed.chosenProtocol.hasPrefix("v5"), makeSession: makeSession)]
        }
        return [
            ByteToMessageHandler(SPDYFrameDecoder()),
            SPDYStreamHandler(
                needs: needs,
                version: claimed.chosenProtocol,
                clock: clock,
                logger: logger,
                makeSession: makeSession
            ),
        ]
    }

    /// Builds the exec or attach session a stream request stands for, bound to its transport.
    func sessionFactory(for request: StreamRequest) -> StreamWebSocketHandler.SessionFactory {
        let backend = self.backend
        let logger = self.logger
        switch request {
        case .portForward:
            preconditionFailure("a port-forward has no exec/attach session")
        case .exec(let exec):
            return { loop, transport in
                let session = ExecSession(request: exec, starter: backend, loop: loop, logger: logger)
                session.transport = transport
                return session
            }
        case .attach(let attach):
            return { loop, transport in
                let session = AttachSession(request: attach, backend: backend, loop: loop, logger: logger)
                session.transport = transport
                return session
            }
        }
    }
}

/// One connection's upgrade, made with the connection and gone with it: the upgrader's first
/// step (`claim`, while NIO builds the 101 response) spends the token, and its last step
/// (`install`, once the response is out) builds the stream from what the claim returned. NIO's
/// upgraders hand nothing from the one step to the other, so the claim waits here — for this
/// connection only, never in a table of the server's.
final class StreamUpgrade: Sendable {
    let dispatcher: StreamDispatcher
    private let claimed = NIOLockedValueBox<ClaimedStream?>(nil)

    init(dispatcher: StreamDispatcher) {
        self.dispatcher = dispatcher
    }

    /// The URI names a kind and a token, the client offers (in `header`) a protocol `served`
    /// lists for that kind, and the token is spent for that kind. The future carries the chosen
    /// protocol, nil when refused.
    func claim(
        _ head: HTTPRequestHead,
        offeredIn header: String,
        served: (StreamKind) -> [String],
        on loop: any EventLoop
    ) -> EventLoopFuture<String?> {
        let offered = head.headers[canonicalForm: header].map(String.init)
        guard let route = StreamRoute(uri: head.uri),
            let chosen = StreamRoute.choose(from: served(route.kind), offered: offered)
        else {
            return loop.makeSucceededFuture(nil)
        }
        let dispatcher = self.dispatcher
        return loop.makeFutureWithTask {
            guard let request = await dispatcher.claim(route) else { return nil }
            return ClaimedStream(request: request, chosenProtocol: chosen)
        }.map { [self] (stream: ClaimedStream?) in
            claimed.withLockedValue { $0 = stream }
            return stream?.chosenProtocol
        }
    }

    /// The claimed request's handlers go into the upgraded pipeline, after the WebSocket codec
    /// or on the raw connection (SPDY); without a claim the connection closes.
    func install(on channel: any Channel, webSocket: Bool) -> EventLoopFuture<Void> {
        guard
            let stream = claimed.withLockedValue({ slot in
                defer { slot = nil }
                return slot
            })
        else {
            return channel.close()
        }
        dispatcher.logger.debug(
            "stream opened",
            metadata: [
                "target": "\(stream.request.target)",
                "protocol": "\(webSocket ? "" : "SPDY/3.1 ")\(stream.chosenProtocol)",
            ]
        )
        let handlers = dispatcher.streamHandlers(for: stream, webSocket: webSocket)
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandlers(handlers)
        }
    }

    /// The HTTP pipeline of a new connection: the WebSocket and SPDY/3.1 upgraders, sharing
    /// this connection's claim, and the 404 responder for everything that is not upgraded.
    func configureHTTPPipeline(on channel: any Channel) throws {
        let webSocket = NIOWebSocketServerUpgrader(
            maxFrameSize: 1 << 20,
            automaticErrorHandling: true,
            shouldUpgrade: { [self] channel, head in
                claim(
                    head,
                    offeredIn: "Sec-WebSocket-Protocol",
                    served: { $0.webSocketSubprotocols },
                    on: channel.eventLoop
                )
                .map { chosen in chosen.map { HTTPHeaders([("Sec-WebSocket-Protocol", $0)]) } }
            },
            upgradePipelineHandler: { [self] channel, _ in install(on: channel, webSocket: true) }
        )
        let spdy = SPDYUpgrader(connectionUpgrade: self)
        // The 404 responder serves plain HTTP only; once an upgrade completes it leaves, so
        // frames never reach it.
        let leaveAfterUpgrade: @Sendable (ChannelHandlerContext) -> Void = { context in
            context.pipeline.removeHandler(name: NotFoundResponder.name, promise: nil)
        }
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [webSocket, spdy], completionHandler: leaveAfterUpgrade)
        )
        try channel.pipeline.syncOperations.addHandler(NotFoundResponder(), name: NotFoundResponder.name)
    }
}

/// Answers every plain HTTP request (and every refused upgrade) with 404 and closes; closes on
/// malformed HTTP.
final class NotFoundResponder: ChannelInboundHandler, RemovableChannelHandler {
    static let name = "skiff.not-found"
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let body = "not found\n"
        var headers = HTTPHeaders([("Content-Type", "text/plain"), ("Connection", "close")])
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .notFound, headers: headers))),
            promise: nil
        )
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Malformed HTTP (NIO's error handler has answered 400 by now): the connection is closed,
    /// not left open until the idle timeout.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A refused upgrade also arrives here as an error; its request still gets the 404.
        if error is HTTPParserError { context.close(promise: nil) }
    }
}
