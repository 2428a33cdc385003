import Logging
import NIOCore

/// An exec or attach over SPDY/3.1 with the `v4.channel.k8s.io` remotecommand protocol, as
/// client-go speaks it: the client opens one stream per stream type (`streamtype` header: error,
/// stdin, stdout, stderr, resize), each answered with SYN_REPLY; once the streams the request
/// needs are there the session starts; its output goes out as DATA on the stdout/stderr streams,
/// stdin comes in as DATA (FIN closes it), resizes as JSON on the resize stream, and the
/// metav1.Status goes on the error stream before every stream is finished and the connection
/// closed.
final class SPDYStreamHandler: ChannelInboundHandler, ExecTransport {
    typealias InboundIn = SPDYFrame
    typealias OutboundOut = ByteBuffer

    /// Which streams the session needs before it can start.
    struct Needs {
        var stdin: Bool
        var stdout: Bool
        var stderr: Bool
    }

    let needs: Needs
    /// remotecommand v2/v3: the error stream carries text, not a metav1.Status.
    let plainTextErrors: Bool
    let makeSession: StreamWebSocketHandler.SessionFactory
    let logger: Logger
    private let inflater = SPDYHeaderInflater()
    private let deflater = SPDYHeaderDeflater()
    private var streams: [String: UInt32] = [:]
    private var session: (any StreamSession)?
    private var context: ChannelHandlerContext?
    private var closing = false

    init(needs: Needs, version: String, logger: Logger, makeSession: @escaping StreamWebSocketHandler.SessionFactory) {
        self.needs = needs
        self.plainTextErrors = version != "v4.channel.k8s.io"
        self.logger = logger
        self.makeSession = makeSession
    }

    private var expectedStreams: Set<String> {
        var expected: Set<String> = ["error"]
        if needs.stdin { expected.insert("stdin") }
        if needs.stdout { expected.insert("stdout") }
        if needs.stderr { expected.insert("stderr") }
        return expected
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        handle(unwrapInboundIn(data), context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("bad SPDY frame; closing", metadata: ["error": "\(error)"])
        write(.goAway(lastGoodStreamID: streams.values.max() ?? 0, status: 1), context: context)
        session?.clientGone()
        context.close(promise: nil)
    }

    private func handle(_ frame: SPDYFrame, context: ChannelHandlerContext) {
        switch frame {
        case .synStream(let id, _, _, let flags, let block):
            let headers: [(name: String, value: String)]
            do {
                headers = try inflater.headers(from: block)
            } catch {
                logger.debug("SPDY stream refused: its headers cannot be read", metadata: ["error": "\(error)"])
                write(.rstStream(streamID: id, status: 1), context: context)
                return
            }
            let type = headers.first { $0.name == "streamtype" }?.value ?? ""
            streams[type] = id
            write(.synReply(streamID: id, flags: 0, headerBlock: deflater.compress([])), context: context)
            if type == "stdin" && flags & SPDYFrame.flagFin != 0 { session?.closeStdin() }
            if session == nil && expectedStreams.isSubset(of: Set(streams.keys)) { startSession(context: context) }
        case .data(let id, let flags, let payload):
            if id == streams["stdin"] {
                if !payload.isEmpty {
                    session?.stdin(ByteBuffer(bytes: payload))
                    write(.windowUpdate(streamID: id, delta: UInt32(payload.count)), context: context)
                }
                if flags & SPDYFrame.flagFin != 0 { session?.closeStdin() }
            } else if id == streams["resize"], let size = TerminalSize(json: ByteBuffer(bytes: payload)) {
                session?.resize(width: size.width, height: size.height)
                write(.windowUpdate(streamID: id, delta: UInt32(payload.count)), context: context)
            }
        case .rstStream(let id, _):
            if id == streams["stdin"] { session?.closeStdin() }
        case .ping(let id):
            write(.ping(id: id), context: context)
        case .goAway:
            session?.clientGone()
            context.close(promise: nil)
        default:
            break
        }
    }

    private func startSession(context: ChannelHandlerContext) {
        let session = makeSession(context.eventLoop, self)
        self.session = session
        session.start()
    }

    private func write(_ frame: SPDYFrame, context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: frame.bytes)), promise: nil)
    }

    var isWritable: Bool { context?.channel.isWritable ?? true }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        session?.transportWritabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func send(_ channel: StreamChannel, _ payload: ByteBuffer) {
        guard let context, !closing else { return }
        let name = channel == .stdout ? "stdout" : (channel == .stderr ? "stderr" : "error")
        guard let id = streams[name] else { return }
        for part in SPDYFrame.dataFrameParts(streamID: id, payload: payload) {
            context.write(wrapOutboundOut(part), promise: nil)
        }
        context.flush()
    }

    func finish(status: [UInt8]) {
        guard let context, !closing else { return }
        let payload = plainTextErrors ? KubernetesStatus.plainText(status) : status
        if let error = streams["error"], !payload.isEmpty {
            write(.data(streamID: error, flags: 0, payload: payload), context: context)
        }
        closing = true
        for (_, id) in streams.sorted(by: { $0.value < $1.value }) {
            write(.data(streamID: id, flags: SPDYFrame.flagFin, payload: []), context: context)
        }
        let channel = context.channel
        context.writeAndFlush(
            wrapOutboundOut(
                ByteBuffer(bytes: SPDYFrame.goAway(lastGoodStreamID: streams.values.max() ?? 0, status: 0).bytes)
            )
        )
        .whenComplete { _ in channel.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        session?.clientGone()
        context.fireChannelInactive()
    }
}
