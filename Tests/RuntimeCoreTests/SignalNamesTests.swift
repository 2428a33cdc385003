import Testing

@testable import RuntimeCore

/// Signal names as images and the CRI write them, and back.
@Suite struct SignalNamesTests {
    @Test(
        arguments: [
            ("SIGTERM", 15), ("TERM", 15), ("15", 15), ("sigusr1", 10), ("SIGWINCH", 28), ("SIGRTMIN", 34),
            ("SIGRTMIN+3", 37), ("RTMAX", 64), ("SIGRTMAX-1", 63), ("SIGPWR", 30), ("SIGCLD", 17),
        ] as [(String, Int32)]
    )
    func namesHaveTheirLinuxNumbers(name: String, number: Int32) {
        #expect(SignalNames.number(name) == number)
    }

    @Test(arguments: ["", "SIGNOPE", "0", "65", "SIGRTMIN+40", "SIGRTMIN3", "SIGRTMAX+1"])
    func whatIsNoSignalHasNoNumber(name: String) {
        #expect(SignalNames.number(name) == nil)
    }

    @Test func everyNumberNamesBackToItself() {
        for number in Int32(1)...64 where ![32, 33].contains(number) {
            let name = SignalNames.name(number)
            #expect(name != nil && SignalNames.number(name) == number, "\(number) → \(name ?? "nil")")
        }
        #expect(
            SignalNames.name(6) == "SIGABRT" && SignalNames.name(17) == "SIGCHLD" && SignalNames.name(29) == "SIGIO"
        )
        #expect(SignalNames.name(49) == "SIGRTMIN+15" && SignalNames.name(50) == "SIGRTMAX-14")
    }
}
