import NIOCore
import Testing

@testable import StreamingServer

/// The port-forward protocol as events in, actions out; pod connections are plain strings.
@Suite struct PortForwardStateMachineTests {
    typealias Machine = PortForwardStateMachine<String>
    typealias Headers = Machine.StreamHeaders

    static let first = Machine.ForwardID(number: 1)
    static let second = Machine.ForwardID(number: 2)

    static func machine(ports: [UInt16] = []) -> Machine {
        Machine(request: PortForwardStreamRequest(podSandboxID: "pod", ports: ports))
    }

    static func error(_ requestID: String, port: String? = "80") -> Headers {
        Headers(streamType: "error", requestID: requestID, port: port)
    }

    static func data(_ requestID: String, port: String? = "80") -> Headers {
        Headers(streamType: "data", requestID: requestID, port: port)
    }

    static func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// A machine with request "0" paired on streams 1 (error) and 3 (data) and connected to "pod".
    static func connected(ports: [UInt16] = []) -> Machine {
        var machine = machine(ports: ports)
        _ = machine.streamOpened(1, headers: error("0"), fin: false)
        _ = machine.streamOpened(3, headers: data("0"), fin: false)
        _ = machine.podConnected(first, "pod")
        return machine
    }

    @Test func anErrorStreamThenItsDataStreamConnectToThePod() {
        var machine = Self.machine()
        #expect(
            machine.streamOpened(1, headers: Self.error("0"), fin: false) == [
                .acceptStream(1), .startPairTimer(Self.first),
            ]
        )
        #expect(
            machine.streamOpened(3, headers: Self.data("0"), fin: false) == [
                .acceptStream(3), .cancelPairTimer(Self.first), .connectToPod(Self.first, port: 80),
            ]
        )
        #expect(machine.podConnected(Self.first, "pod") == [])
        #expect(
            machine.dataReceived(3, payload: Self.bytes("GET /"), fin: false) == [
                .writeToPod("pod", Self.bytes("GET /"), streamID: 3)
            ]
        )
        #expect(
            machine.podDataReceived(Self.first, Self.bytes("200"), from: "pod") == [
                .sendToClient(streamID: 3, Self.bytes("200"), from: "pod")
            ]
        )
    }

    @Test func aDataStreamBeforeItsErrorStreamPairsAsWell() {
        var machine = Self.machine()
        #expect(machine.streamOpened(3, headers: Self.data("0"), fin: false).contains(.acceptStream(3)))
        #expect(
            machine.streamOpened(1, headers: Self.error("0"), fin: false).last == .connectToPod(Self.first, port: 80)
        )
    }

    @Test func clientDataBeforeThePodConnectionWaitsAndTheClientsFinFollowsIt() {
        var machine = Self.machine()
        _ = machine.streamOpened(1, headers: Self.error("0"), fin: false)
        _ = machine.streamOpened(3, headers: Self.data("0"), fin: false)
        #expect(machine.dataReceived(3, payload: Self.bytes("a"), fin: false) == [])
        #expect(machine.dataReceived(3, payload: Self.bytes("b"), fin: true) == [])
        #expect(
            machine.podConnected(Self.first, "pod") == [
                .writeToPod("pod", Self.bytes("a"), streamID: 3), .writeToPod("pod", Self.bytes("b"), streamID: 3),
                .shutDownPodOutput("pod"),
            ]
        )
    }

    @Test func dataOnTheErrorStreamOrAnUnknownStreamIsDropped() {
        var machine = Self.connected()
        #expect(machine.dataReceived(1, payload: Self.bytes("x"), fin: false) == [])
        #expect(machine.dataReceived(99, payload: Self.bytes("x"), fin: true) == [])
    }

    @Test func aPortTheRequestDidNotNameFailsOnTheErrorStream() {
        var machine = Self.machine(ports: [8080, 9090])
        _ = machine.streamOpened(1, headers: Self.error("7", port: "22"), fin: false)
        let message = "port 22 was not named in the PortForward request (8080, 9090)"
        #expect(
            machine.streamOpened(3, headers: Self.data("7", port: "22"), fin: false) == [
                .acceptStream(3), .cancelPairTimer(Self.first), .logFailure(message),
                .sendError(streamID: 1, message), .sendFin(streamID: 3), .sendFin(streamID: 1),
            ]
        )
        // Forgotten: its streams carry nothing more, and the request ID can start again.
        #expect(machine.dataReceived(3, payload: Self.bytes("x"), fin: false) == [])
        #expect(machine.streamOpened(5, headers: Self.error("7", port: "8080"), fin: false).first == .acceptStream(5))
    }

    @Test func aPortHeaderThatIsNoPortFails() {
        for header in ["http", "0", "65536", nil] as [String?] {
            var machine = Self.machine()
            _ = machine.streamOpened(1, headers: Self.error("0", port: header), fin: false)
            let actions = machine.streamOpened(3, headers: Self.data("0", port: header), fin: false)
            let message = "invalid port header \"\(header ?? "")\": a port number 1-65535 is needed"
            #expect(actions.contains(.sendError(streamID: 1, message)), "port header \(header ?? "missing")")
        }
    }

    @Test func aSecondStreamOfTheSameTypeOrForAStartedRequestIsReset() {
        var machine = Self.machine()
        _ = machine.streamOpened(1, headers: Self.error("0"), fin: false)
        #expect(machine.streamOpened(3, headers: Self.error("0"), fin: false).map(\.isReset) == [true])
        _ = machine.streamOpened(5, headers: Self.data("0"), fin: false)
        #expect(machine.streamOpened(7, headers: Self.data("0"), fin: false).map(\.isReset) == [true])
        #expect(machine.streamOpened(9, headers: Self.error("0"), fin: false).map(\.isReset) == [true])
    }

    @Test func streamsWithoutARequestIDOrOfAnotherTypeAreReset() {
        var machine = Self.machine()
        #expect(
            machine.streamOpened(1, headers: Headers(streamType: "data", port: "80"), fin: false).map(\.isReset) == [
                true
            ]
        )
        #expect(
            machine.streamOpened(3, headers: Self.data("0").with(type: "stdout"), fin: false).map(\.isReset) == [true]
        )
        #expect(machine.streamOpened(5, headers: Headers(), fin: false).map(\.isReset) == [true])
    }

    @Test func aPairWhoseSecondStreamNeverComesTimesOut() {
        var machine = Self.machine()
        _ = machine.streamOpened(1, headers: Self.error("4"), fin: false)
        let message = "timed out waiting for the other stream of request 4"
        #expect(
            machine.pairTimedOut(Self.first) == [
                .cancelPairTimer(Self.first), .logFailure(message), .sendError(streamID: 1, message),
                .sendFin(streamID: 1),
            ]
        )
        #expect(machine.pairTimedOut(Self.first) == [], "a timeout fires once")
    }

    @Test func aTimeoutForAPairThatCompletedIsIgnored() {
        var machine = Self.connected()
        #expect(machine.pairTimedOut(Self.first) == [])
    }

    @Test func theClientResettingTheDataStreamClosesThePodConnection() {
        var machine = Self.connected()
        #expect(
            machine.streamReset(3) == [.closePodConnection("pod"), .sendFin(streamID: 3), .sendFin(streamID: 1)]
        )
        #expect(machine.podConnectionClosed(Self.first) == [.setClientReading(true)])
        #expect(machine.podDataReceived(Self.first, Self.bytes("late"), from: "pod") == [])
    }

    @Test func theClientResettingTheErrorStreamOnlyStopsItsFin() {
        var machine = Self.connected()
        #expect(machine.streamReset(1) == [])
        #expect(machine.podOutputEnded(Self.first) == [.sendFin(streamID: 3)])
    }

    @Test func thePodConnectionFailingIsWrittenOnTheErrorStream() {
        var machine = Self.machine()
        _ = machine.streamOpened(1, headers: Self.error("0", port: "9"), fin: false)
        _ = machine.streamOpened(3, headers: Self.data("0", port: "9"), fin: false)
        let message = "error forwarding port 9 to pod pod: Connection refused"
        #expect(
            machine.podConnectionFailed(Self.first, port: 9, reason: "Connection refused") == [
                .logFailure(message), .sendError(streamID: 1, message), .sendFin(streamID: 3), .sendFin(streamID: 1),
            ]
        )
        #expect(machine.podConnected(Self.first, "late") == [.closePodConnection("late")])
    }

    @Test func thePodEndingItsOutputFinishesBothStreamsAndBothEndsCloseIt() {
        var machine = Self.connected()
        #expect(machine.podOutputEnded(Self.first) == [.sendFin(streamID: 3), .sendFin(streamID: 1)])
        #expect(machine.podDataReceived(Self.first, Self.bytes("after FIN"), from: "pod") == [])
        #expect(
            machine.dataReceived(3, payload: Self.bytes("last"), fin: true) == [
                .writeToPod("pod", Self.bytes("last"), streamID: 3), .shutDownPodOutput("pod"),
                .closePodConnection("pod"),
            ]
        )
    }

    @Test func theClientsFinThenThePodsEndCloseThePodConnection() {
        var machine = Self.connected()
        #expect(machine.dataReceived(3, payload: ByteBuffer(), fin: true) == [.shutDownPodOutput("pod")])
        #expect(
            machine.podOutputEnded(Self.first) == [
                .sendFin(streamID: 3), .sendFin(streamID: 1), .closePodConnection("pod"),
            ]
        )
        #expect(machine.podConnectionClosed(Self.first) == [.setClientReading(true)])
    }

    @Test func theClientClosingWhileDataIsInFlightDropsItAndClosesEveryPodConnection() {
        var machine = Self.connected()
        _ = machine.streamOpened(5, headers: Self.error("1"), fin: false)
        _ = machine.streamOpened(7, headers: Self.data("1"), fin: false)
        _ = machine.dataReceived(7, payload: Self.bytes("waiting for the pod"), fin: false)
        _ = machine.streamOpened(9, headers: Self.error("2"), fin: false)
        let third = Machine.ForwardID(number: 3)
        #expect(machine.clientClosed() == [.closePodConnection("pod"), .cancelPairTimer(third)])
        #expect(machine.podConnected(Self.second, "pod-1") == [.closePodConnection("pod-1")])
        #expect(machine.pairTimedOut(third) == [])
        #expect(machine.podConnectionClosed(Self.first) == [.setClientReading(true)])
    }

    @Test func fullPodConnectionsStopReadingTheClientAndAFullClientStopsThePods() {
        var machine = Self.connected()
        _ = machine.streamOpened(5, headers: Self.error("1"), fin: false)
        _ = machine.streamOpened(7, headers: Self.data("1"), fin: false)
        _ = machine.podConnected(Self.second, "pod-1")
        #expect(machine.podWritabilityChanged(Self.first, writable: false) == [.setClientReading(false)])
        #expect(machine.podWritabilityChanged(Self.second, writable: false) == [.setClientReading(false)])
        #expect(machine.podWritabilityChanged(Self.first, writable: true) == [.setClientReading(false)])
        #expect(machine.podConnectionClosed(Self.second).first == .setClientReading(true))
        #expect(machine.clientWritabilityChanged(false) == [.setPodReading(["pod"], false)])
    }

    @Test func unreadableHeadersOrFramesEndTheConnectionNamingTheLastStream() {
        var machine = Self.connected()
        #expect(machine.streamHeadersUnreadable(11) == [.sendGoAwayAndClose(lastGoodStreamID: 11)])
        #expect(Self.machine().protocolError() == [.sendGoAwayAndClose(lastGoodStreamID: 0)])
    }
}

extension PortForwardStateMachine.Action {
    var isReset: Bool {
        if case .resetStream = self { true } else { false }
    }
}

extension PortForwardStateMachine.StreamHeaders {
    func with(type: String) -> Self {
        var headers = self
        headers.streamType = type
        return headers
    }
}
