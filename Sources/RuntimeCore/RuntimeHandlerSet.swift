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

        /// A handler as an object's record kept it, for ending that object after the handler
        /// has left the configuration.
        static func recorded(name: String, binary: String, root: String) -> Handler {
            Handler(
                name: name,
                configuredPath: binary,
                resolvedPath: FileSystem.isExecutableFile(binary) ? binary : nil,
                root: root
            )
        }
    }

    public let defaultName: String
    public let handlers: [Handler]

    public init(configuration: DaemonConfiguration, lookup: (String) -> String? = { ExecutableLookup.resolve($0) }) {
        defaultName = configuration.runtime.defaultHandler
        handlers = configuration.runtime.handlers.keys.sorted().map { name in
            let configured = configuration.runtime.handlers[name]!.runtimePath
            let path = configured.isEmpty ? name : configured
            return Handler(
                name: name,
                configuredPath: path,
                resolvedPath: lookup(path),
                root: configuration.runtimeRoot(of: name) ?? ""
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
