import DaemonConfig
import Logging
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// skiffd's log lines on standard error: `text` for people, `json` for collectors. Each line is
/// written with one write(2), so lines from concurrent tasks never interleave.
public struct LogOutput: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let format: DaemonConfiguration.LogFormat

    public init(label: String, level: Logger.Level, format: DaemonConfiguration.LogFormat) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let time = Self.timestamp()
        var line: String
        switch format {
        case .text:
            line = "\(time) \(event.level) \(event.message)"
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
                line += " \(key)=\(Self.quoteIfNeeded("\(value)"))"
            }
        case .json:
            line =
                "{\"time\":\(Self.json(time)),\"level\":\(Self.json(event.level.rawValue)),\"msg\":\(Self.json("\(event.message)"))"
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
                line += ",\(Self.json(key)):\(Self.json("\(value)"))"
            }
            line += "}"
        }
        line += "\n"
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(2, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }

    /// RFC 3339 UTC with milliseconds, without Foundation's formatters.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }

    static func quoteIfNeeded(_ text: String) -> String {
        text.isEmpty || text.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) ? json(text) : text
    }

    static func json(_ text: String) -> String { doubleQuotedLiteral(text) }
}
