import LinuxSys
import Logging
import NIOCore
import NIOPosix

/// How an exec session talks to its client, whatever the protocol (WebSocket channels, SPDY
/// streams): output per stream, and the final status.
protocol ExecTransport: AnyObject {
    /// False while the client's connection has more queued than it should: the session stops
    /// reading its output until `transportWritabilityChanged(true)`.
    var isWritable: Bool { get }
    func send(_ channel: StreamChannel, _ payload: ByteBuffer)
    /// The command ended (or could not start): `status` is the metav1.Status JSON.
    func finish(status: [UInt8])
}

/// One exec, independent of the wire protocol: starts the command, relays its stdout and stderr
/// to the transport and the client's stdin to it, and reports the exit status once the output
/// is drained. Lives on one event loop; `kill()` ends the command if the client goes first.
/// `ExecSessionStateMachine` decides what happens when; this class owns the command's pipes and
/// performs the machine's actions.
final class ExecSession {
    let request: ExecStreamRequest
    let starter: any StreamingBackend
    let loop: EventLoop
    let logger: Logger
    weak var transport: (any ExecTransport)?
    private var stateMachine: ExecSessionStateMachine
    private var started: StartedExec?
    private var stdinChannel: Channel?
    /// The command's output pipes, paused while the client cannot keep up.
    private var outputChannels: [Channel] = []

    init(request: ExecStreamRequest, starter: any StreamingBackend, loop: EventLoop, logger: Logger) {
        self.request = request
        self.starter = starter
        self.loop = loop
        self.logger = logger
        self.stateMachine = ExecSessionStateMachine(request: request)
    }

    var finished: Bool { stateMachine.isFinished }

    func start() {
        let bound = NIOLoopBound(self, eventLoop: loop)
        let starter = self.starter
        let request = self.request
        let loop = self.loop
        Task {
            do {
                let exec = try await starter.startExec(request)
                loop.execute { bound.value.commandStarted(exec) }
            } catch {
                loop.execute {
                    let session = bound.value
                    session.perform(session.stateMachine.commandFailedToStart("\(error)"))
                }
            }
        }
    }

    private func commandStarted(_ exec: StartedExec) {
        started = exec
        let outputs = Self.outputs(of: exec)
        perform(stateMachine.commandStarted(outputs: outputs.count))
    }

    /// The command's output pipes and the stream each goes to; on a terminal there is one
    /// output (stderr is the terminal too).
    private static func outputs(of exec: StartedExec) -> [(fd: Int32, channel: StreamChannel)] {
        [(exec.child.stdoutFD, StreamChannel.stdout), (exec.child.stderrFD, StreamChannel.stderr)].filter { $0.0 >= 0 }
    }

    private func perform(_ actions: [ExecSessionStateMachine.Action]) {
        for action in actions { perform(action) }
    }

    private func perform(_ action: ExecSessionStateMachine.Action) {
        switch action {
        case .connectCommand:
            if let started { connect(started) }
        case .killAndReapLateCommand:
            guard let exec = started else { return }
            exec.kill()
            Task {
                _ = await exec.child.exitStatus()
                exec.finish()
            }
        case .killCommand:
            started?.kill()
        case .cleanUpCommand:
            started?.finish()
        case .resizeTerminal(let columns, let rows):
            started?.resize(columns, rows)
        case .writeStdin(let payload):
            stdinChannel?.writeAndFlush(payload, promise: nil)
        case .closeStdin:
            stdinChannel?.close(promise: nil)
        case .sendStatus(let status):
            transport?.finish(status: status)
        case .logClientGone:
            logger.debug(
                "exec client went away; its command was killed",
                metadata: ["container": "\(request.containerID)"]
            )
        }
    }

    /// Relays the started command's outputs to the transport, opens its stdin and waits for its exit.
    private func connect(_ exec: StartedExec) {
        let bound = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        for (fd, channel) in Self.outputs(of: exec) {
            let forward = channel == .stdout ? request.stdout || request.tty : request.stderr
            NIOPipeBootstrap(group: loop)
                .channelInitializer { pipe in
                    pipe.eventLoop.makeCompletedFuture {
                        try pipe.pipeline.syncOperations.addHandler(
                            OutputRelay(channel: channel, forward: forward) { buffer in
                                bound.value.relay(channel, buffer, from: pipe)
                            } onEnd: {
                                bound.value.outputEnded()
                            }
                        )
                    }
                }
                .takingOwnershipOfDescriptor(input: fd)
                .whenComplete { result in
                    switch result {
                    case .success(let pipe): bound.value.outputChannels.append(pipe)
                    case .failure: bound.value.outputEnded()
                    }
                }
        }
        if request.stdin {
            NIOPipeBootstrap(group: loop).takingOwnershipOfDescriptor(output: exec.child.stdinFD).whenComplete {
                result in
                let session = bound.value
                if case .success(let channel) = result { session.stdinChannel = channel }
                session.perform(session.stateMachine.stdinOpened(session.stdinChannel != nil))
            }
        } else {
            close(exec.child.stdinFD)
        }
        let child = exec.child
        Task {
            let code = await child.exitStatus()
            loop.execute {
                let session = bound.value
                session.perform(session.stateMachine.commandExited(code))
            }
        }
    }

    private func relay(_ channel: StreamChannel, _ buffer: ByteBuffer, from pipe: Channel) {
        guard let transport else { return }
        transport.send(channel, buffer)
        if !transport.isWritable { _ = pipe.setOption(ChannelOptions.autoRead, value: false) }
    }

    private func outputEnded() {
        perform(stateMachine.outputEnded())
    }

    func transportWritabilityChanged(_ writable: Bool) {
        for pipe in outputChannels { _ = pipe.setOption(ChannelOptions.autoRead, value: writable) }
    }

    func stdin(_ payload: ByteBuffer) {
        perform(stateMachine.stdinReceived(payload))
    }

    func closeStdin() {
        perform(stateMachine.stdinEnded())
    }

    func resize(width: UInt16, height: UInt16) {
        perform(stateMachine.resize(columns: width, rows: height))
    }

    /// The client went away first: the command goes, nothing else.
    func kill() {
        perform(stateMachine.clientGone())
    }
}
