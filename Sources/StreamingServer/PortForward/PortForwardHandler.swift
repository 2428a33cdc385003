import Logging
import NIOCore
import NIOPosix
import SkiffCommon

/// Port-forward over SPDY/3.1 (`portforward.k8s.io`), as client-go's port forwarder speaks it,
/// directly or tunnelled through a WebSocket: for every local connection the client opens an
/// `error` stream and then a `data` stream carrying the same `requestID` and `port` headers.
/// Once both exist, the server connects to that port on the pod's loopback address and relays
/// bytes both ways (`PortForwardStateMachine` has the rules).
///
/// This handler only turns frames and pod-connection callbacks into the machine's events and
/// performs the actions it returns; it keeps the resources (header compression, timers, the
/// channel) and no protocol state.
///
/// Back-pressure: while the client's connection cannot take more, the pod connections are not
/// read; while a pod connection cannot take more, the client's connection is not read.
final class PortForwardHandler: ChannelInboundHandler {
    typealias InboundIn = SPDYFrame
    typealias OutboundOut = ByteBuffer
    typealias StateMachine = PortForwardStateMachine<PodChannel>

    /// How long the second stream of a pair may lag behind the first (the kubelet's figure).
    static let pairTimeout = Duration.seconds(30)

    let backend: any StreamingBackend
    let clock: StreamingClock
    let logger: Logger
    private var stateMachine: StateMachine
    private let inflater = SPDYHeaderInflater()
    private let deflater = SPDYHeaderDeflater()
    private var pairTimers: [StateMachine.ForwardID: Task<Void, Never>] = [:]
    private var context: ChannelHandlerContext?

    init(request: PortForwardStreamRequest, backend: any StreamingBackend, clock: StreamingClock, logger: Logger) {
        self.stateMachine = StateMachine(request: request)
        self.backend = backend
        self.clock = clock
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .synStream(let id, _, _, let flags, let block):
            let headers: [(name: String, value: String)]
            do {
                headers = try inflater.headers(from: block)
            } catch {
                // The header stream is broken for good: nothing later on this connection can be read.
                logger.debug("port-forward stream headers unreadable; closing", metadata: ["error": "\(error)"])
                perform(stateMachine.streamHeadersUnreadable(id))
                return
            }
            func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }
            let streamHeaders = StateMachine.StreamHeaders(
                streamType: header("streamtype"),
                requestID: header("requestid"),
                port: header("port")
            )
            perform(stateMachine.streamOpened(id, headers: streamHeaders, fin: flags & SPDYFrame.flagFin != 0))
        case .data(let id, let flags, let payload):
            let fin = flags & SPDYFrame.flagFin != 0
            perform(stateMachine.dataReceived(id, payload: ByteBuffer(bytes: payload), fin: fin))
        case .rstStream(let id, _):
            perform(stateMachine.streamReset(id))
        case .ping(let id):
            write(SPDYFrame.ping(id: id).bytes)
        case .goAway:
            context.close(promise: nil)
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("bad SPDY frame on a port-forward; closing", metadata: ["error": "\(error)"])
        perform(stateMachine.protocolError())
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(stateMachine.clientClosed())
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        perform(stateMachine.clientWritabilityChanged(context.channel.isWritable))
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Actions

    private func perform(_ actions: [StateMachine.Action]) {
        for action in actions { perform(action) }
    }

    private func perform(_ action: StateMachine.Action) {
        switch action {
        case .acceptStream(let id):
            write(SPDYFrame.synReply(streamID: id, flags: 0, headerBlock: deflater.compress([])).bytes)
        case .resetStream(let id, let reason):
            logger.debug("port-forward stream refused", metadata: ["stream": "\(id)", "reason": "\(reason)"])
            write(SPDYFrame.rstStream(streamID: id, status: 1).bytes)
        case .startPairTimer(let forward):
            guard let context else { return }
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            pairTimers[forward] = clock.schedule(after: Self.pairTimeout, on: context.eventLoop) {
                bound.value.pairTimerFired(forward)
            }
        case .cancelPairTimer(let forward):
            pairTimers.removeValue(forKey: forward)?.cancel()
        case .connectToPod(let forward, let port):
            connectToPod(forward, port: port)
        case .writeToPod(let pod, let buffer, let streamID):
            let count = UInt32(buffer.readableBytes)
            // The window is given back once the pod has taken the bytes (for peers that count it;
            // client-go's spdystream does not).
            let bound = NIOLoopBound(self, eventLoop: pod.channel.eventLoop)
            pod.channel.writeAndFlush(buffer).whenSuccess {
                bound.value.write(SPDYFrame.windowUpdate(streamID: streamID, delta: count).bytes)
            }
        case .shutDownPodOutput(let pod):
            // NIO shuts the output down once the writes queued before it have gone out.
            pod.channel.close(mode: .output, promise: nil)
        case .closePodConnection(let pod):
            pod.channel.close(promise: nil)
        case .sendToClient(let streamID, let buffer, let pod):
            guard let context else { return }
            for part in SPDYFrame.dataFrameParts(streamID: streamID, payload: buffer) {
                context.write(wrapOutboundOut(part), promise: nil)
            }
            context.flush()
            if !context.channel.isWritable { _ = pod.channel.setOption(ChannelOptions.autoRead, value: false) }
        case .sendError(let streamID, let text):
            write(SPDYFrame.data(streamID: streamID, flags: 0, payload: Array(text.utf8)).bytes)
        case .logFailure(let text):
            logger.debug(
                "port-forward failed",
                metadata: ["pod": "\(stateMachine.request.podSandboxID)", "error": "\(text)"]
            )
        case .sendFin(let streamID):
            write(SPDYFrame.data(streamID: streamID, flags: SPDYFrame.flagFin, payload: []).bytes)
        case .setPodReading(let pods, let reading):
            for pod in pods { _ = pod.channel.setOption(ChannelOptions.autoRead, value: reading) }
        case .setClientReading(let reading):
            _ = context?.channel.setOption(ChannelOptions.autoRead, value: reading)
        case .sendGoAwayAndClose(let lastGood):
            write(SPDYFrame.goAway(lastGoodStreamID: lastGood, status: 1).bytes)
            context?.close(promise: nil)
        }
    }

    private func pairTimerFired(_ forward: StateMachine.ForwardID) {
        pairTimers[forward] = nil
        perform(stateMachine.pairTimedOut(forward))
    }

    private func podEvent(_ event: PodConnectionRelay.Event, of forward: StateMachine.ForwardID) {
        switch event {
        case .data(let buffer, let pod): perform(stateMachine.podDataReceived(forward, buffer, from: pod))
        case .inputEnded: perform(stateMachine.podOutputEnded(forward))
        case .writabilityChanged(let writable): perform(stateMachine.podWritabilityChanged(forward, writable: writable))
        case .closed: perform(stateMachine.podConnectionClosed(forward))
        }
    }

    private func write(_ bytes: [UInt8]) {
        guard let context, context.channel.isActive else { return }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
    }

    // MARK: - The pod side

    private func connectToPod(_ forward: StateMachine.ForwardID, port: UInt16) {
        guard let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let backend = self.backend
        let podID = stateMachine.request.podSandboxID
        Task {
            do throws(SkiffError) {
                let fd = try await backend.connectToPod(podID, port: port)
                loop.execute { bound.value.connected(forward, fd: fd, port: port) }
            } catch {
                loop.execute {
                    let handler = bound.value
                    handler.perform(
                        handler.stateMachine.podConnectionFailed(forward, port: port, reason: error.message)
                    )
                }
            }
        }
    }

    /// Wraps the connected socket in a channel on this connection's event loop; the machine
    /// decides whether it is still wanted.
    private func connected(_ forward: StateMachine.ForwardID, fd: Int32, port: UInt16) {
        guard let context else {
            _ = close(fd)
            return
        }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        ClientBootstrap(group: context.eventLoop)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelOption(ChannelOptions.autoRead, value: context.channel.isWritable)
            .channelOption(
                ChannelOptions.recvAllocator,
                value: AdaptiveRecvByteBufferAllocator(minimum: 4096, initial: 65536, maximum: 262_144)
            )
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        PodConnectionRelay { event in bound.value.podEvent(event, of: forward) }
                    )
                }
            }
            .withConnectedSocket(fd)
            .whenComplete { result in
                let handler = bound.value
                switch result {
                case .success(let channel):
                    handler.perform(handler.stateMachine.podConnected(forward, PodChannel(channel: channel)))
                case .failure(let error):
                    _ = close(fd)
                    handler.perform(handler.stateMachine.podConnectionFailed(forward, port: port, reason: "\(error)"))
                }
            }
    }
}
