import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import SkiffCommon

/// The streaming server behind Exec, Attach and PortForward: a SwiftNIO HTTP/1.1 server on the
/// configured address that serves only upgrades of `/exec/{token}`, `/attach/{token}` and
/// `/portforward/{token}` (SPDY/3.1, or WebSocket with the remotecommand subprotocols or the
/// port-forward tunnel) for tokens the rpcs handed out. Everything else — unknown, expired or
/// reused tokens, other paths, plain requests — gets 404.
public final class StreamingHTTPServer: Sendable {
    public static let subprotocols = ["v5.channel.k8s.io", "v4.channel.k8s.io"]

    let address: String
    let requestedPort: Int
    let tokens: StreamTokenCache<StreamRequest>
    let starter: any StreamingBackend
    let logger: Logger
    let group: MultiThreadedEventLoopGroup
    private let state = NIOLockedValueBox<(channel: Channel?, port: Int)>((nil, 0))
    /// Requests whose token an upgrade consumed, until the upgraded pipeline takes them.
    let claimed = NIOLockedValueBox<[ObjectIdentifier: (StreamRequest, String)]>([:])

    let idleTimeout: Duration
    /// Where the HTTPS certificate chain and key are (PEM); nil serves plain HTTP.
    let tls: (certificateFile: String, keyFile: String)?

    public init(
        address: String,
        port: Int,
        starter: any StreamingBackend,
        tokenLifetime: Duration = .seconds(60),
        idleTimeout: Duration = .seconds(4 * 3600),
        tls: (certificateFile: String, keyFile: String)? = nil,
        logger: Logger
    ) {
        self.idleTimeout = idleTimeout
        self.tls = tls
        self.address = address
        self.requestedPort = port
        self.starter = starter
        self.logger = logger
        tokens = StreamTokenCache(lifetime: tokenLifetime)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// Binds and starts serving; returns the port (the kernel's pick when configured as 0).
    public func start() async throws(SkiffError) -> Int {
        let sslContext = try tls.map { files throws(SkiffError) in
            try Self.sslContext(certificateFile: files.certificateFile, keyFile: files.keyFile)
        }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    maxFrameSize: 1 << 20,
                    automaticErrorHandling: true,
                    shouldUpgrade: { [self] channel, head in
                        reserve(
                            head,
                            offeredIn: "Sec-WebSocket-Protocol",
                            served: Self.webSocketSubprotocols(for:),
                            on: channel
                        )
                        .map { chosen in chosen.map { HTTPHeaders([("Sec-WebSocket-Protocol", $0)]) } }
                    },
                    upgradePipelineHandler: { [self] channel, _ in installStream(on: channel, webSocket: true) }
                )
                let spdy = SPDYUpgrader(server: self)
                // The 404 responder serves plain HTTP only; once a WebSocket upgrade completes it
                // leaves, so frames never reach it.
                let notFound = NotFoundResponder()
                let leaveAfterUpgrade: @Sendable (ChannelHandlerContext) -> Void = { context in
                    context.pipeline.removeHandler(name: NotFoundResponder.name, promise: nil)
                }
                let (seconds, attoseconds) = idleTimeout.components
                let idle = TimeAmount.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
                return channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                    }
                    // A connection with no traffic either way for streaming.idle_timeout is closed.
                    if idle > .zero {
                        try channel.pipeline.syncOperations.addHandlers([
                            IdleStateHandler(allTimeout: idle), IdleCloser(),
                        ])
                    }
                }.flatMap {
                    channel.pipeline.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [upgrader, spdy], completionHandler: leaveAfterUpgrade)
                    )
                }.flatMap {
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(notFound, name: NotFoundResponder.name)
                    }
                }
            }
        do {
            let channel = try await bootstrap.bind(host: address, port: requestedPort).get()
            let port = channel.localAddress?.port ?? requestedPort
            state.withLockedValue { $0 = (channel, port) }
            return port
        } catch {
            throw SkiffError(
                .failedPrecondition,
                "the streaming server cannot listen on \(address):\(requestedPort)",
                cause: DescribedError(error)
            )
        }
    }

    public var port: Int { state.withLockedValue { $0.port } }

    /// The server's TLS settings from PEM files; a file that cannot be read or parsed stops
    /// skiffd at start with its name.
    static func sslContext(certificateFile: String, keyFile: String) throws(SkiffError) -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw SkiffError(
                .failedPrecondition,
                "streaming.tls_cert_file \(certificateFile) is not a readable PEM certificate chain",
                cause: DescribedError(error)
            )
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw SkiffError(
                .failedPrecondition,
                "streaming.tls_key_file \(keyFile) is not a readable PEM private key",
                cause: DescribedError(error)
            )
        }
        do {
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) },
                privateKey: .privateKey(key)
            )
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw SkiffError(
                .failedPrecondition,
                "streaming TLS: the certificate \(certificateFile) and key \(keyFile) do not make a TLS server",
                cause: DescribedError(error)
            )
        }
    }

    /// The URL the Exec or Attach rpc answers with.
    public func url(for request: StreamRequest) async throws(SkiffError) -> String {
        guard let token = await tokens.insert(request) else {
            throw SkiffError(
                .resourceExhausted,
                "too many streaming requests are waiting for their clients; try again shortly"
            )
        }
        let host = address.contains(":") ? "[\(address)]" : address
        return "\(tls == nil ? "http" : "https")://\(host):\(port)/\(request.kind)/\(token)"
    }

    public func shutdown() async {
        let channel = state.withLockedValue { $0.channel }
        do {
            try await channel?.close()
        } catch {
            logger.debug("the streaming listener was closed already", metadata: ["error": "\(error)"])
        }
        do {
            try await group.shutdownGracefully()
        } catch {
            logger.warning(
                "the streaming server's event loops did not shut down cleanly",
                metadata: ["error": "\(error)"]
            )
        }
    }

    /// The WebSocket subprotocols a kind of stream is served with, preferred first.
    static func webSocketSubprotocols(for kind: String) -> [String] {
        kind == "portforward" ? [WebSocketTunnel.subprotocol] : subprotocols
    }

    /// `/{kind}/{token}` of a request URI, for the three kinds served.
    static func route(_ uri: String) -> (kind: String, token: String)? {
        let parts = uri.split(separator: "?").first?.split(separator: "/") ?? []
        guard parts.count == 2, ["exec", "attach", "portforward"].contains(parts[0]) else { return nil }
        return (String(parts[0]), String(parts[1]))
    }

    /// Spends the token if it exists and was made for this kind of stream.
    func claim(_ token: String, kind: String) async -> StreamRequest? {
        guard let request = await tokens.consume(token) else { return nil }
        // A token only opens the kind of stream it was made for.
        return request.kind == kind ? request : nil
    }

    /// The first step of every upgrade: the URI names a kind and a token, the client offers (in
    /// `header`) a protocol `served` lists for that kind, and the token is spent for that kind.
    /// The request and the chosen protocol wait in `claimed` for the upgraded pipeline
    /// (`installStream`); the future carries the chosen protocol, nil when refused.
    func reserve(
        _ head: HTTPRequestHead,
        offeredIn header: String,
        served: (String) -> [String],
        on channel: Channel
    ) -> EventLoopFuture<String?> {
        let offered = head.headers[canonicalForm: header].map(String.init)
        guard let (kind, token) = Self.route(head.uri), let chosen = served(kind).first(where: offered.contains) else {
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        let promise = channel.eventLoop.makePromise(of: String?.self)
        let key = ObjectIdentifier(channel)
        Task { [self] in
            guard let request = await claim(token, kind: kind) else {
                promise.succeed(nil)
                return
            }
            claimed.withLockedValue { $0[key] = (request, chosen) }
            promise.succeed(chosen)
        }
        return promise.futureResult
    }

    /// The last step: the reserved request's handlers go into the upgraded pipeline, after the
    /// WebSocket codec or on the raw connection (SPDY).
    func installStream(on channel: Channel, webSocket: Bool) -> EventLoopFuture<Void> {
        guard let (request, chosen) = claimed.withLockedValue({ $0.removeValue(forKey: ObjectIdentifier(channel)) })
        else {
            return channel.close()
        }
        logger.debug(
            "stream opened",
            metadata: ["target": "\(request.target)", "protocol": "\(webSocket ? "" : "SPDY/3.1 ")\(chosen)"]
        )
        let handlers = streamHandlers(for: request, protocol: chosen, webSocket: webSocket)
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandlers(handlers)
        }
    }

    /// The handlers that serve a claimed request once the connection is upgraded with the
    /// `chosen` protocol, after the WebSocket codec (`webSocket`) or on the raw connection (SPDY).
    func streamHandlers(for request: StreamRequest, protocol chosen: String, webSocket: Bool) -> [any ChannelHandler] {
        let needs: SPDYStreamHandler.Needs
        switch request {
        case .portForward(let forward):
            let spdy: [any ChannelHandler] = [
                ByteToMessageHandler(SPDYFrameDecoder()),
                PortForwardHandler(request: forward, backend: starter, logger: logger),
            ]
            return webSocket ? [WebSocketTunnel()] + spdy : spdy
        case .exec(let exec):
            needs = SPDYStreamHandler.Needs(stdin: exec.stdin, stdout: exec.stdout, stderr: exec.stderr && !exec.tty)
        case .attach(let attach):
            needs = SPDYStreamHandler.Needs(
                stdin: attach.stdin,
                stdout: attach.stdout,
                stderr: attach.stderr && !attach.tty
            )
        }
        let makeSession = sessionFactory(for: request)
        if webSocket { return [StreamWebSocketHandler(version5: chosen.hasPrefix("v5"), makeSession: makeSession)] }
        return [
            ByteToMessageHandler(SPDYFrameDecoder()),
            SPDYStreamHandler(needs: needs, version: chosen, logger: logger, makeSession: makeSession),
        ]
    }

    /// Builds the exec or attach session a stream request stands for, bound to its transport.
    func sessionFactory(for request: StreamRequest) -> StreamWebSocketHandler.SessionFactory {
        let starter = self.starter
        let logger = self.logger
        switch request {
        case .portForward:
            preconditionFailure("a port-forward has no exec/attach session")
        case .exec(let exec):
            return { loop, transport in
                let session = ExecSession(request: exec, starter: starter, loop: loop, logger: logger)
                session.transport = transport
                return session
            }
        case .attach(let attach):
            return { loop, transport in
                let session = AttachSession(request: attach, backend: starter, loop: loop, logger: logger)
                session.transport = transport
                return session
            }
        }
    }

    /// SPDY/3.1 upgrades (POST with `Upgrade: SPDY/3.1`): exec and attach with the remotecommand
    /// version negotiated through `X-Stream-Protocol-Version` (only v4 is served), port-forward
    /// with `portforward.k8s.io`.
    struct SPDYUpgrader: HTTPServerProtocolUpgrader, @unchecked Sendable {
        // @unchecked: holds only the server, which is Sendable.
        let server: StreamingHTTPServer
        let supportedProtocol = "SPDY/3.1"
        let requiredUpgradeHeaders: [String] = []

        /// Newest first; v2 and v3 differ from v4 only in the error stream's content (text).
        static func versions(for kind: String) -> [String] {
            kind == "portforward"
                ? ["portforward.k8s.io"] : ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io"]
        }

        struct Refused: Error {}

        func buildUpgradeResponse(
            channel: Channel,
            upgradeRequest: HTTPRequestHead,
            initialResponseHeaders: HTTPHeaders
        ) -> EventLoopFuture<HTTPHeaders> {
            server.reserve(
                upgradeRequest,
                offeredIn: "X-Stream-Protocol-Version",
                served: Self.versions(for:),
                on: channel
            ).flatMapThrowing { chosen in
                guard let chosen else { throw Refused() }
                var headers = initialResponseHeaders
                headers.add(name: "X-Stream-Protocol-Version", value: chosen)
                return headers
            }
        }

        func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
            server.installStream(on: context.channel, webSocket: false)
        }
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

/// Closes a connection once `IdleStateHandler` reports it idle.
final class IdleCloser: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
