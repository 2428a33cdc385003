import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import SkiffCommon

/// The streaming server behind Exec, Attach and PortForward: a SwiftNIO HTTP/1.1 server on the
/// configured address that serves only upgrades of `/exec/{token}`, `/attach/{token}` and
/// `/portforward/{token}` (SPDY/3.1, or WebSocket with the remotecommand subprotocols or the
/// port-forward tunnel) for tokens the rpcs handed out. Everything else — unknown, expired or
/// reused tokens, other paths, plain requests — gets 404.
///
/// This file is the listener: bootstrap, TLS, the URLs handed out, shutdown. Each connection's
/// way to a stream is `StreamUpgrade` (routes in `StreamRoute`, SPDY in `SPDYUpgrader`).
public final class StreamingHTTPServer: Sendable {
    public static let subprotocols = ["v5.channel.k8s.io", "v4.channel.k8s.io"]

    let address: String
    let requestedPort: Int
    let tokens: StreamTokenCache<StreamRequest>
    let dispatcher: StreamDispatcher
    let logger: Logger
    let clock: StreamingClock
    let group: MultiThreadedEventLoopGroup
    private let state = NIOLockedValueBox<(channel: Channel?, port: Int)>((nil, 0))

    let idleTimeout: Duration
    /// Where the HTTPS certificate chain and key are (PEM); nil serves plain HTTP.
    let tls: (certificateFile: String, keyFile: String)?

    /// `clock` measures every timeout (token lifetime, stream waits, idle connections).
    public init(
        address: String,
        port: Int,
        starter: any StreamingBackend,
        tokenLifetime: Duration = .seconds(60),
        idleTimeout: Duration = .seconds(4 * 3600),
        tls: (certificateFile: String, keyFile: String)? = nil,
        clock: StreamingClock = .continuous,
        logger: Logger
    ) {
        self.idleTimeout = idleTimeout
        self.tls = tls
        self.address = address
        self.requestedPort = port
        self.logger = logger
        self.clock = clock
        tokens = StreamTokenCache(lifetime: tokenLifetime, clock: clock)
        dispatcher = StreamDispatcher(tokens: tokens, backend: starter, clock: clock, logger: logger)
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
                channel.eventLoop.makeCompletedFuture {
                    try configureConnection(channel, sslContext: sslContext)
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

    /// A new connection's pipeline: TLS if configured, the idle closer, then HTTP with the
    /// upgrades (`StreamUpgrade`).
    func configureConnection(_ channel: any Channel, sslContext: NIOSSLContext?) throws {
        if let sslContext {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
        }
        // A connection with no traffic either way for streaming.idle_timeout is closed.
        if idleTimeout > .zero {
            try channel.pipeline.syncOperations.addHandler(IdleConnectionCloser(timeout: idleTimeout, clock: clock))
        }
        try StreamUpgrade(dispatcher: dispatcher).configureHTTPPipeline(on: channel)
    }

    public var port: Int { state.withLockedValue { $0.port } }

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
}
