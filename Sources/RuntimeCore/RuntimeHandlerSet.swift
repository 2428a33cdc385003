import DaemonConfig
import LinuxSys

/// The configured RuntimeClass handlers with their binaries resolved on this node.
public struct RuntimeHandlerSet: Sendable {
    public struct Handler: Sendable, Equatable {
        public var name: String
        /// As configured: an absolute path or a bare name.
        public var configuredPath: String
        /// The executable found for it; nil when it is missing on this node.
        public var resolvedPath: String?
        public var root: String
        /// The runtime runs a whole pod as one sandbox (gVisor): see `SandboxedPods`.
        public var sandboxed: Bool = false
        /// Flags before the subcommand in every call (`runtime_args`).
        public var runtimeArguments: [String] = []

        /// A handler as an object's record kept it, for ending that object after the handler
        /// has left the configuration.
        static func recorded(
            name: String,
            binary: String,
            root: String,
            sandboxed: Bool = false,
            runtimeArguments: [String] = []
        ) -> Handler {
            Handler(
                name: name,
                configuredPath: binary,
                resolvedPath: FileSystem.isExecutableFile(binary) ? binary : nil,
                root: root,
                sandboxed: sandboxed,
                runtimeArguments: runtimeArguments
            )
        }

        /// runsc runs pods as sandboxes whatever the configuration says: it cannot run a
        /// container outside one.
        static func runsPodsAsSandboxes(path: String, configured: Bool) -> Bool {
            configured || path.split(separator: "/").last == "runsc"
        }
    }

    public let defaultName: String
    public let handlers: [Handler]

    public init(configuration: DaemonConfiguration, lookup: (String) -> String? = { ExecutableLookup.resolve($0) }) {
        defaultName = configuration.runtime.defaultHandler
        handlers = configuration.runtime.handlers.keys.sorted().map { name in
            let entry = configuration.runtime.handlers[name]!
            let path = entry.runtimePath.isEmpty ? name : entry.runtimePath
            let resolved = lookup(path)
            return Handler(
                name: name,
                configuredPath: path,
                resolvedPath: resolved,
                root: configuration.runtimeRoot(of: name) ?? "",
                sandboxed: Handler.runsPodsAsSandboxes(path: resolved ?? path, configured: entry.sandbox),
                runtimeArguments: entry.runtimeArguments
            )
        }
    }

    public subscript(name: String) -> Handler? {
        handlers.first { $0.name == name }
    }

    /// The handler a pod gets: the named one, or the default for an empty name.
    public func handler(named name: String) -> Handler? {
        self[name.isEmpty ? defaultName : name]
    }
}
