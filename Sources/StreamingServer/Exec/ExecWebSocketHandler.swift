import LinuxSys
import Logging
import NIOCore
import NIOPosix
import NIOWebSocket

/// One exec session over WebSocket (`v5.channel.k8s.io` / `v4.channel.k8s.io`): starts the
/// command, relays its stdout and stderr as channel 1 and 2 messages, the client's channel 0
/// messages to its stdin, and ends with the exit status on channel 3 and a close frame. A client
/// that goes away ends (kills) only its own exec.
final class ExecWebSocketHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let request: ExecStreamRequest
    let starter: any StreamingBackend
    let version5: Bool
    let logger: Logger
    private var stdinChannel: Channel?
    private var pendingStdin: [ByteBuffer] = []
    private var stdinClosed = false
    private var started: StartedExec?
    private var openOutputs = 0
    private var exitCode: Int32?
    private var finished = false

    init(request: ExecStreamRequest, starter: any StreamingBackend, version5: Bool, logger: Logger) {
        self.request = request
        self.starter = starter
        self.version5 = version5
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let starter = self.starter, request = self.request
        Task {
            do {
                let exec = try await starter.startExec(request)
                loop.execute { bound.value.0.attach(exec, context: bound.value.1) }
            } catch {
                loop.execute { bound.value.0.fail("\(error)", context: bound.value.1) }
            }
        }
    }

    private func attach(_ exec: StartedExec, context: ChannelHandlerContext) {
        started = exec
        guard context.channel.isActive else {
            exec.kill()
            Task { _ = await exec.child.exitStatus(); exec.finish() }
            return
        }
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        openOutputs = 2
        for (fd, channel) in [(exec.child.stdoutFD, StreamChannel.stdout), (exec.child.stderrFD, StreamChannel.stderr)] {
            let forward = channel == .stdout ? request.stdout || request.tty : request.stderr
            NIOPipeBootstrap(group: loop)
                .channelInitializer { pipe in
                    pipe.eventLoop.makeCompletedFuture {
                        try pipe.pipeline.syncOperations.addHandler(OutputRelay(channel: channel, forward: forward) { buffer in
                            bound.value.0.send(channel, buffer, context: bound.value.1)
                        } onEnd: {
                            bound.value.0.outputEnded(context: bound.value.1)
                        })
                    }
                }
                .takingOwnershipOfDescriptor(input: fd)
                .whenFailure { _ in bound.value.0.outputEnded(context: bound.value.1) }
        }
        if request.stdin {
            NIOPipeBootstrap(group: loop).takingOwnershipOfDescriptor(output: exec.child.stdinFD).whenComplete { result in
                let handler = bound.value.0
                switch result {
                case .success(let channel):
                    handler.stdinChannel = channel
                    for buffer in handler.pendingStdin { channel.writeAndFlush(buffer, promise: nil) }
                    handler.pendingStdin = []
                    if handler.stdinClosed { channel.close(promise: nil) }
                case .failure:
                    handler.stdinClosed = true
                }
            }
        } else {
            close(exec.child.stdinFD)
        }
        let child = exec.child
        Task {
            let code = await child.exitStatus()
            loop.execute { bound.value.0.exited(code, context: bound.value.1) }
        }
    }

    private func send(_ channel: StreamChannel, _ payload: ByteBuffer, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: payload.readableBytes + 1)
        buffer.writeInteger(channel.rawValue)
        buffer.writeImmutableBuffer(payload)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: buffer)), promise: nil)
    }

    private func outputEnded(context: ChannelHandlerContext) {
        openOutputs -= 1
        finishIfDone(context: context)
    }

    private func exited(_ code: Int32, context: ChannelHandlerContext) {
        exitCode = code
        started?.finish()
        finishIfDone(context: context)
    }

    private func finishIfDone(context: ChannelHandlerContext) {
        guard !finished, openOutputs <= 0, let exitCode else { return }
        finished = true
        stdinChannel?.close(promise: nil)
        send(.error, ByteBuffer(bytes: KubernetesStatus.exited(exitCode, command: request.command)), context: context)
        closeWebSocket(context: context)
    }

    private func fail(_ message: String, context: ChannelHandlerContext) {
        finished = true
        send(.error, ByteBuffer(bytes: KubernetesStatus.failure(message)), context: context)
        closeWebSocket(context: context)
    }

    private func closeWebSocket(context: ChannelHandlerContext) {
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: .normalClosure)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .text:
            var payload = frame.unmaskedData
            guard let first = payload.readInteger(as: UInt8.self), let channel = StreamChannel(rawValue: first) else { return }
            switch channel {
            case .stdin:
                guard request.stdin, !stdinClosed else { return }
                if let stdinChannel { stdinChannel.writeAndFlush(payload, promise: nil) } else { pendingStdin.append(payload) }
            case .close where version5:
                if payload.readInteger(as: UInt8.self) == StreamChannel.stdin.rawValue { closeStdin() }
            case .resize:
                break  // terminal resizes need the runtime's console socket: not supported yet
            default:
                break
            }
        case .connectionClose:
            if !finished {
                started?.kill()
                finished = true
            }
            context.close(promise: nil)
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        default:
            break
        }
    }

    private func closeStdin() {
        stdinClosed = true
        stdinChannel?.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !finished {
            finished = true
            started?.kill()
            logger.debug("exec client went away; its command was killed", metadata: ["container": "\(request.containerID)"])
        }
        stdinChannel?.close(promise: nil)
        context.fireChannelInactive()
    }
}

/// Reads one of the command's output pipes and hands every chunk on (or drops it, for a stream
/// the client did not ask for), then reports the end of the pipe.
final class OutputRelay: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let channel: StreamChannel
    let forward: Bool
    let onData: (ByteBuffer) -> Void
    let onEnd: () -> Void
    private var ended = false

    init(channel: StreamChannel, forward: Bool, onData: @escaping (ByteBuffer) -> Void, onEnd: @escaping () -> Void) {
        self.channel = channel
        self.forward = forward
        self.onData = onData
        self.onEnd = onEnd
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if forward { onData(unwrapInboundIn(data)) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        end()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            end()
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func end() {
        guard !ended else { return }
        ended = true
        onEnd()
    }
}
