import ArgumentParser
import DaemonConfig
import Logging
import SkiffDaemon

#if canImport(Glibc)
import Glibc
#endif

/// skiffd: the Skiff CRI daemon.
@main
struct Skiffd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skiffd",
        abstract: "Skiff, a Kubernetes container runtime: serves the CRI on a unix socket."
    )

    @Option(
        name: .long,
        help: "Configuration file (default \(ConfigLoader.defaultPath); missing default file means built-in defaults)."
    )
    var config: String?

    @Option(name: .long, help: "Log level, overriding log_level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: LogLevelName?

    @Option(name: .long, help: "Log format, overriding log_format: text or json.")
    var logFormat: DaemonConfiguration.LogFormat?

    func run() async throws {
        let configuration: DaemonConfiguration
        do {
            configuration = try ConfigLoader.load(path: config)
        } catch {
            fail("invalid configuration: \(error)")
        }
        guard geteuid() == 0 else { fail("skiffd must run as root: it mounts, creates namespaces and cgroups") }
        // A peer closing a pipe or socket must fail that write with EPIPE, not end the daemon.
        signal(SIGPIPE, SIG_IGN)

        let level = Logger.Level(rawValue: (logLevel?.rawValue) ?? configuration.logLevel) ?? .info
        let format = logFormat ?? configuration.logFormat
        LoggingSystem.bootstrap { label in LogOutput(label: label, level: level, format: format) }
        let logger = Logger(label: "skiffd")

        let source = config ?? (access(ConfigLoader.defaultPath, F_OK) == 0 ? ConfigLoader.defaultPath : "defaults")
        do {
            try await Daemon(configuration: configuration, configSource: source, logger: logger).run()
        } catch {
            logger.critical("skiffd cannot run", metadata: ["error": "\(error)"])
            terminate(1)
        }
    }

    private func fail(_ message: String) -> Never {
        let line = "skiffd: \(message)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        terminate(1)
    }
}

extension LogLevelName: ExpressibleByArgument {}
extension DaemonConfiguration.LogFormat: ExpressibleByArgument {}

/// Ends the process with `code`.
func terminate(_ code: Int32) -> Never { Glibc.exit(code) }
