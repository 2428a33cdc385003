import Testing

@testable import DaemonConfig

@Suite struct DurationTextTests {
    @Test(arguments: [
        ("0", Duration.zero), ("500ms", .milliseconds(500)), ("30s", .seconds(30)), ("5m", .seconds(300)),
        ("1h30m", .seconds(5400)), ("4h", .seconds(14400)), ("1.5s", .milliseconds(1500)),
    ])
    func parses(text: String, expected: Duration) {
        #expect(DurationText.parse(text) == expected)
    }

    @Test(arguments: ["", "5", "-1s", "1d", "s", "1h 2m", "1e3s"])
    func refuses(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test(arguments: [Duration.seconds(14400), .seconds(90), .seconds(120), .milliseconds(250), .zero])
    func formatsRoundTrip(duration: Duration) {
        #expect(DurationText.parse(DurationText.format(duration)) == duration)
    }
}
