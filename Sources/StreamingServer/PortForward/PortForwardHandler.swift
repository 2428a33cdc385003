import Logging
import NIOCore
import NIOPosix
import SkiffCommon

/// Port-forward over SPDY/3.1 (`portforward.k8s.io`), as client-go's port forwarder speaks it,
/// directly or tunnelled through a WebSocket: for every local connection the client opens an
/// `error` stream and then a `data` stream carrying the same `requestID` and `port` headers.
/// Once both exist, the server connects to that port on the pod's loopback address and relays
/// bytes both ways; the pod closing its side ends the data stream (FIN) and then the error
/// stream; a failure is written on the error stream as text before its FIN.
///
/// Back-pressure: while the client's connection cannot take more, the pod connections are not
/// read; while a pod connection cannot take more, the client's connection is not read.
final class PortForwardHandler: ChannelInboundHandler {
    typealias InboundIn = SPDYFrame
    typealias OutboundOut = ByteBuffer

    /// How long the second stream of a pair may lag behind the first (the kubelet's figure).
    static let pairTimeout = TimeAmount.seconds(30)

    let request: PortForwardStreamRequest
    let backend: any StreamingBackend
    let logger: Logger
    private let inflater = SPDYHeaderInflater()
    private let deflater = SPDYHeaderDeflater()
    private var connections: [String: ForwardedConnection] = [:]
    private var requestOfStream: [UInt32: String] = [:]
    private var lastStreamID: UInt32 = 0
    private var context: ChannelHandlerContext?
    /// Pod connections that cannot take more right now; the client is not read while any exist.
    private var blockedTargets = Set<ObjectIdentifier>()

    init(request: PortForwardStreamRequest, backend: any StreamingBackend, logger: Logger) {
        self.request = request
        self.backend = backend
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .synStream(let id, _, _, let flags, let block):
            openStream(id, flags: flags, block: block, context: context)
        case .data(let id, let flags, let payload):
            guard let connection = connection(of: id) else { return }
            if id == connection.dataStream {
                if !payload.isEmpty { toPod(connection, ByteBuffer(bytes: payload), streamID: id) }
                if flags & SPDYFrame.flagFin != 0 { clientFinished(connection) }
            }
        case .rstStream(let id, _):
            guard let connection = connection(of: id) else { return }
            if id == connection.dataStream {
                // client-go resets the data stream once it has read the pod's side to its end
                // (or gave up): the pod connection goes; the error stream still gets its FIN.
                connection.clientFinished = true
                connection.target?.close(promise: nil)
                end(connection, error: nil)
            } else {
                connection.errorFinSent = true
            }
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
        write(SPDYFrame.goAway(lastGoodStreamID: lastStreamID, status: 1).bytes)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        for connection in connections.values {
            connection.clientFinished = true
            connection.closed = true
            connection.pairTimer?.cancel()
            connection.target?.close(promise: nil)
        }
        connections = [:]
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        for connection in connections.values {
            _ = connection.target?.setOption(ChannelOptions.autoRead, value: writable)
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Streams

    private func connection(of streamID: UInt32) -> ForwardedConnection? {
        requestOfStream[streamID].flatMap { connections[$0] }
    }

    private func openStream(_ id: UInt32, flags: UInt8, block: [UInt8], context: ChannelHandlerContext) {
        lastStreamID = max(lastStreamID, id)
        let headers: [(name: String, value: String)]
        do {
            headers = try inflater.headers(from: block)
        } catch {
            // The header stream is broken for good: nothing later on this connection can be read.
            errorCaught(context: context, error: error)
            return
        }
        func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }
        let type = header("streamtype") ?? ""
        guard type == "data" || type == "error", let requestID = header("requestid") else {
            logger.debug(
                "port-forward stream refused",
                metadata: ["streamtype": "\(type)", "requestID": "\(header("requestid") ?? "missing")"]
            )
            write(SPDYFrame.rstStream(streamID: id, status: 1).bytes)
            return
        }
        let connection = connections[requestID] ?? ForwardedConnection(requestID: requestID)
        guard (type == "data" ? connection.dataStream : connection.errorStream) == nil, !connection.started else {
            write(SPDYFrame.rstStream(streamID: id, status: 1).bytes)
            return
        }
        connections[requestID] = connection
        requestOfStream[id] = requestID
        if type == "data" { connection.dataStream = id } else { connection.errorStream = id }
        if let port = header("port") { connection.portHeader = port }
        write(SPDYFrame.synReply(streamID: id, flags: 0, headerBlock: deflater.compress([])).bytes)
        if type == "data" && flags & SPDYFrame.flagFin != 0 { connection.clientFinished = true }
        if connection.dataStream != nil && connection.errorStream != nil {
            connection.pairTimer?.cancel()
            start(connection, context: context)
        } else if connection.pairTimer == nil {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let boundConnection = NIOLoopBound(connection, eventLoop: context.eventLoop)
            connection.pairTimer = context.eventLoop.scheduleTask(in: Self.pairTimeout) {
                bound.value.end(
                    boundConnection.value,
                    error: "timed out waiting for the other stream of request \(requestID)"
                )
            }
        }
    }

    private func start(_ connection: ForwardedConnection, context: ChannelHandlerContext) {
        connection.started = true
        guard let text = connection.portHeader, let port = UInt16(text), port > 0 else {
            end(
                connection,
                error: "invalid port header \"\(connection.portHeader ?? "")\": a port number 1-65535 is needed"
            )
            return
        }
        guard request.ports.isEmpty || request.ports.contains(port) else {
            end(
                connection,
                error:
                    "port \(port) was not named in the PortForward request (\(request.ports.map(String.init).joined(separator: ", ")))"
            )
            return
        }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let boundConnection = NIOLoopBound(connection, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let backend = self.backend
        let podID = request.podSandboxID
        Task {
            do throws(SkiffError) {
                let fd = try await backend.connectToPod(podID, port: port)
                loop.execute { bound.value.connected(boundConnection.value, fd: fd, port: port) }
            } catch {
                loop.execute {
                    bound.value.end(
                        boundConnection.value,
                        error: "error forwarding port \(port) to pod \(podID): \(error.message)"
                    )
                }
            }
        }
    }

    private func connected(_ connection: ForwardedConnection, fd: Int32, port: UInt16) {
        guard let context, !connection.closed else {
            _ = close(fd)
            return
        }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let boundConnection = NIOLoopBound(connection, eventLoop: context.eventLoop)
        let clientWritable = context.channel.isWritable
        ClientBootstrap(group: context.eventLoop)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelOption(ChannelOptions.autoRead, value: clientWritable)
            .channelOption(
                ChannelOptions.recvAllocator,
                value: AdaptiveRecvByteBufferAllocator(minimum: 4096, initial: 65536, maximum: 262_144)
            )
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        PodConnectionRelay(
                            onData: { bound.value.toClient(boundConnection.value, $0) },
                            onInputEnd: { bound.value.podFinished(boundConnection.value) },
                            onWritabilityChanged: {
                                bound.value.podWritability(boundConnection.value, channel: channel)
                            },
                            onClose: { bound.value.podClosed(boundConnection.value, channel: channel) }
                        )
                    )
                }
            }
            .withConnectedSocket(fd)
            .whenComplete { result in
                let handler = bound.value
                let connection = boundConnection.value
                switch result {
                case .success(let channel):
                    handler.attach(channel, to: connection)
                case .failure(let error):
                    _ = close(fd)
                    handler.end(
                        connection,
                        error: "error forwarding port \(port) to pod \(handler.request.podSandboxID): \(error)"
                    )
                }
            }
    }

    private func attach(_ target: Channel, to connection: ForwardedConnection) {
        guard !connection.closed else {
            target.close(promise: nil)
            return
        }
        connection.target = target
        for (buffer, streamID) in connection.pending { toPod(connection, buffer, streamID: streamID) }
        connection.pending = []
        if connection.clientFinished { shutDownPodOutput(connection) }
    }

    // MARK: - Relaying

    private func toPod(_ connection: ForwardedConnection, _ buffer: ByteBuffer, streamID: UInt32) {
        guard let target = connection.target else {
            if !connection.closed { connection.pending.append((buffer, streamID)) }
            return
        }
        let count = UInt32(buffer.readableBytes)
        let written = target.writeAndFlush(buffer)
        connection.lastWrite = written
        // The window is given back once the pod has taken the bytes (for peers that count it;
        // client-go's spdystream does not).
        let bound = NIOLoopBound(self, eventLoop: target.eventLoop)
        written.whenSuccess { bound.value.write(SPDYFrame.windowUpdate(streamID: streamID, delta: count).bytes) }
    }

    private func toClient(_ connection: ForwardedConnection, _ buffer: ByteBuffer) {
        guard let context, let id = connection.dataStream, !connection.dataFinSent else { return }
        for part in SPDYFrame.dataFrameParts(streamID: id, payload: buffer) {
            context.write(wrapOutboundOut(part), promise: nil)
        }
        context.flush()
        if !context.channel.isWritable { _ = connection.target?.setOption(ChannelOptions.autoRead, value: false) }
    }

    private func clientFinished(_ connection: ForwardedConnection) {
        connection.clientFinished = true
        if connection.target != nil { shutDownPodOutput(connection) }
    }

    /// The client sends no more: the pod's side of the connection sees EOF once what was sent
    /// has been written.
    private func shutDownPodOutput(_ connection: ForwardedConnection) {
        guard let target = connection.target else { return }
        let shutDown: @Sendable (Result<Void, any Error>) -> Void = { _ in target.close(mode: .output, promise: nil) }
        if let lastWrite = connection.lastWrite { lastWrite.whenComplete(shutDown) } else { shutDown(.success(())) }
        if connection.podFinished { target.close(promise: nil) }
    }

    private func podFinished(_ connection: ForwardedConnection) {
        connection.podFinished = true
        end(connection, error: nil)
        if connection.clientFinished { connection.target?.close(promise: nil) }
    }

    private func podClosed(_ connection: ForwardedConnection, channel: Channel) {
        blockedTargets.remove(ObjectIdentifier(channel))
        updateClientReading()
        connection.target = nil
        end(connection, error: nil)
    }

    private func podWritability(_ connection: ForwardedConnection, channel: Channel) {
        if channel.isWritable {
            blockedTargets.remove(ObjectIdentifier(channel))
        } else {
            blockedTargets.insert(ObjectIdentifier(channel))
        }
        updateClientReading()
    }

    private func updateClientReading() {
        _ = context?.channel.setOption(ChannelOptions.autoRead, value: blockedTargets.isEmpty)
    }

    /// Finishes the client's view of a forwarded connection: the error text if any, then FIN on
    /// the data and error streams. The pod connection is closed on errors; otherwise it closes
    /// once both sides are done.
    private func end(_ connection: ForwardedConnection, error: String?) {
        connection.pairTimer?.cancel()
        if let error {
            logger.debug("port-forward failed", metadata: ["pod": "\(request.podSandboxID)", "error": "\(error)"])
            connection.closed = true
            connection.pending = []
            connection.target?.close(promise: nil)
            if let id = connection.errorStream, !connection.errorFinSent {
                write(SPDYFrame.data(streamID: id, flags: 0, payload: Array(error.utf8)).bytes)
            }
        }
        if let id = connection.dataStream, !connection.dataFinSent {
            connection.dataFinSent = true
            write(SPDYFrame.data(streamID: id, flags: SPDYFrame.flagFin, payload: []).bytes)
        }
        if let id = connection.errorStream, !connection.errorFinSent {
            connection.errorFinSent = true
            write(SPDYFrame.data(streamID: id, flags: SPDYFrame.flagFin, payload: []).bytes)
        }
        if connection.target == nil || connection.closed {
            connection.closed = true
            forget(connection)
        } else if connection.clientFinished && connection.podFinished {
            forget(connection)
        }
    }

    private func forget(_ connection: ForwardedConnection) {
        guard connections[connection.requestID] === connection else { return }
        connections[connection.requestID] = nil
        if let id = connection.dataStream { requestOfStream[id] = nil }
        if let id = connection.errorStream { requestOfStream[id] = nil }
    }

    private func write(_ bytes: [UInt8]) {
        guard let context, context.channel.isActive else { return }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
    }
}
