/// What the kubelet asks for in CreateContainer (CRI `ContainerConfig`), in domain terms.
public struct ContainerSpec: Sendable, Equatable {
    public struct Mount: Codable, Sendable, Equatable {
        public enum Propagation: String, Codable, Sendable { case `private`, hostToContainer, bidirectional }

        public var containerPath: String
        public var hostPath: String
        public var readOnly: Bool
        public var recursiveReadOnly: Bool
        public var propagation: Propagation
        /// An image volume (Mount.image): the image to mount instead of a host path.
        public var image: String?
        /// Mount.image_sub_path: the directory of the image to mount instead of its root.
        public var imageSubPath: String?
        /// The ID of the image an image volume mounted (set at creation, for ContainerStatus).
        public var imageID: String?
        /// Mount.uidMappings/gidMappings: the host path is bound through an idmapped view with
        /// these mappings (which must be the pod's user namespace's).
        public var idMapping: UserNamespaceMapping?

        public init(
            containerPath: String,
            hostPath: String,
            readOnly: Bool = false,
            recursiveReadOnly: Bool = false,
            propagation: Propagation = .private,
            image: String? = nil,
            imageSubPath: String? = nil
        ) {
            self.image = image
            self.imageSubPath = imageSubPath
            self.containerPath = containerPath
            self.hostPath = hostPath
            self.readOnly = readOnly
            self.recursiveReadOnly = recursiveReadOnly
            self.propagation = propagation
        }
    }

    public struct Device: Sendable, Equatable {
        public var containerPath: String
        public var hostPath: String
        /// Any of r, w, m.
        public var permissions: String

        public init(containerPath: String, hostPath: String, permissions: String) {
            self.containerPath = containerPath
            self.hostPath = hostPath
            self.permissions = permissions
        }
    }

    /// CRI `LinuxContainerResources`; zero means "not set", as in the proto.
    public struct Resources: Codable, Sendable, Equatable {
        public var cpuPeriod: Int64 = 0
        public var cpuQuota: Int64 = 0
        public var cpuShares: Int64 = 0
        public var memoryLimitBytes: Int64 = 0
        public var oomScoreAdj: Int64 = 0
        public var cpusetCpus: String = ""
        public var cpusetMems: String = ""
        public var hugepageLimits: [String: UInt64] = [:]
        public var unified: [String: String] = [:]
        public var memorySwapLimitBytes: Int64 = 0

        public init() {}
    }

    public enum SeccompProfile: Sendable, Equatable {
        /// The CRI default when nothing is set: no filter.
        case unconfined
        case runtimeDefault
        /// A JSON profile file on the node.
        case localhost(String)
    }

    public enum PIDMode: Sendable, Equatable {
        /// The pod's shared PID namespace.
        case pod
        /// A PID namespace of the container's own (the default).
        case container
        case node
        /// The PID namespace of another container of the pod.
        case target(String)
    }

    public struct Security: Sendable, Equatable {
        public var privileged = false
        public var capabilitiesAdd: [String] = []
        public var capabilitiesDrop: [String] = []
        public var runAsUser: Int64?
        public var runAsGroup: Int64?
        public var runAsUsername = ""
        public var supplementalGroups: [Int64] = []
        public var readOnlyRootfs = false
        public var noNewPrivileges = false
        /// nil: the runtime's defaults; empty: none (the kubelet's "Unmasked" proc mount).
        public var maskedPaths: [String]?
        public var readonlyPaths: [String]?
        public var seccomp: SeccompProfile = .unconfined
        public var apparmorProfile = ""
        public var pidMode: PIDMode = .container

        public init() {}
    }

    public var name: String
    public var attempt: UInt32
    /// The image as the kubelet names it: an ID, a digest or a tag.
    public var image: String
    public var command: [String]
    public var args: [String]
    public var workingDir: String
    public var env: [(key: String, value: String)]
    public var mounts: [Mount]
    public var devices: [Device]
    public var labels: [String: String]
    public var annotations: [String: String]
    /// Relative to the pod's log directory.
    public var logPath: String
    public var stdin: Bool
    public var stdinOnce: Bool
    public var tty: Bool
    public var resources: Resources
    public var security: Security
    public var sysctls: [String: String]
    /// Enum fields the CRI version Skiff speaks does not define (see `UnrecognizedValue`).
    public var unrecognized: [UnrecognizedValue] = []
    /// namespace_options.userns_options as the container asks (nil: not set). Every container
    /// runs in its pod's user namespace; a different request is refused.
    public var userNamespace: UserNamespaceOption?
    /// supplemental_groups_policy Strict: only the listed groups, none from the image (refused
    /// while unsupported: the image's groups are always merged).
    public var strictSupplementalGroups = false
    /// ContainerConfig.stop_signal ("SIGUSR1"); nil for the runtime's default (the image's
    /// StopSignal, else SIGTERM).
    public var stopSignal: String?
    /// ContainerConfig.CDI_devices: fully qualified CDI device names (vendor.com/class=name),
    /// resolved with the `cdi.k8s.io/` annotations by `CDIRegistry`.
    public var cdiDevices: [String] = []

    public init(
        name: String,
        attempt: UInt32 = 0,
        image: String,
        command: [String] = [],
        args: [String] = [],
        workingDir: String = "",
        env: [(key: String, value: String)] = [],
        mounts: [Mount] = [],
        devices: [Device] = [],
        labels: [String: String] = [:],
        annotations: [String: String] = [:],
        logPath: String = "",
        stdin: Bool = false,
        stdinOnce: Bool = false,
        tty: Bool = false,
        resources: Resources = Resources(),
        security: Security = Security(),
        sysctls: [String: String] = [:]
    ) {
        self.name = name
        self.attempt = attempt
        self.image = image
        self.command = command
        self.args = args
        self.workingDir = workingDir
        self.env = env
        self.mounts = mounts
        self.devices = devices
        self.labels = labels
        self.annotations = annotations
        self.logPath = logPath
        self.stdin = stdin
        self.stdinOnce = stdinOnce
        self.tty = tty
        self.resources = resources
        self.security = security
        self.sysctls = sysctls
    }

    public static func == (lhs: ContainerSpec, rhs: ContainerSpec) -> Bool {
        lhs.name == rhs.name && lhs.attempt == rhs.attempt && lhs.image == rhs.image && lhs.command == rhs.command
            && lhs.args == rhs.args
            && lhs.workingDir == rhs.workingDir
            && lhs.env.map { "\($0.key)=\($0.value)" } == rhs.env.map { "\($0.key)=\($0.value)" }
            && lhs.mounts == rhs.mounts && lhs.devices == rhs.devices && lhs.labels == rhs.labels
            && lhs.annotations == rhs.annotations
            && lhs.logPath == rhs.logPath && lhs.stdin == rhs.stdin && lhs.stdinOnce == rhs.stdinOnce
            && lhs.tty == rhs.tty
            && lhs.resources == rhs.resources && lhs.security == rhs.security && lhs.sysctls == rhs.sysctls
            && lhs.unrecognized == rhs.unrecognized && lhs.userNamespace == rhs.userNamespace
            && lhs.strictSupplementalGroups == rhs.strictSupplementalGroups && lhs.stopSignal == rhs.stopSignal
            && lhs.cdiDevices == rhs.cdiDevices
    }
}
