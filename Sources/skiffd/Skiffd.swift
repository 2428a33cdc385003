import DaemonConfig
import Logging
import SkiffDaemon

#if canImport(Glibc)
import Glibc
#endif

/// skiffd: the Skiff CRI daemon. Its three options are read by `DaemonOptions`, not by
/// swift-argument-parser: an idle daemon keeps every page its start touched, and the parser's
/// code and metadata were 0.4 MiB of them (docs/performance.md).
@main
enum Skiffd {
    static func main() async {
        let options: DaemonOptions
        do {
            options = try DaemonOptions(arguments: Array(CommandLine.arguments.dropFirst()))
        } catch {
            fail("\(error.description)\n\(DaemonOptions.usage)", code: 64)
        }
        if options.help {
            print(DaemonOptions.usage)
            return
        }
        let configuration: DaemonConfiguration
        do {
            configuration = try ConfigLoader.load(path: options.config)
        } catch {
            fail("invalid configuration: \(error)")
        }
        guard geteuid() == 0 else { fail("skiffd must run as root: it mounts, creates namespaces and cgroups") }
        // A peer closing a pipe or socket must fail that write with EPIPE, not end the daemon.
        signal(SIGPIPE, SIG_IGN)

        let level = Logger.Level(rawValue: (options.logLevel?.rawValue) ?? configuration.logLevel) ?? .info
        let format = options.logFormat ?? configuration.logFormat
        LoggingSystem.bootstrap { label in LogOutput(label: label, level: level, format: format) }
        let logger = Logger(label: "skiffd")

        let source =
            options.config ?? (access(ConfigLoader.defaultPath, F_OK) == 0 ? ConfigLoader.defaultPath : "defaults")
        do {
            try await Daemon(configuration: configuration, configSource: source, logger: logger).run()
        } catch {
            logger.critical("skiffd cannot run", metadata: ["error": "\(error)"])
            terminate(1)
        }
    }

    private static func fail(_ message: String, code: Int32 = 1) -> Never {
        let line = "skiffd: \(message)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        terminate(code)
    }
}

/// Ends the process with `code`.
func terminate(_ code: Int32) -> Never { Glibc.exit(code) }
