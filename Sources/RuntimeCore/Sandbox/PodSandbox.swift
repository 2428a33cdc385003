/// What the kubelet asks for when it runs a pod sandbox, in domain terms.
public struct SandboxSpec: Sendable, Equatable {
    public struct PortMapping: Codable, Sendable, Equatable {
        public var containerPort: Int32
        public var hostPort: Int32
        /// tcp, udp or sctp.
        public var `protocol`: String
        public var hostIP: String

        public init(containerPort: Int32, hostPort: Int32, protocol: String, hostIP: String) {
            self.containerPort = containerPort
            self.hostPort = hostPort
            self.protocol = `protocol`
            self.hostIP = hostIP
        }
    }

    public struct DNS: Codable, Sendable, Equatable {
        public var servers: [String]
        public var searches: [String]
        public var options: [String]

        public init(servers: [String], searches: [String], options: [String]) {
            self.servers = servers
            self.searches = searches
            self.options = options
        }
    }

    public var name: String
    public var namespace: String
    public var uid: String
    public var attempt: UInt32
    public var hostname: String
    public var logDirectory: String
    public var dns: DNS?
    public var portMappings: [PortMapping]
    public var labels: [String: String]
    public var annotations: [String: String]
    public var runtimeHandler: String
    public var hostNetwork: Bool
    public var hostIPC: Bool
    public var hostPID: Bool
    public var sysctls: [String: String]
    /// The pod's cgroup (LinuxPodSandboxConfig.cgroup_parent), under which its containers' go.
    public var cgroupParent: String
    /// The pod's containers share one PID namespace (PodSandboxConfig pid option POD).
    public var sharedPID: Bool
    /// LinuxSandboxSecurityContext.privileged: only then may its containers be privileged.
    public var privileged: Bool
    /// `userns_options`: nil or mode NODE for the node's user namespace, mode POD for the pod's own.
    public var userNamespace: UserNamespaceOption?
    /// Enum fields whose value the CRI version Skiff speaks does not define; the validation
    /// refuses the request naming them (never mapped to a default).
    public var unrecognized: [UnrecognizedValue]

    public init(
        name: String,
        namespace: String,
        uid: String,
        attempt: UInt32 = 0,
        hostname: String = "",
        logDirectory: String = "",
        dns: DNS? = nil,
        portMappings: [PortMapping] = [],
        labels: [String: String] = [:],
        annotations: [String: String] = [:],
        runtimeHandler: String = "",
        hostNetwork: Bool = false,
        hostIPC: Bool = false,
        hostPID: Bool = false,
        sysctls: [String: String] = [:],
        cgroupParent: String = "",
        sharedPID: Bool = false,
        privileged: Bool = false,
        userNamespace: UserNamespaceOption? = nil,
        unrecognized: [UnrecognizedValue] = []
    ) {
        self.sharedPID = sharedPID
        self.privileged = privileged
        self.userNamespace = userNamespace
        self.unrecognized = unrecognized
        self.cgroupParent = cgroupParent
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.attempt = attempt
        self.hostname = hostname
        self.logDirectory = logDirectory
        self.dns = dns
        self.portMappings = portMappings
        self.labels = labels
        self.annotations = annotations
        self.runtimeHandler = runtimeHandler
        self.hostNetwork = hostNetwork
        self.hostIPC = hostIPC
        self.hostPID = hostPID
        self.sysctls = sysctls
    }
}

/// A pod sandbox as Skiff records it (durably, in `<state_dir>/sandboxes/<id>/sandbox.json`).
public struct PodSandbox: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case ready, notReady }

    public var id: String
    public var name: String
    public var namespace: String
    public var uid: String
    public var attempt: UInt32
    public var state: State
    /// Nanoseconds since the epoch.
    public var createdAt: Int64
    public var labels: [String: String]
    public var annotations: [String: String]
    public var runtimeHandler: String
    public var hostname: String
    public var logDirectory: String
    public var hostNetwork: Bool
    public var hostIPC: Bool
    public var hostPID: Bool
    public var portMappings: [SandboxSpec.PortMapping]
    /// Empty: Skiff's own parent (`/skiff`).
    public var cgroupParent: String?
    public var sharedPID: Bool?
    /// The pause process holding the shared PID namespace (host pid), while it runs.
    public var pausePID: Int32?
    /// The pause's start time (clock ticks since boot, /proc/PID/stat) when Skiff started it
    /// itself (`DirectPause`): with `pausePID` it names the process across restarts. nil for a
    /// pause run by the pod's runtime.
    public var pauseStartTime: UInt64? = nil
    /// The pod's DNS config (also passed to CNI as the dns capability).
    public var dns: SandboxSpec.DNS?
    /// The pod's /dev/shm tmpfs (nil for host-IPC pods, and once stopped).
    public var shmPath: String?
    public var namespaces: PinnedNamespaces?
    /// The pod's user namespace mappings (nil: the node's user namespace), pinned in `namespaces.user`.
    public var userNamespace: UserNamespaceMapping?
    /// The pod-level resources of the last UpdatePodSandboxResources (nil: never sent).
    public var resources: PodResources?
    /// The CNI network the pod was attached to and the raw ADD result (DEL's prevResult).
    public var networkName: String?
    public var networkResult: String?
    /// Pod IPs, primary first.
    public var ips: [String]
    /// Files the pod's containers mount: hostname, resolv.conf, hosts.
    public var directory: String
    /// The pod may run privileged containers (nil in records written before it was kept).
    public var privileged: Bool?
    /// The runtime binary and root of the pod's handler when it was created, so its pause
    /// process can be ended after the handler has left the configuration (nil in older records).
    public var runtimeBinary: String?
    public var runtimeRoot: String?
    /// The handler's `runtime_args` when the pod was created (nil: none, or an older record).
    public var runtimeArguments: [String]? = nil
    /// The pod runs in its handler's sandbox (gVisor): its pause container is the sandbox and
    /// its containers run inside it (nil: an ordinary pod, or an older record).
    public var sandboxed: Bool? = nil
}

extension PodSandbox {
    /// Whether the pod runs in a sandbox of its handler (gVisor).
    public var runsInSandbox: Bool { sandboxed == true }

    /// Whether the pod has a pause process: a sandbox's first container, or PID 1 of the
    /// PID namespace its containers share.
    var hasPause: Bool { runsInSandbox || (sharedPID == true && !hostPID) }
}

extension PodSandbox {
    /// A sandbox known only by its ID and directory, every other field empty: what recovery
    /// releases when a RunPodSandbox left no record, and the base of test fixtures.
    static func placeholder(id: String, directory: String, networkName: String? = nil) -> PodSandbox {
        PodSandbox(
            id: id,
            name: "",
            namespace: "",
            uid: "",
            attempt: 0,
            state: .notReady,
            createdAt: 0,
            labels: [:],
            annotations: [:],
            runtimeHandler: "",
            hostname: "",
            logDirectory: "",
            hostNetwork: false,
            hostIPC: false,
            hostPID: false,
            portMappings: [],
            cgroupParent: nil,
            sharedPID: nil,
            pausePID: nil,
            dns: nil,
            shmPath: nil,
            namespaces: nil,
            networkName: networkName,
            networkResult: nil,
            ips: [],
            directory: directory
        )
    }
}

/// An enum field of a request whose raw value has no meaning in the CRI version Skiff speaks
/// (a newer client, or a hostile one). Kept so the domain's validation refuses it by name
/// rather than the conversion mapping it to some default.
public struct UnrecognizedValue: Sendable, Equatable {
    /// The field's path in the request, e.g. `port_mappings[2].protocol`.
    public var field: String
    public var rawValue: Int

    public init(field: String, rawValue: Int) {
        self.field = field
        self.rawValue = rawValue
    }
}

extension PodSandbox {
    /// `<the pod's cgroup_parent, else defaultParent>/skiff-<id>`: the cgroupfs path the OCI
    /// runtime creates for a container of this pod (or its pause process).
    public func cgroupsPath(of id: String, defaultParent: String) -> String {
        let parent = (cgroupParent ?? "").isEmpty ? defaultParent : cgroupParent!
        return (parent.hasSuffix("/") ? String(parent.dropLast()) : parent) + "/skiff-" + id
    }
}

/// UpdatePodSandboxResources' content: the sum of the containers' resources and the pod's
/// overhead, as the kubelet computed them for the pod-level cgroup it has already resized.
public struct PodResources: Codable, Sendable, Equatable {
    public var overhead: ContainerSpec.Resources?
    public var resources: ContainerSpec.Resources?

    public init(overhead: ContainerSpec.Resources?, resources: ContainerSpec.Resources?) {
        self.overhead = overhead
        self.resources = resources
    }
}
