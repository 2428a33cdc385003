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
final class ExecSession {
    let request: ExecStreamRequest
    let starter: any StreamingBackend
    let loop: EventLoop
    let logger: Logger
    weak var transport: (any ExecTransport)?
    private var stdinChannel: Channel?
    /// The command's output pipes, paused while the client cannot keep up.
    private var outputChannels: [Channel] = []
    private var pendingStdin: [ByteBuffer] = []
    private var stdinClosed = false
    private var started: StartedExec?
    private var openOutputs = 0
    private var exitCode: Int32?
    private(set) var finished = false
    /// A resize that came before the command started.
    private var pendingSize: (columns: UInt16, rows: UInt16)?

    init(request: ExecStreamRequest, starter: any StreamingBackend, loop: EventLoop, logger: Logger) {
        self.request = request
        self.starter = starter
        self.loop = loop
        self.logger = logger
    }

    func start() {
        let bound = NIOLoopBound(self, eventLoop: loop)
        let starter = self.starter
        let request = self.request
        let loop = self.loop
        Task {
            do {
                let exec = try await starter.startExec(request)
                loop.execute { bound.value.attach(exec) }
            } catch {
                loop.execute { bound.value.fail("\(error)") }
            }
        }
    }

    private func attach(_ exec: StartedExec) {
        started = exec
        guard !finished else {
            exec.kill()
            Task {
                _ = await exec.child.exitStatus()
                exec.finish()
            }
            return
        }
        let bound = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        if let pendingSize { exec.resize(pendingSize.columns, pendingSize.rows) }
        // On a terminal there is one output (stderr is the terminal too).
        let outputs = [(exec.child.stdoutFD, StreamChannel.stdout), (exec.child.stderrFD, StreamChannel.stderr)].filter
        { $0.0 >= 0 }
        openOutputs = outputs.count
        for (fd, channel) in outputs {
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
                switch result {
                case .success(let channel):
                    session.stdinChannel = channel
                    for buffer in session.pendingStdin { channel.writeAndFlush(buffer, promise: nil) }
                    session.pendingStdin = []
                    if session.stdinClosed { channel.close(promise: nil) }
                case .failure:
                    session.stdinClosed = true
                }
            }
        } else {
            close(exec.child.stdinFD)
        }
        let child = exec.child
        Task {
            let code = await child.exitStatus()
            loop.execute { bound.value.exited(code) }
        }
    }

    private func relay(_ channel: StreamChannel, _ buffer: ByteBuffer, from pipe: Channel) {
        guard let transport else { return }
        transport.send(channel, buffer)
        if !transport.isWritable { _ = pipe.setOption(ChannelOptions.autoRead, value: false) }
    }

    func transportWritabilityChanged(_ writable: Bool) {
        for pipe in outputChannels { _ = pipe.setOption(ChannelOptions.autoRead, value: writable) }
    }

    func stdin(_ payload: ByteBuffer) {
        guard request.stdin, !stdinClosed else { return }
        if let stdinChannel { stdinChannel.writeAndFlush(payload, promise: nil) } else { pendingStdin.append(payload) }
    }

    func closeStdin() {
        guard !stdinClosed else { return }
        if request.tty {
            // A terminal has no end of input of its own: the client's end of input is typed as
            // the terminal's EOF character (^D), as a person at the terminal would.
            stdin(ByteBuffer(bytes: [0x04]))
        }
        stdinClosed = true
        if !request.tty { stdinChannel?.close(promise: nil) }
    }

    func resize(width: UInt16, height: UInt16) {
        guard request.tty else { return }
        if let started { started.resize(width, height) } else { pendingSize = (width, height) }
    }

    /// The client went away first: the command goes, nothing else.
    func kill() {
        guard !finished else { return }
        finished = true
        started?.kill()
        stdinChannel?.close(promise: nil)
        logger.debug("exec client went away; its command was killed", metadata: ["container": "\(request.containerID)"])
    }

    private func outputEnded() {
        openOutputs -= 1
        finishIfDone()
    }

    private func exited(_ code: Int32) {
        exitCode = code
        started?.finish()
        finishIfDone()
    }

    private func finishIfDone() {
        guard !finished, openOutputs <= 0, let exitCode else { return }
        finished = true
        stdinChannel?.close(promise: nil)
        transport?.finish(status: KubernetesStatus.exited(exitCode, command: request.command))
    }

    private func fail(_ message: String) {
        guard !finished else { return }
        finished = true
        transport?.finish(status: KubernetesStatus.failure(message))
    }
}
