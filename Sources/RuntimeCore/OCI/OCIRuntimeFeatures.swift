import FoundationEssentials
import LinuxSys
import Logging
import Synchronization

/// What an OCI runtime binary says it can do (`<runtime> features`, OCI runtime spec
/// "features.md"): read once per binary when skiffd starts, so that a handler is never
/// advertised to the kubelet with a feature its runtime lacks. A runtime without the command
/// (crun 1.8) or whose answer cannot be read has no optional feature.
public struct OCIRuntimeFeatures: Sendable, Equatable, Decodable {
    public struct Linux: Sendable, Equatable, Decodable {
        /// The namespace kinds the runtime can create or join ("user", "cgroup", …).
        public var namespaces: [String]?
    }

    public var mountOptions: [String]?
    public var linux: Linux?

    public init(mountOptions: [String]? = nil, namespaces: [String]? = nil) {
        self.mountOptions = mountOptions
        self.linux = namespaces.map { Linux(namespaces: $0) }
    }

    public static let none = OCIRuntimeFeatures()

    /// The `rro` mount option: read-only applied to every submount (mount_setattr AT_RECURSIVE).
    public var recursiveReadOnlyMounts: Bool { mountOptions?.contains("rro") == true }

    /// The runtime joins a user namespace by path with its ID mappings (what a pod user
    /// namespace needs of it; the idmapped mounts are Skiff's own, see `IDMappedMountSupport`).
    public var userNamespaces: Bool { linux?.namespaces?.contains("user") == true }
}

/// The features of each runtime binary, probed by `probe(_:)` and read by the handlers.
public enum OCIRuntimeFeatureProbe {
    private static let known = Mutex<[String: OCIRuntimeFeatures]>([:])

    /// The features probed for `binary`; `.none` when it was never probed.
    public static func features(of binary: String?) -> OCIRuntimeFeatures {
        guard let binary else { return .none }
        return known.withLock { $0[binary] } ?? .none
    }

    /// Runs `features` of every handler's binary (once per binary), with a short deadline.
    public static func probe(_ handlers: RuntimeHandlerSet, logger: Logger) async {
        for binary in Set(handlers.handlers.compactMap(\.resolvedPath)).sorted() {
            let features = await probe(binary: binary, logger: logger)
            known.withLock { $0[binary] = features }
            logger.info(
                "OCI runtime features",
                metadata: [
                    "runtime": "\(binary)", "recursive_read_only": "\(features.recursiveReadOnlyMounts)",
                    "user_namespaces": "\(features.userNamespaces)",
                ]
            )
        }
    }

    static func probe(binary: String, logger: Logger) async -> OCIRuntimeFeatures {
        do {
            let result = try await ChildProcess.run(binary, arguments: ["features"], timeout: .seconds(10))
            guard result.status == 0, !result.timedOut else { return .none }
            return try JSONDecoder().decode(OCIRuntimeFeatures.self, from: Data(result.stdout))
        } catch {
            logger.warning(
                "cannot read an OCI runtime's features",
                metadata: ["runtime": "\(binary)", "error": "\(error)"]
            )
            return .none
        }
    }
}

extension RuntimeHandlerSet.Handler {
    /// What this handler's runtime can do, as probed at start.
    public var features: OCIRuntimeFeatures {
        var features = OCIRuntimeFeatureProbe.features(of: resolvedPath)
        // A gVisor sandbox's read-only volumes are read-only all the way down: `rro` is given
        // to it as `ro` (ContainerSpecBuilder+Sandbox).
        if sandboxed && !features.recursiveReadOnlyMounts {
            features.mountOptions = (features.mountOptions ?? []) + ["rro"]
        }
        return features
    }
}
