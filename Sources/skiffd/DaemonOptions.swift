import DaemonConfig

/// skiffd's command line: `--config FILE`, `--log-level LEVEL`, `--log-format FORMAT` (each also
/// as `--name=value`) and `--help`. Anything else is a usage error naming the argument.
struct DaemonOptions: Equatable {
    var config: String?
    var logLevel: LogLevelName?
    var logFormat: DaemonConfiguration.LogFormat?
    var help = false

    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    static let usage = """
        OVERVIEW: Skiff, a Kubernetes container runtime: serves the CRI on a unix socket.

        USAGE: skiffd [--config <config>] [--log-level <log-level>] [--log-format <log-format>]

        OPTIONS:
          --config <config>       Configuration file (default \(ConfigLoader.defaultPath); missing default file means built-in defaults).
          --log-level <log-level> Log level, overriding log_level: \(LogLevelName.allCases.map(\.rawValue).joined(separator: ", ")).
          --log-format <log-format>
                                  Log format, overriding log_format: text or json.
          -h, --help              Show help information.
        """

    init(arguments: [String]) throws(UsageError) {
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            if argument == "-h" || argument == "--help" {
                help = true
                continue
            }
            let (name, inline) = Self.split(argument)
            func value() throws(UsageError) -> String {
                if let inline { return inline }
                guard let next = remaining.popFirst(), !next.hasPrefix("--") else {
                    throw UsageError(description: "missing value for '\(name)'")
                }
                return next
            }
            switch name {
            case "--config":
                config = try value()
            case "--log-level":
                let text = try value()
                guard let level = LogLevelName(rawValue: text) else { throw Self.invalid(text, for: name) }
                logLevel = level
            case "--log-format":
                let text = try value()
                guard let format = DaemonConfiguration.LogFormat(rawValue: text) else {
                    throw Self.invalid(text, for: name)
                }
                logFormat = format
            default:
                throw UsageError(description: "unknown option '\(argument)'")
            }
        }
    }

    /// `--name=value` into its name and value; other arguments unchanged, without a value.
    private static func split(_ argument: String) -> (String, String?) {
        guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }

    private static func invalid(_ value: String, for name: String) -> UsageError {
        UsageError(description: "the value '\(value)' is invalid for '\(name)'")
    }
}
