import Logging
import NIOCore

/// An exec or attach over SPDY/3.1 with the `v4.channel.k8s.io` remotecommand protocol (or v3,
/// v2), as client-go speaks it: `SPDYStreamSetStateMachine` has the rules (which streams, when
/// the session starts, how it ends); this handler inflates stream headers, turns frames into the
/// machine's events, performs the actions it returns and is the session's transport (output as
/// DATA on the stdout/stderr streams).
final class SPDYStreamHandler: ChannelInboundHandler, ExecTransport {
    typealias InboundIn = SPDYFrame
    typealias OutboundOut = ByteBuffer

    /// How long a client may take to open the streams its session needs (the kubelet's
    /// streamCreationTimeout).
    static let streamWaitTimeout = Duration.seconds(30)

    let makeSession: StreamWebSocketHandler.SessionFactory
    let clock: StreamingClock
    let logger: Logger
    private var stateMachine: SPDYStreamSetStateMachine
    private let inflater = SPDYHeaderInflater()
    private let deflater = SPDYHeaderDeflater()
    private var session: (any StreamSession)?
    private var streamWaitTimer: Task<Void, Never>?
    private var context: ChannelHandlerContext?

    init(
        needs: SPDYStreamSetStateMachine.Needs,
        version: String,
        clock: StreamingClock,
        logger: Logger,
        makeSession: @escaping StreamWebSocketHandler.SessionFactory
    ) {
        self.stateMachine = SPDYStreamSetStateMachine(needs: needs, plainTextErrors: version != "v4.channel.k8s.io")
        self.clock = clock
        self.logger = logger
        self.makeSession = makeSession
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        streamWaitTimer = clock.schedule(after: Self.streamWaitTimeout, on: context.eventLoop) {
            let handler = bound.value
            handler.perform(handler.stateMachine.streamWaitTimedOut())
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        streamWaitTimer?.cancel()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .synStream(let id, _, _, let flags, let block):
            do {
                let headers = try inflater.headers(from: block)
                let type = headers.first { $0.name == "streamtype" }?.value ?? ""
                perform(stateMachine.streamOpened(id, streamType: type, fin: flags & SPDYFrame.flagFin != 0))
            } catch {
                logger.debug("SPDY stream refused: its headers cannot be read", metadata: ["error": "\(error)"])
                perform(stateMachine.streamHeadersUnreadable(id))
            }
        case .data(let id, let flags, let payload):
            let fin = flags & SPDYFrame.flagFin != 0
            perform(stateMachine.dataReceived(id, payload: ByteBuffer(bytes: payload), fin: fin))
        case .rstStream(let id, _):
            perform(stateMachine.streamReset(id))
        case .ping(let id):
            write(.ping(id: id))
        case .goAway:
            perform(stateMachine.clientWentAway())
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("bad SPDY frame; closing", metadata: ["error": "\(error)"])
        perform(stateMachine.protocolError())
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(stateMachine.clientClosed())
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        session?.transportWritabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Actions

    private func perform(_ actions: [SPDYStreamSetStateMachine.Action]) {
        for action in actions { perform(action) }
    }

    private func perform(_ action: SPDYStreamSetStateMachine.Action) {
        switch action {
        case .acceptStream(let id):
            write(.synReply(streamID: id, flags: 0, headerBlock: deflater.compress([])))
        case .resetStream(let id):
            write(.rstStream(streamID: id, status: 1))
        case .cancelStreamWaitTimer:
            streamWaitTimer?.cancel()
            streamWaitTimer = nil
        case .startSession:
            guard let context else { return }
            let session = makeSession(context.eventLoop, self)
            self.session = session
            session.start()
        case .sendToSession(let payload):
            session?.stdin(payload)
        case .closeSessionStdin:
            session?.closeStdin()
        case .resizeSession(let width, let height):
            session?.resize(width: width, height: height)
        case .tellSessionClientGone:
            session?.clientGone()
        case .sendWindowUpdate(let id, let delta):
            write(.windowUpdate(streamID: id, delta: delta))
        case .finish(let errorStream, let status, let finStreams, let lastGood):
            guard let context else { return }
            if let errorStream, !status.isEmpty { write(.data(streamID: errorStream, flags: 0, payload: status)) }
            for id in finStreams { write(.data(streamID: id, flags: SPDYFrame.flagFin, payload: [])) }
            let channel = context.channel
            let goAway = ByteBuffer(bytes: SPDYFrame.goAway(lastGoodStreamID: lastGood, status: 0).bytes)
            context.writeAndFlush(wrapOutboundOut(goAway)).whenComplete { _ in channel.close(promise: nil) }
        case .sendGoAwayAndClose(let lastGood):
            write(.goAway(lastGoodStreamID: lastGood, status: 1))
            context?.close(promise: nil)
        case .close:
            context?.close(promise: nil)
        }
    }

    private func write(_ frame: SPDYFrame) {
        context?.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: frame.bytes)), promise: nil)
    }

    // MARK: - ExecTransport

    var isWritable: Bool { context?.channel.isWritable ?? true }

    func send(_ channel: StreamChannel, _ payload: ByteBuffer) {
        guard let context, let id = stateMachine.stream(for: channel) else { return }
        for part in SPDYFrame.dataFrameParts(streamID: id, payload: payload) {
            context.write(wrapOutboundOut(part), promise: nil)
        }
        context.flush()
    }

    func finish(status: [UInt8]) {
        perform(stateMachine.sessionFinished(status: status))
    }
}
