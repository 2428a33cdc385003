import ArgumentParser
import DaemonConfig

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print or validate skiffd's configuration.",
        subcommands: [Default.self, Docs.self, Validate.self]
    )

    struct Default: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the full default configuration file, every key explained."
        )
        func run() { print(ConfigRenderer.defaultFile(), terminator: "") }
    }

    struct Docs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the configuration reference (docs/config.md) as Markdown."
        )
        func run() { print(ConfigRenderer.markdown(), terminator: "") }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a configuration file as skiffd would at start."
        )
        @OptionGroup var file: ConfigFileOption
        func run() throws {
            _ = try file.load()
            print("\(file.config ?? ConfigLoader.defaultPath): ok")
        }
    }
}
