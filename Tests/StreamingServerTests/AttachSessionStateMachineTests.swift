import NIOCore
import Testing

@testable import StreamingServer

/// An attach's life as events in, actions out.
@Suite struct AttachSessionStateMachineTests {
    typealias Machine = AttachSessionStateMachine

    static func machine(stdin: Bool = true) -> Machine {
        Machine(request: AttachStreamRequest(containerID: "c", tty: false, stdin: stdin, stdout: true, stderr: true))
    }

    static let input = ByteBuffer(string: "input")

    @Test func stdinAndItsEndWaitForTheConnectionThenOutputRunsUntilTheContainerExits() {
        var machine = Self.machine()
        #expect(machine.stdinReceived(Self.input) == [])
        #expect(machine.stdinReceived(ByteBuffer()) == [], "empty messages are dropped")
        #expect(machine.stdinEnded() == [])
        #expect(machine.resize(width: 80, height: 24) == [], "no terminal to resize yet")
        #expect(machine.connected() == [.sendStdin(Self.input), .endContainerStdin, .startReading])
        #expect(machine.readerStopped() == [.closeSocket, .stopReading, .sendStatus(KubernetesStatus.success())])
        #expect(machine.isFinished)
        #expect(machine.clientGone() == [.stopReading], "the client leaving afterwards changes nothing")
    }

    @Test func withoutStdinTheContainersInputEndsAtOnce() {
        var machine = Self.machine(stdin: false)
        #expect(machine.stdinReceived(Self.input) == [])
        #expect(machine.connected() == [.endContainerStdin, .startReading])
    }

    @Test func anAttachedSessionPassesStdinResizesAndTheEndOfStdinStraightOn() {
        var machine = Self.machine()
        _ = machine.connected()
        #expect(machine.stdinReceived(Self.input) == [.sendStdin(Self.input)])
        #expect(machine.resize(width: 80, height: 24) == [.resizeTerminal(width: 80, height: 24)])
        #expect(machine.stdinEnded() == [.endContainerStdin])
    }

    @Test func aMonitorThatCannotBeReachedFailsTheStream() {
        var machine = Self.machine()
        #expect(
            machine.connectionFailed("no attach socket") == [
                .stopReading, .sendStatus(KubernetesStatus.failure("no attach socket")),
            ]
        )
        #expect(machine.stdinReceived(Self.input) == [])
    }

    @Test func theClientLeavingOnlyDetaches() {
        var machine = Self.machine()
        _ = machine.connected()
        #expect(machine.clientGone() == [.logClientGone, .stopReading, .shutDownSocket])
        #expect(machine.readerStopped() == [.closeSocket], "no status: nobody is there to read it")
    }

    @Test func aConnectionMadeAfterTheClientLeftIsClosed() {
        var machine = Self.machine()
        #expect(machine.clientGone() == [.logClientGone, .stopReading])
        #expect(machine.connected() == [.closeSocket])
    }
}
