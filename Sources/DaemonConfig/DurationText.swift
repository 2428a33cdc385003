/// Parses and prints durations the way Go and Kubernetes configuration writes them.
public enum DurationText {
    /// "500ms", "30s", "1m30s", "4h", "0"; nil for anything else (negative durations included).
    public static func parse(_ text: String) -> Duration? {
        if text == "0" { return .zero }
        var total = Duration.zero
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !digits.isEmpty, let amount = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1e-9
            case "us", "µs": scale = 1e-6
            case "ms": scale = 1e-3
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            default: return nil
            }
            let nanoseconds = amount * scale * 1e9
            guard nanoseconds.isFinite, nanoseconds < 1e18 else { return nil }
            total += .nanoseconds(Int64(nanoseconds.rounded()))
        }
        return total
    }

    /// The shortest text that parses back to `duration` ("4h", "90s", "250ms").
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let milliseconds = attoseconds / 1_000_000_000_000_000
        if milliseconds != 0 { return "\(seconds * 1000 + milliseconds)ms" }
        if seconds == 0 { return "0s" }
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}
