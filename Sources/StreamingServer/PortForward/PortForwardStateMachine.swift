import NIOCore

/// The `portforward.k8s.io` protocol of one client connection, without any I/O: events go in
/// (streams opened, data, resets, the pod connection's progress, timeouts), the actions the
/// `PortForwardHandler` must perform come out, in order. Everything the protocol remembers is
/// here, so every edge case can be tested as events in, actions out.
///
/// Each forwarded connection (a `requestID`) gets an `error` and a `data` stream; once both exist
/// the port is checked and the pod connected; bytes are relayed until both sides are done; the
/// pod's end of output is a FIN on the data stream and then on the error stream; a failure is
/// written on the error stream as text before its FIN.
///
/// Generic over the pod connection (a NIO `Channel` in skiffd) so that tests use plain values.
struct PortForwardStateMachine<PodConnection: Equatable> {
    /// Names one forwarded connection for the whole of its life, unlike its request ID, which a
    /// client may reuse once the connection has ended: what async work (a pod connection being
    /// made, a timer) reports back with.
    struct ForwardID: Hashable, Comparable {
        var number: UInt64
        static func < (lhs: ForwardID, rhs: ForwardID) -> Bool { lhs.number < rhs.number }
    }

    enum Action: Equatable {
        /// Answer the client's new stream (SYN_REPLY).
        case acceptStream(UInt32)
        /// Refuse the client's new stream (RST_STREAM, protocol error); `reason` is for the log.
        case resetStream(UInt32, reason: String)
        case startPairTimer(ForwardID)
        case cancelPairTimer(ForwardID)
        /// Connect to `port` in the pod, then report `podConnected` or `podConnectionFailed`.
        case connectToPod(ForwardID, port: UInt16)
        /// Write the client's bytes to the pod, and give the window back once they are written.
        case writeToPod(PodConnection, ByteBuffer, streamID: UInt32)
        /// The client sends no more: the pod sees EOF once what was written has gone out.
        case shutDownPodOutput(PodConnection)
        case closePodConnection(PodConnection)
        /// Relay the pod's bytes on the data stream.
        case sendToClient(streamID: UInt32, ByteBuffer, from: PodConnection)
        /// Write a failure's text on the error stream.
        case sendError(streamID: UInt32, String)
        case logFailure(String)
        case sendFin(streamID: UInt32)
        /// Read (or stop reading) the pods: the client's connection can (cannot) take more.
        case setPodReading([PodConnection], Bool)
        /// Read (or stop reading) the client: no (some) pod connection is full.
        case setClientReading(Bool)
        /// A frame that cannot be read: GOAWAY (protocol error), then the connection closes.
        case sendGoAwayAndClose(lastGoodStreamID: UInt32)
    }

    /// What the client's stream headers say, once the handler has inflated them.
    struct StreamHeaders: Equatable {
        var streamType: String?
        var requestID: String?
        var port: String?
    }

    private enum Phase {
        /// Waiting for the other stream of the pair; client data waits too.
        case pairing(pending: [(ByteBuffer, streamID: UInt32)])
        /// Both streams are there and the port is valid: the pod connection is being made.
        case connecting(pending: [(ByteBuffer, streamID: UInt32)])
        case connected(PodConnection)
        /// The pod connection has closed; the forward is about to be forgotten.
        case podGone
    }

    private struct Forward {
        let requestID: String
        var dataStream: UInt32?
        var errorStream: UInt32?
        var portHeader: String?
        var phase = Phase.pairing(pending: [])
        /// The client sent FIN on the data stream or reset it.
        var clientFinished = false
        /// The pod ended its output.
        var podFinished = false
        var dataFinSent = false
        var errorFinSent = false

        var pod: PodConnection? {
            if case .connected(let pod) = phase { pod } else { nil }
        }
    }

    let request: PortForwardStreamRequest
    private var forwards: [ForwardID: Forward] = [:]
    private var forwardOfRequest: [String: ForwardID] = [:]
    private var forwardOfStream: [UInt32: ForwardID] = [:]
    private var nextForward: UInt64 = 0
    private var lastStreamID: UInt32 = 0
    /// Forwards whose pod connection cannot take more: the client is not read while any exist.
    private var fullPods = Set<ForwardID>()

    init(request: PortForwardStreamRequest) {
        self.request = request
    }

    // MARK: - Client events

    /// A SYN_STREAM whose headers could be read.
    mutating func streamOpened(_ streamID: UInt32, headers: StreamHeaders, fin: Bool) -> [Action] {
        lastStreamID = max(lastStreamID, streamID)
        let type = headers.streamType ?? ""
        guard type == "data" || type == "error", let requestID = headers.requestID else {
            let reason = "stream type \"\(type)\", request ID \(headers.requestID ?? "missing")"
            return [.resetStream(streamID, reason: reason)]
        }
        let id = forwardOfRequest[requestID] ?? newForward()
        var forward = forwards[id] ?? Forward(requestID: requestID)
        guard case .pairing = forward.phase, (type == "data" ? forward.dataStream : forward.errorStream) == nil else {
            return [.resetStream(streamID, reason: "a second \(type) stream for request \(requestID)")]
        }
        forwardOfRequest[requestID] = id
        forwardOfStream[streamID] = id
        if type == "data" { forward.dataStream = streamID } else { forward.errorStream = streamID }
        if let port = headers.port { forward.portHeader = port }
        if type == "data" && fin { forward.clientFinished = true }
        let paired = forward.dataStream != nil && forward.errorStream != nil
        forwards[id] = forward
        let next: [Action] = paired ? start(id) : [.startPairTimer(id)]
        return [.acceptStream(streamID)] + next
    }

    /// A SYN_STREAM whose header block cannot be inflated: the header stream is broken for good.
    mutating func streamHeadersUnreadable(_ streamID: UInt32) -> [Action] {
        lastStreamID = max(lastStreamID, streamID)
        return protocolError()
    }

    /// A frame that cannot be parsed.
    func protocolError() -> [Action] {
        [.sendGoAwayAndClose(lastGoodStreamID: lastStreamID)]
    }

    mutating func dataReceived(_ streamID: UInt32, payload: ByteBuffer, fin: Bool) -> [Action] {
        guard let id = forwardOfStream[streamID], var forward = forwards[id], streamID == forward.dataStream else {
            return []
        }
        var actions: [Action] = []
        if payload.readableBytes > 0 {
            switch forward.phase {
            case .pairing(var pending):
                pending.append((payload, streamID))
                forward.phase = .pairing(pending: pending)
            case .connecting(var pending):
                pending.append((payload, streamID))
                forward.phase = .connecting(pending: pending)
            case .connected(let pod):
                actions.append(.writeToPod(pod, payload, streamID: streamID))
            case .podGone:
                break
            }
        }
        if fin {
            forward.clientFinished = true
            if let pod = forward.pod { actions += shutDownOutput(of: forward, pod) }
        }
        forwards[id] = forward
        return actions
    }

    mutating func streamReset(_ streamID: UInt32) -> [Action] {
        guard let id = forwardOfStream[streamID], var forward = forwards[id] else { return [] }
        guard streamID == forward.dataStream else {
            // The client will read nothing more on the error stream.
            forward.errorFinSent = true
            forwards[id] = forward
            return []
        }
        // client-go resets the data stream once it has read the pod's side to its end (or gave
        // up): the pod connection goes; the error stream still gets its FIN.
        forward.clientFinished = true
        forwards[id] = forward
        var actions: [Action] = forward.pod.map { [.closePodConnection($0)] } ?? []
        actions += end(id, error: nil, podClosing: true)
        return actions
    }

    /// The client's connection closed: every pod connection goes, whatever is still in flight.
    mutating func clientClosed() -> [Action] {
        var actions: [Action] = []
        for (id, forward) in forwards.sorted(by: { $0.key < $1.key }) {
            if case .pairing = forward.phase { actions.append(.cancelPairTimer(id)) }
            if let pod = forward.pod { actions.append(.closePodConnection(pod)) }
        }
        forwards = [:]
        forwardOfRequest = [:]
        forwardOfStream = [:]
        fullPods = []
        return actions
    }

    mutating func clientWritabilityChanged(_ writable: Bool) -> [Action] {
        let pods = forwards.sorted { $0.key < $1.key }.compactMap { $0.value.pod }
        return pods.isEmpty ? [] : [.setPodReading(pods, writable)]
    }

    // MARK: - Timer and pod events

    mutating func pairTimedOut(_ id: ForwardID) -> [Action] {
        guard let forward = forwards[id], case .pairing = forward.phase else { return [] }
        return end(id, error: "timed out waiting for the other stream of request \(forward.requestID)")
    }

    mutating func podConnected(_ id: ForwardID, _ pod: PodConnection) -> [Action] {
        guard var forward = forwards[id], case .connecting(let pending) = forward.phase else {
            // Given up on while the connection was being made.
            return [.closePodConnection(pod)]
        }
        forward.phase = .connected(pod)
        forwards[id] = forward
        var actions = pending.map { Action.writeToPod(pod, $0.0, streamID: $0.streamID) }
        if forward.clientFinished { actions += shutDownOutput(of: forward, pod) }
        return actions
    }

    mutating func podConnectionFailed(_ id: ForwardID, port: UInt16, reason: String) -> [Action] {
        guard forwards[id] != nil else { return [] }
        return end(id, error: "error forwarding port \(port) to pod \(request.podSandboxID): \(reason)")
    }

    /// The pod's bytes, relayed while the data stream is open (`pod` is paused when the client is full).
    mutating func podDataReceived(_ id: ForwardID, _ buffer: ByteBuffer, from pod: PodConnection) -> [Action] {
        guard let forward = forwards[id], let stream = forward.dataStream, !forward.dataFinSent else { return [] }
        return [.sendToClient(streamID: stream, buffer, from: pod)]
    }

    /// The pod ended its output (its FIN).
    mutating func podOutputEnded(_ id: ForwardID) -> [Action] {
        guard var forward = forwards[id] else { return [] }
        forward.podFinished = true
        forwards[id] = forward
        let pod = forward.pod
        var actions = end(id, error: nil)
        if forward.clientFinished, let pod { actions.append(.closePodConnection(pod)) }
        return actions
    }

    mutating func podConnectionClosed(_ id: ForwardID) -> [Action] {
        fullPods.remove(id)
        var actions: [Action] = [.setClientReading(fullPods.isEmpty)]
        if var forward = forwards[id], forward.pod != nil {
            forward.phase = .podGone
            forwards[id] = forward
            actions += end(id, error: nil)
        }
        return actions
    }

    mutating func podWritabilityChanged(_ id: ForwardID, writable: Bool) -> [Action] {
        if writable { fullPods.remove(id) } else { fullPods.insert(id) }
        return [.setClientReading(fullPods.isEmpty)]
    }

    // MARK: - Steps

    private mutating func newForward() -> ForwardID {
        nextForward += 1
        return ForwardID(number: nextForward)
    }

    private mutating func start(_ id: ForwardID) -> [Action] {
        guard var forward = forwards[id], case .pairing(let pending) = forward.phase else { return [] }
        guard let text = forward.portHeader, let port = UInt16(text), port > 0 else {
            let header = forward.portHeader ?? ""
            return end(id, error: "invalid port header \"\(header)\": a port number 1-65535 is needed")
        }
        guard request.ports.isEmpty || request.ports.contains(port) else {
            let named = request.ports.map(String.init).joined(separator: ", ")
            return end(id, error: "port \(port) was not named in the PortForward request (\(named))")
        }
        forward.phase = .connecting(pending: pending)
        forwards[id] = forward
        return [.cancelPairTimer(id), .connectToPod(id, port: port)]
    }

    private func shutDownOutput(of forward: Forward, _ pod: PodConnection) -> [Action] {
        forward.podFinished ? [.shutDownPodOutput(pod), .closePodConnection(pod)] : [.shutDownPodOutput(pod)]
    }

    /// Finishes the client's view of a forwarded connection: the error text if any, then FIN on
    /// the data and error streams. The pod connection is closed on errors; otherwise the forward
    /// is kept until both sides are done (or the pod connection has closed). `podClosing`: the
    /// caller closes the pod connection itself.
    private mutating func end(_ id: ForwardID, error: String?, podClosing: Bool = false) -> [Action] {
        guard var forward = forwards[id] else { return [] }
        var actions: [Action] = []
        if case .pairing = forward.phase { actions.append(.cancelPairTimer(id)) }
        if let error {
            actions.append(.logFailure(error))
            if let pod = forward.pod, !podClosing { actions.append(.closePodConnection(pod)) }
            if let stream = forward.errorStream, !forward.errorFinSent {
                actions.append(.sendError(streamID: stream, error))
            }
        }
        if let stream = forward.dataStream, !forward.dataFinSent {
            forward.dataFinSent = true
            actions.append(.sendFin(streamID: stream))
        }
        if let stream = forward.errorStream, !forward.errorFinSent {
            forward.errorFinSent = true
            actions.append(.sendFin(streamID: stream))
        }
        forwards[id] = forward
        if error != nil || forward.pod == nil || (forward.clientFinished && forward.podFinished) { forget(id) }
        return actions
    }

    /// Whatever arrives for a forgotten forward is dropped; its request ID may be used again.
    private mutating func forget(_ id: ForwardID) {
        guard let forward = forwards.removeValue(forKey: id) else { return }
        if forwardOfRequest[forward.requestID] == id { forwardOfRequest[forward.requestID] = nil }
        if let stream = forward.dataStream { forwardOfStream[stream] = nil }
        if let stream = forward.errorStream { forwardOfStream[stream] = nil }
    }
}
