import DaemonConfig
import LinuxSys

/// Works out the conditions Status reports by looking at the node as it is now: a runtime
/// binary removed or a CNI config added after start is seen on the next call.
public struct NodeStatusProbe: Sendable {
    public static let cniConfigExtensions = [".conflist", ".conf", ".json"]

    let configuration: DaemonConfiguration
    let lookup: @Sendable (String) -> String?

    public init(
        configuration: DaemonConfiguration,
        lookup: @escaping @Sendable (String) -> String? = { ExecutableLookup.resolve($0) }
    ) {
        self.configuration = configuration
        self.lookup = lookup
    }

    public func handlers() -> RuntimeHandlerSet {
        RuntimeHandlerSet(configuration: configuration, lookup: lookup)
    }

    public func conditions() -> [RuntimeCondition] {
        [runtimeReady(), networkReady()]
    }

    func runtimeReady() -> RuntimeCondition {
        let handlers = handlers()
        guard let handler = handlers.handler(named: "") else {
            return RuntimeCondition(
                type: RuntimeCondition.runtimeReady,
                isTrue: false,
                reason: "DefaultHandlerUndefined",
                message: "runtime.default_handler \"\(handlers.defaultName)\" is not configured"
            )
        }
        guard handler.resolvedPath != nil else {
            return RuntimeCondition(
                type: RuntimeCondition.runtimeReady,
                isTrue: false,
                reason: "OCIRuntimeNotFound",
                message:
                    "the default handler \"\(handler.name)\" runs \(handler.configuredPath), which is not installed or not executable (apt-get install \(handler.name))"
            )
        }
        guard lookup(configuration.runtime.conmonPath) != nil else {
            return RuntimeCondition(
                type: RuntimeCondition.runtimeReady,
                isTrue: false,
                reason: "ConmonNotFound",
                message:
                    "the container monitor \(configuration.runtime.conmonPath) is not installed or not executable (apt-get install conmon)"
            )
        }
        return RuntimeCondition(type: RuntimeCondition.runtimeReady, isTrue: true)
    }

    func networkReady() -> RuntimeCondition {
        let directory = configuration.network.cniConfDir
        if Self.firstNetworkConfig(in: directory) != nil {
            return RuntimeCondition(type: RuntimeCondition.networkReady, isTrue: true)
        }
        return RuntimeCondition(
            type: RuntimeCondition.networkReady,
            isTrue: false,
            reason: "NetworkPluginNotReady",
            message: "no CNI network config (.conflist, .conf or .json) in \(directory)"
        )
    }

    /// The file CNI networking uses: the first config in lexical order, as the kubelet's CNI
    /// library and other runtimes pick it.
    public static func firstNetworkConfig(in directory: String) -> String? {
        guard let names = FileSystem.directoryEntries(directory) else { return nil }
        return names.first { name in cniConfigExtensions.contains { name.hasSuffix($0) } }
            .map { "\(directory)/\($0)" }
    }
}
