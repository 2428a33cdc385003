import NIOCore
import Testing

@testable import StreamingServer

/// An exec's life as events in, actions out.
@Suite struct ExecSessionStateMachineTests {
    typealias Machine = ExecSessionStateMachine

    static func machine(tty: Bool = false, stdin: Bool = true) -> Machine {
        let request = ExecStreamRequest(
            containerID: "c",
            command: ["sh"],
            tty: tty,
            stdin: stdin,
            stdout: true,
            stderr: !tty
        )
        return Machine(request: request)
    }

    static let input = ByteBuffer(string: "input")
    static let endOfTransmission = ByteBuffer(bytes: [0x04])

    @Test func theStatusWaitsForTheExitAndEveryOutputToEnd() {
        var machine = Self.machine()
        #expect(machine.commandStarted(outputs: 2) == [.connectCommand])
        #expect(machine.outputEnded() == [])
        #expect(machine.commandExited(3) == [.cleanUpCommand])
        #expect(
            machine.outputEnded() == [.closeStdin, .sendStatus(KubernetesStatus.exited(3, command: ["sh"]))]
        )
        #expect(machine.isFinished)
        #expect(machine.clientGone() == [], "the client leaving after the status kills nothing")
    }

    @Test func outputsThatEndBeforeTheExitWaitForIt() {
        var machine = Self.machine()
        _ = machine.commandStarted(outputs: 1)
        #expect(machine.outputEnded() == [])
        #expect(machine.commandExited(0) == [.cleanUpCommand, .closeStdin, .sendStatus(KubernetesStatus.success())])
    }

    @Test func aCommandThatCannotStartFailsOnce() {
        var machine = Self.machine()
        let status = KubernetesStatus.failure("no such container")
        #expect(machine.commandFailedToStart("no such container") == [.sendStatus(status)])
        #expect(machine.commandFailedToStart("again") == [])
        #expect(machine.clientGone() == [])
    }

    @Test func stdinBeforeThePipeIsOpenWaitsWithItsEnd() {
        var machine = Self.machine()
        _ = machine.commandStarted(outputs: 2)
        #expect(machine.stdinReceived(Self.input) == [])
        #expect(machine.stdinEnded() == [])
        #expect(machine.stdinReceived(Self.input) == [], "nothing after the end")
        #expect(machine.stdinOpened(true) == [.writeStdin(Self.input), .closeStdin])
    }

    @Test func stdinOnAnOpenPipeGoesStraightThroughAndItsEndClosesIt() {
        var machine = Self.machine()
        _ = machine.commandStarted(outputs: 2)
        #expect(machine.stdinOpened(true) == [])
        #expect(machine.stdinReceived(Self.input) == [.writeStdin(Self.input)])
        #expect(machine.stdinEnded() == [.closeStdin])
        #expect(machine.stdinEnded() == [])
    }

    @Test func onATerminalTheEndOfStdinIsTypedAsControlD() {
        var open = Self.machine(tty: true)
        _ = open.commandStarted(outputs: 1)
        _ = open.stdinOpened(true)
        #expect(open.stdinEnded() == [.writeStdin(Self.endOfTransmission)])
        #expect(open.stdinReceived(Self.input) == [])
        var waiting = Self.machine(tty: true)
        #expect(waiting.stdinEnded() == [])
        #expect(waiting.stdinOpened(true) == [.writeStdin(Self.endOfTransmission), .closeStdin])
    }

    @Test func stdinIsDroppedWhenNotAskedForOrWhenItsPipeFails() {
        var without = Self.machine(stdin: false)
        #expect(without.stdinReceived(Self.input) == [])
        var failing = Self.machine()
        #expect(failing.stdinOpened(false) == [])
        #expect(failing.stdinReceived(Self.input) == [])
    }

    @Test func aResizeBeforeTheStartIsAppliedOnStartAndOnlyOnATerminal() {
        var terminal = Self.machine(tty: true)
        #expect(terminal.resize(columns: 80, rows: 24) == [])
        #expect(terminal.commandStarted(outputs: 1) == [.resizeTerminal(columns: 80, rows: 24), .connectCommand])
        #expect(terminal.resize(columns: 100, rows: 30) == [.resizeTerminal(columns: 100, rows: 30)])
        var plain = Self.machine()
        _ = plain.commandStarted(outputs: 2)
        #expect(plain.resize(columns: 80, rows: 24) == [])
    }

    @Test func theClientLeavingKillsTheRunningCommandAndNothingGoesOut() {
        var machine = Self.machine()
        _ = machine.commandStarted(outputs: 2)
        #expect(machine.clientGone() == [.killCommand, .closeStdin, .logClientGone])
        #expect(machine.commandExited(137) == [.cleanUpCommand])
        #expect(machine.outputEnded() == [])
        #expect(machine.stdinOpened(true) == [.closeStdin], "a pipe opened too late is closed")
    }

    @Test func aCommandThatStartsAfterTheClientLeftIsKilledAndReaped() {
        var machine = Self.machine()
        #expect(machine.clientGone() == [.closeStdin, .logClientGone])
        #expect(machine.commandStarted(outputs: 2) == [.killAndReapLateCommand])
    }
}
