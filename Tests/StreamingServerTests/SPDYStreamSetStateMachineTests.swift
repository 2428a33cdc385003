import NIOCore
import Testing

@testable import StreamingServer

/// The remotecommand stream set over SPDY as events in, actions out.
@Suite struct SPDYStreamSetStateMachineTests {
    typealias Machine = SPDYStreamSetStateMachine

    static func machine(stdin: Bool = true, stderr: Bool = true, plainTextErrors: Bool = false) -> Machine {
        Machine(needs: .init(stdin: stdin, stdout: true, stderr: stderr), plainTextErrors: plainTextErrors)
    }

    /// error 1, stdin 3, stdout 5, stderr 7: the session has started.
    static func running() -> Machine {
        var machine = machine()
        for (id, type) in [(1, "error"), (3, "stdin"), (5, "stdout"), (7, "stderr")] {
            _ = machine.streamOpened(UInt32(id), streamType: type, fin: false)
        }
        return machine
    }

    @Test func theSessionStartsOnceEveryNeededStreamIsThere() {
        var machine = Self.machine()
        #expect(machine.streamOpened(1, streamType: "error", fin: false) == [.acceptStream(1)])
        #expect(machine.streamOpened(3, streamType: "stdin", fin: false) == [.acceptStream(3)])
        #expect(machine.streamOpened(5, streamType: "stdout", fin: false) == [.acceptStream(5)])
        #expect(machine.stream(for: .stdout) == nil, "no output before the session")
        #expect(
            machine.streamOpened(7, streamType: "stderr", fin: false) == [
                .acceptStream(7), .cancelStreamWaitTimer, .startSession,
            ]
        )
        #expect(machine.stream(for: .stdout) == 5)
        #expect(machine.stream(for: .stderr) == 7)
        #expect(machine.streamOpened(9, streamType: "resize", fin: false) == [.acceptStream(9)])
    }

    @Test func aStreamTheRequestDoesNotNeedIsAcceptedButNotWaitedFor() {
        var machine = Self.machine(stdin: false, stderr: false)
        #expect(machine.streamOpened(1, streamType: "stderr", fin: false) == [.acceptStream(1)])
        #expect(machine.streamOpened(3, streamType: "error", fin: false) == [.acceptStream(3)])
        #expect(machine.streamOpened(5, streamType: "stdout", fin: false).contains(.startSession))
    }

    @Test func aSecondStreamOfTheSameTypeIsReset() {
        var machine = Self.running()
        #expect(machine.streamOpened(9, streamType: "stdout", fin: false) == [.resetStream(9)])
        #expect(machine.stream(for: .stdout) == 5)
    }

    @Test func stdinThatEndsBeforeTheSessionStartsEndsOnceItDoes() {
        var machine = Self.machine()
        _ = machine.streamOpened(1, streamType: "error", fin: false)
        #expect(machine.streamOpened(3, streamType: "stdin", fin: true) == [.acceptStream(3)])
        _ = machine.streamOpened(5, streamType: "stdout", fin: false)
        #expect(
            machine.streamOpened(7, streamType: "stderr", fin: false) == [
                .acceptStream(7), .cancelStreamWaitTimer, .startSession, .closeSessionStdin,
            ]
        )
    }

    @Test func stdinIsPassedOnAndAcknowledgedAndItsFinOrResetClosesIt() {
        var machine = Self.running()
        let payload = ByteBuffer(string: "input")
        #expect(
            machine.dataReceived(3, payload: payload, fin: true) == [
                .sendToSession(payload), .sendWindowUpdate(streamID: 3, delta: 5), .closeSessionStdin,
            ]
        )
        #expect(machine.streamReset(3) == [.closeSessionStdin])
        #expect(machine.streamReset(5) == [])
        #expect(machine.dataReceived(5, payload: payload, fin: false) == [], "data on an output stream")
    }

    @Test func stdinBeforeTheSessionIsAcknowledgedButDropped() {
        var machine = Self.machine()
        _ = machine.streamOpened(3, streamType: "stdin", fin: false)
        #expect(
            machine.dataReceived(3, payload: ByteBuffer(string: "x"), fin: false) == [
                .sendWindowUpdate(streamID: 3, delta: 1)
            ]
        )
    }

    @Test func resizesArePassedOnAndBadOnesIgnored() {
        var machine = Self.running()
        _ = machine.streamOpened(9, streamType: "resize", fin: false)
        let resize = ByteBuffer(string: #"{"Width":80,"Height":24}"#)
        #expect(
            machine.dataReceived(9, payload: resize, fin: false) == [
                .resizeSession(width: 80, height: 24), .sendWindowUpdate(streamID: 9, delta: 24),
            ]
        )
        #expect(machine.dataReceived(9, payload: ByteBuffer(string: #"{"Width":0}"#), fin: false) == [])
    }

    @Test func theSessionsEndSendsTheStatusAndFinishesEveryStreamOnce() {
        var machine = Self.running()
        let status = KubernetesStatus.exited(3, command: ["sh"])
        #expect(
            machine.sessionFinished(status: status) == [
                .finish(errorStream: 1, status: status, finStreams: [1, 3, 5, 7], lastGoodStreamID: 7)
            ]
        )
        #expect(machine.sessionFinished(status: status) == [])
        #expect(machine.stream(for: .stdout) == nil, "no output after the status")
        #expect(machine.clientClosed() == [.tellSessionClientGone])
    }

    @Test func olderVersionsGetTheStatusAsTextAndNothingOnSuccess() {
        var machine = Self.machine(stdin: false, stderr: false, plainTextErrors: true)
        _ = machine.streamOpened(1, streamType: "error", fin: false)
        _ = machine.streamOpened(3, streamType: "stdout", fin: false)
        #expect(
            machine.sessionFinished(status: KubernetesStatus.success()) == [
                .finish(errorStream: 1, status: [], finStreams: [1, 3], lastGoodStreamID: 3)
            ]
        )
    }

    @Test func aStreamSetStillIncompleteWhenTheWaitEndsFails() throws {
        var machine = Self.machine()
        _ = machine.streamOpened(1, streamType: "error", fin: false)
        _ = machine.streamOpened(3, streamType: "stdout", fin: false)
        let actions = machine.streamWaitTimedOut()
        let status = KubernetesStatus.failure("timed out waiting for the client to open the streams stderr, stdin")
        #expect(
            actions == [
                .cancelStreamWaitTimer,
                .finish(errorStream: 1, status: status, finStreams: [1, 3], lastGoodStreamID: 3),
            ]
        )
        #expect(machine.streamOpened(5, streamType: "stdin", fin: false) == [.acceptStream(5)], "too late to start")
    }

    @Test func theWaitEndingAfterTheSessionStartedChangesNothing() {
        var machine = Self.running()
        #expect(machine.streamWaitTimedOut() == [])
    }

    @Test func theClientLeavingBeforeOrAfterTheStart() {
        var waiting = Self.machine()
        #expect(waiting.clientWentAway() == [.cancelStreamWaitTimer, .close])
        var running = Self.running()
        #expect(running.clientWentAway() == [.tellSessionClientGone, .close])
        #expect(running.sessionFinished(status: KubernetesStatus.success()) == [], "nobody to tell")
    }

    @Test func anUnreadableFrameEndsTheConnection() {
        var machine = Self.running()
        #expect(machine.protocolError() == [.sendGoAwayAndClose(lastGoodStreamID: 7), .tellSessionClientGone])
        #expect(machine.streamHeadersUnreadable(9) == [.resetStream(9)])
    }
}
