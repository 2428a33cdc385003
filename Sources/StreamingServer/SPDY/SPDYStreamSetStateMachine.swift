import NIOCore

/// The remotecommand protocol over SPDY/3.1 of one exec or attach connection, without any I/O:
/// the client opens one stream per stream type (`streamtype`: error, stdin, stdout, stderr,
/// resize); once the streams the request needs are there the session starts; at its end the
/// status goes on the error stream, every stream gets a FIN and a GOAWAY precedes the close.
/// A client that has not opened the streams it needs within the wait gets a failure status.
/// `SPDYStreamHandler` feeds the events in and performs the actions that come out, in order.
struct SPDYStreamSetStateMachine {
    /// Which streams the session needs before it can start.
    struct Needs: Equatable {
        var stdin: Bool
        var stdout: Bool
        var stderr: Bool
    }

    enum Action: Equatable {
        /// Answer the client's new stream (SYN_REPLY).
        case acceptStream(UInt32)
        /// Refuse the client's new stream (RST_STREAM, protocol error).
        case resetStream(UInt32)
        case cancelStreamWaitTimer
        case startSession
        case sendToSession(ByteBuffer)
        case closeSessionStdin
        case resizeSession(width: UInt16, height: UInt16)
        /// The client went away first: the session ends its command (exec) or detaches (attach).
        case tellSessionClientGone
        /// Give the client's window back for what was consumed.
        case sendWindowUpdate(streamID: UInt32, delta: UInt32)
        /// The session's end: the status (if any) on the error stream, FIN on `finStreams`
        /// (ascending), GOAWAY, then the connection closes.
        case finish(errorStream: UInt32?, status: [UInt8], finStreams: [UInt32], lastGoodStreamID: UInt32)
        /// A frame that cannot be read: GOAWAY (protocol error), then the connection closes.
        case sendGoAwayAndClose(lastGoodStreamID: UInt32)
        case close
    }

    private enum State {
        /// Collecting streams; `stdinClosed`: the client ended stdin before the session started.
        case collecting(stdinClosed: Bool)
        case running
        /// The status has been sent (or the connection is gone): nothing more goes out.
        case finished
    }

    let needs: Needs
    /// remotecommand v2/v3: the error stream carries text, not a metav1.Status.
    let plainTextErrors: Bool
    private var state = State.collecting(stdinClosed: false)
    private var streams: [String: UInt32] = [:]

    init(needs: Needs, plainTextErrors: Bool) {
        self.needs = needs
        self.plainTextErrors = plainTextErrors
    }

    private var expectedStreams: Set<String> {
        var expected: Set<String> = ["error"]
        if needs.stdin { expected.insert("stdin") }
        if needs.stdout { expected.insert("stdout") }
        if needs.stderr { expected.insert("stderr") }
        return expected
    }

    private var lastStreamID: UInt32 { streams.values.max() ?? 0 }

    private var sessionStarted: Bool {
        if case .collecting = state { false } else { true }
    }

    /// The stream the session's output on `channel` goes out on; nil once finished or when the
    /// client did not open it.
    func stream(for channel: StreamChannel) -> UInt32? {
        guard case .running = state else { return nil }
        switch channel {
        case .stdout: return streams["stdout"]
        case .stderr: return streams["stderr"]
        case .error: return streams["error"]
        default: return nil
        }
    }

    // MARK: - Client events

    /// A SYN_STREAM whose headers could be read (`streamType` "" when it had none).
    mutating func streamOpened(_ streamID: UInt32, streamType: String, fin: Bool) -> [Action] {
        guard streams[streamType] == nil else {
            // One stream per type: a second would take the first one's output.
            return [.resetStream(streamID)]
        }
        streams[streamType] = streamID
        var actions: [Action] = [.acceptStream(streamID)]
        let stdinEnded = streamType == "stdin" && fin
        switch state {
        case .collecting(let stdinClosed):
            if expectedStreams.isSubset(of: Set(streams.keys)) {
                state = .running
                actions += [.cancelStreamWaitTimer, .startSession]
                // stdin that ended before the session existed ends once it does.
                if stdinClosed || stdinEnded { actions.append(.closeSessionStdin) }
            } else if stdinEnded {
                state = .collecting(stdinClosed: true)
            }
        case .running:
            if stdinEnded { actions.append(.closeSessionStdin) }
        case .finished:
            break
        }
        return actions
    }

    /// A SYN_STREAM whose header block cannot be inflated: that stream is refused.
    func streamHeadersUnreadable(_ streamID: UInt32) -> [Action] {
        [.resetStream(streamID)]
    }

    mutating func dataReceived(_ streamID: UInt32, payload: ByteBuffer, fin: Bool) -> [Action] {
        var actions: [Action] = []
        if streamID == streams["stdin"] {
            if payload.readableBytes > 0 {
                if case .running = state { actions.append(.sendToSession(payload)) }
                actions.append(.sendWindowUpdate(streamID: streamID, delta: UInt32(payload.readableBytes)))
            }
            if fin { actions += stdinEnded() }
        } else if streamID == streams["resize"], let size = TerminalSize(json: payload) {
            if case .running = state { actions.append(.resizeSession(width: size.width, height: size.height)) }
            actions.append(.sendWindowUpdate(streamID: streamID, delta: UInt32(payload.readableBytes)))
        }
        return actions
    }

    mutating func streamReset(_ streamID: UInt32) -> [Action] {
        streamID == streams["stdin"] ? stdinEnded() : []
    }

    /// The client's GOAWAY.
    mutating func clientWentAway() -> [Action] {
        clientGone() + [.close]
    }

    /// A frame that cannot be parsed.
    mutating func protocolError() -> [Action] {
        [.sendGoAwayAndClose(lastGoodStreamID: lastStreamID)] + clientGone()
    }

    /// The connection closed.
    mutating func clientClosed() -> [Action] {
        clientGone()
    }

    // MARK: - Session and timer events

    /// The session ended with `status` (metav1.Status JSON).
    mutating func sessionFinished(status: [UInt8]) -> [Action] {
        guard case .running = state else { return [] }
        return finish(status: status)
    }

    /// The wait for the stream set is over: a session that has not started never will.
    mutating func streamWaitTimedOut() -> [Action] {
        guard case .collecting = state else { return [] }
        let missing = expectedStreams.subtracting(streams.keys).sorted().joined(separator: ", ")
        let status = KubernetesStatus.failure("timed out waiting for the client to open the streams \(missing)")
        return [.cancelStreamWaitTimer] + finish(status: status)
    }

    // MARK: - Steps

    private mutating func stdinEnded() -> [Action] {
        switch state {
        case .collecting: state = .collecting(stdinClosed: true)
        case .running: return [.closeSessionStdin]
        case .finished: break
        }
        return []
    }

    private mutating func clientGone() -> [Action] {
        let started = sessionStarted
        state = .finished
        return started ? [.tellSessionClientGone] : [.cancelStreamWaitTimer]
    }

    private mutating func finish(status: [UInt8]) -> [Action] {
        state = .finished
        let payload = plainTextErrors ? KubernetesStatus.plainText(status) : status
        return [
            .finish(
                errorStream: streams["error"],
                status: payload,
                finStreams: streams.values.sorted(),
                lastGoodStreamID: lastStreamID
            )
        ]
    }
}
