import NIOCore

/// One exec's life, whatever the wire protocol, without any I/O: the command starting (or not),
/// the client's stdin (held until the command's stdin is open), resizes (held until it runs),
/// its outputs ending and its exit, and the client leaving first. The status goes out once,
/// when the command has exited and its output is drained, or when it could not start.
/// `ExecSession` feeds the events in and performs the actions that come out, in order.
struct ExecSessionStateMachine {
    enum Action: Equatable {
        /// Relay the started command's outputs and open its stdin (if the request has one).
        case connectCommand
        /// The command started after the client left: kill it, reap it and remove its files.
        case killAndReapLateCommand
        case killCommand
        /// The command was reaped: remove its files.
        case cleanUpCommand
        case resizeTerminal(columns: UInt16, rows: UInt16)
        case writeStdin(ByteBuffer)
        case closeStdin
        /// End the stream with this metav1.Status.
        case sendStatus([UInt8])
        case logClientGone
    }

    private enum Phase {
        /// The runtime has not started the command yet.
        case starting
        /// The command runs; `openOutputs` pipes are still being read.
        case running(openOutputs: Int, exitCode: Int32?)
        /// The status went out, or the client left: nothing more goes to the client.
        case finished
    }

    private enum Stdin {
        /// The command's stdin is not open yet: input waits, and so does the client's end of it.
        case waiting(held: [ByteBuffer], ended: Bool)
        case open
        /// Ended by the client, gone with the session, or never asked for.
        case ended
    }

    let request: ExecStreamRequest
    private var phase = Phase.starting
    private var stdin: Stdin
    private var commandStarted = false
    /// A resize that came before the command started.
    private var pendingSize: (columns: UInt16, rows: UInt16)?

    init(request: ExecStreamRequest) {
        self.request = request
        self.stdin = request.stdin ? .waiting(held: [], ended: false) : .ended
    }

    var isFinished: Bool {
        if case .finished = phase { true } else { false }
    }

    // MARK: - Command events

    /// The runtime started the command; `outputs` pipes carry its output (one on a terminal).
    mutating func commandStarted(outputs: Int) -> [Action] {
        commandStarted = true
        guard case .starting = phase else { return [.killAndReapLateCommand] }
        phase = .running(openOutputs: outputs, exitCode: nil)
        var actions: [Action] = pendingSize.map { [.resizeTerminal(columns: $0.columns, rows: $0.rows)] } ?? []
        actions.append(.connectCommand)
        return actions
    }

    mutating func commandFailedToStart(_ message: String) -> [Action] {
        guard case .starting = phase else { return [] }
        phase = .finished
        return [.sendStatus(KubernetesStatus.failure(message))]
    }

    /// The command's stdin pipe is open (`opened`) or could not be opened.
    mutating func stdinOpened(_ opened: Bool) -> [Action] {
        switch stdin {
        case .waiting(let held, let ended) where opened:
            stdin = ended ? .ended : .open
            return held.map { Action.writeStdin($0) } + (ended ? [.closeStdin] : [])
        case .waiting:
            stdin = .ended
            return []
        case .open:
            return []
        case .ended:
            // The session ended while the pipe was being opened.
            return opened ? [.closeStdin] : []
        }
    }

    mutating func outputEnded() -> [Action] {
        guard case .running(let open, let exitCode) = phase else { return [] }
        phase = .running(openOutputs: open - 1, exitCode: exitCode)
        return finishIfDone()
    }

    mutating func commandExited(_ code: Int32) -> [Action] {
        guard case .running(let open, _) = phase else { return [.cleanUpCommand] }
        phase = .running(openOutputs: open, exitCode: code)
        return [.cleanUpCommand] + finishIfDone()
    }

    // MARK: - Client events

    mutating func stdinReceived(_ payload: ByteBuffer) -> [Action] {
        switch stdin {
        case .waiting(var held, ended: false):
            held.append(payload)
            stdin = .waiting(held: held, ended: false)
            return []
        case .open:
            return [.writeStdin(payload)]
        case .waiting, .ended:
            return []
        }
    }

    /// The client ended its stdin. A terminal has no end of input of its own: the client's end
    /// of input is typed as the terminal's EOF character (^D), as a person at the terminal
    /// would, and an open terminal stays open.
    mutating func stdinEnded() -> [Action] {
        let endOfTransmission = ByteBuffer(bytes: [0x04])
        switch stdin {
        case .waiting(var held, ended: false):
            if request.tty { held.append(endOfTransmission) }
            stdin = .waiting(held: held, ended: true)
            return []
        case .open:
            stdin = .ended
            return request.tty ? [.writeStdin(endOfTransmission)] : [.closeStdin]
        case .waiting, .ended:
            return []
        }
    }

    mutating func resize(columns: UInt16, rows: UInt16) -> [Action] {
        guard request.tty else { return [] }
        guard commandStarted else {
            pendingSize = (columns, rows)
            return []
        }
        return [.resizeTerminal(columns: columns, rows: rows)]
    }

    /// The client went away first: the command goes, nothing else.
    mutating func clientGone() -> [Action] {
        guard !isFinished else { return [] }
        phase = .finished
        stdin = .ended
        return (commandStarted ? [.killCommand] : []) + [.closeStdin, .logClientGone]
    }

    private mutating func finishIfDone() -> [Action] {
        guard case .running(let open, let exitCode?) = phase, open <= 0 else { return [] }
        phase = .finished
        stdin = .ended
        return [.closeStdin, .sendStatus(KubernetesStatus.exited(exitCode, command: request.command))]
    }
}
