import ArgumentParser
import DaemonConfig

/// skiff: the node operator's tool for a Skiff node.
@main
struct Skiff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skiff",
        abstract: "Administer a Skiff node: configuration, node checks, the running daemon.",
        subcommands: [ConfigCommand.self, CheckCommand.self, VersionCommand.self, ImageCommand.self]
    )
}

/// Where the config file is, shared by the subcommands that read it.
struct ConfigFileOption: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default \(ConfigLoader.defaultPath)).")
    var config: String?

    func load() throws -> DaemonConfiguration {
        do {
            return try ConfigLoader.load(path: config)
        } catch {
            throw ValidationError("invalid configuration: \(error)")
        }
    }
}
