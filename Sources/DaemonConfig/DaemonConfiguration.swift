/// Everything skiffd reads from its TOML file, validated and typed.
///
/// The defaults are not written here but in ``ConfigSchema`` — the one table of options from
/// which the default file (`skiff config default`) and docs/config.md are generated — so a
/// default can never drift from its documentation. Use ``defaults`` or ``ConfigLoader``.
public struct DaemonConfiguration: Sendable, Equatable {
    /// Persistent state: images, snapshots, metadata. Survives reboots.
    public var rootDir = ""
    /// Volatile state: sockets, lock file, pinned namespaces, runtime state. Cleared by a reboot.
    public var stateDir = ""
    public var logLevel = ""
    public var logFormat = LogFormat.text
    public var grpc = GRPC()
    public var runtime = Runtime()
    public var network = Network()
    public var images = Images()
    public var streaming = Streaming()

    public enum LogFormat: String, Sendable, CaseIterable { case text, json }

    public struct GRPC: Sendable, Equatable {
        public var socketPath = ""
        /// Group given read-write access to the socket; empty keeps it root-only.
        public var socketGroup = ""
        /// How long in-flight calls may run after SIGTERM before they are cancelled.
        public var shutdownTimeout = Duration.zero
    }

    public struct Runtime: Sendable, Equatable {
        public var defaultHandler = ""
        public var handlers: [String: RuntimeHandler] = [:]
        public var conmonPath = ""
        /// Empty: skiff-pause beside skiffd.
        public var pausePath = ""
        public var cgroupDriver = CgroupDriver.cgroupfs
        public var shmSizeMiB = 64
        public var podLogRoot = ""
        public var pauseImage = ""
        /// CDI spec directories, lowest priority first.
        public var cdiSpecDirs: [String] = []
    }

    /// One RuntimeClass handler: the OCI runtime binary that runs its pods.
    public struct RuntimeHandler: Sendable, Equatable {
        /// The runtime binary; a bare name is looked up on $PATH.
        public var runtimePath = ""
        /// The runtime's `--root`; empty means `<state_dir>/runtime/<handler>`.
        public var runtimeRoot = ""
        /// The runtime runs a whole pod as one sandbox (gVisor's runsc): the pod's first
        /// container is its pause, and every container names it. runsc is one whatever this says.
        public var sandbox = false
        /// Flags put before the subcommand in every call of the runtime (`--network=host`).
        public var runtimeArguments: [String] = []

        public init(
            runtimePath: String = "",
            runtimeRoot: String = "",
            sandbox: Bool = false,
            runtimeArguments: [String] = []
        ) {
            self.runtimePath = runtimePath
            self.runtimeRoot = runtimeRoot
            self.sandbox = sandbox
            self.runtimeArguments = runtimeArguments
        }
    }

    public enum CgroupDriver: String, Sendable, CaseIterable { case cgroupfs, systemd }

    public struct Network: Sendable, Equatable {
        public var cniConfDir = ""
        public var cniBinDirs: [String] = []
    }

    public struct Images: Sendable, Equatable {
        public var registries: [String: Registry] = [:]
        /// A registry transfer with no bytes for this long fails instead of hanging.
        public var stallTimeout = Duration.zero
        public var maxConcurrentDownloads = 0
    }

    /// Per-registry-host settings: mirrors, plain HTTP, a private CA.
    public struct Registry: Sendable, Equatable {
        public var mirrors: [String] = []
        public var insecure = false
        public var caFile = ""

        public init(mirrors: [String] = [], insecure: Bool = false, caFile: String = "") {
            self.mirrors = mirrors
            self.insecure = insecure
            self.caFile = caFile
        }
    }

    public struct Streaming: Sendable, Equatable {
        public var address = ""
        public var port = 0
        public var idleTimeout = Duration.zero
        public var tlsCertFile = ""
        public var tlsKeyFile = ""
    }

    init() {}

    /// The configuration skiffd runs with when no file is given.
    public static let defaults: DaemonConfiguration = ConfigSchema.defaults()
}

extension DaemonConfiguration {
    /// Where the daemon lock file lives: one daemon per state dir.
    public var lockFilePath: String { stateDir + "/skiffd.lock" }

    /// The runtime root of a handler, with the documented fallback applied.
    public func runtimeRoot(of handlerName: String) -> String? {
        guard let handler = runtime.handlers[handlerName] else { return nil }
        return handler.runtimeRoot.isEmpty ? "\(stateDir)/runtime/\(handlerName)" : handler.runtimeRoot
    }
}
