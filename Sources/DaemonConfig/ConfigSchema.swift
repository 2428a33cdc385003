/// The one table of skiffd's configuration keys.
///
/// Each key is declared once, with its type, default and documentation; the loader, the default
/// file printed by `skiff config default` and docs/config.md are all derived from this table.
public enum ConfigSchema {
    public typealias Option = ConfigOption<DaemonConfiguration>

    /// Sections in the order the default file and the docs show them, with a sentence each.
    public static let sections: [(name: String, doc: String)] = [
        ("", "Where skiffd keeps its state, and how it logs."),
        ("grpc", "The CRI endpoint the kubelet, crictl and critest connect to."),
        (
            "runtime",
            "How pods and containers are run: OCI runtimes per RuntimeClass handler, the monitor, cgroups, logs."
        ),
        ("network", "Pod networking through CNI plugins."),
        ("images", "Image pulls: registries, mirrors, TLS."),
        ("streaming", "The HTTP server behind Exec, Attach and PortForward."),
    ]

    public static let options: [Option] = [
        .path(
            "root_dir",
            default: "/var/lib/skiff",
            doc:
                "Persistent state: image content, layer snapshots and the metadata database. Keep it on a disk that survives reboots."
        ) { $0.rootDir = $1 },
        .path(
            "state_dir",
            default: "/run/skiff",
            doc:
                "Volatile state: the lock file, pinned namespaces, container runtime state. A tmpfs is right; it is rebuilt after a reboot."
        ) { $0.stateDir = $1 },
        .choice(
            "log_level",
            default: LogLevelName.info,
            doc: "Least severe log level written to standard error. `--log-level` overrides it."
        ) { $0.logLevel = $1.rawValue },
        .choice(
            "log_format",
            default: DaemonConfiguration.LogFormat.text,
            doc: "`text` for people, `json` (one object a line) for log collectors. `--log-format` overrides it."
        ) { $0.logFormat = $1 },

        .path(
            "grpc.socket",
            default: "/run/skiff/skiff.sock",
            doc:
                "Unix socket serving CRI RuntimeService and ImageService. The kubelet's `--container-runtime-endpoint` and crictl's `runtime-endpoint` are `unix://` followed by this path. Its directory is created with mode 0755; the socket itself gets mode 0660, owned by root."
        ) { $0.grpc.socketPath = $1 },
        .string(
            "grpc.socket_group",
            default: "",
            doc:
                "Group (name or numeric id) that owns the socket, so members may use crictl without root. Empty keeps the socket root's alone."
        ) { $0.grpc.socketGroup = $1 },
        .duration(
            "grpc.shutdown_timeout",
            default: "10s",
            doc:
                "On SIGTERM or SIGINT skiffd stops accepting calls and lets running ones finish for at most this long before cancelling them; a call that does not end within 5 s of its cancellation is left behind and skiffd exits 0 (its state is on disk)."
        ) { $0.grpc.shutdownTimeout = $1 },

        .string(
            "runtime.default_handler",
            default: "runc",
            doc: "Handler used when a pod names no RuntimeClass handler; must be one of `runtime.handlers`."
        ) { $0.runtime.defaultHandler = $1 },
        .program(
            "runtime.conmon_path",
            default: "conmon",
            doc:
                "conmon, the per-container monitor that holds stdio, writes the CRI log and records the exit code. A bare name is looked up on $PATH."
        ) { $0.runtime.conmonPath = $1 },
        .path(
            "runtime.pause_path",
            default: "",
            allowEmpty: true,
            doc:
                "skiff-pause, PID 1 of each pod whose containers share a PID namespace (Skiff starts it itself for runc and crun pods, with no runtime or conmon) and the first container of each gVisor pod. Empty: the skiff-pause installed beside skiffd."
        ) { $0.runtime.pausePath = $1 },
        .choice(
            "runtime.cgroup_driver",
            default: DaemonConfiguration.CgroupDriver.cgroupfs,
            doc:
                "How pod and container cgroups are created: `cgroupfs` has the OCI runtime write the cgroup filesystem directly. `systemd` (scopes through systemd) is not supported yet: skiffd refuses to start with it. Must match the kubelet's `cgroupDriver`; RuntimeConfig reports it to the kubelet."
        ) { $0.runtime.cgroupDriver = $1 },
        .path(
            "runtime.pod_log_root",
            default: "/var/log/pods",
            doc:
                "Directory under which the kubelet keeps pod log directories (its default). Informational for operators and `skiff check`; Skiff writes each container's CRI log where the pod's `log_directory` says."
        ) { $0.runtime.podLogRoot = $1 },
        .integer(
            "runtime.shm_size_mib",
            default: 64,
            range: 1...1_048_576,
            doc:
                "Size in MiB of each pod's /dev/shm: one tmpfs per pod, shared by its containers as they share its IPC namespace (containerd's and cri-o's default is 64). Host-IPC pods use the node's /dev/shm."
        ) { $0.runtime.shmSizeMiB = $1 },
        .string(
            "runtime.pause_image",
            default: "registry.k8s.io/pause:3.10",
            doc:
                "Image kept pinned (never garbage-collected) for pods that need an infra container. Skiff pins namespaces without one by default."
        ) { $0.runtime.pauseImage = $1 },
        .stringList(
            "runtime.cdi_spec_dirs",
            default: ["/etc/cdi", "/var/run/cdi"],
            absolutePaths: true,
            doc:
                "Directories of CDI (Container Device Interface) spec files, `.json` and `.yaml`, that resolve the devices a container asks for in `CDI_devices` or in `cdi.k8s.io/` annotations (how device plugins hand GPUs and other devices to containers). Read at each creation that asks for a device; a device defined in a later directory overrides an earlier one's, and two definitions in one directory are refused. A missing directory is skipped."
        ) { $0.runtime.cdiSpecDirs = $1 },

        .path(
            "network.cni_conf_dir",
            default: "/etc/cni/net.d",
            doc:
                "Directory searched for the pod network: the first `.conflist`, `.conf` or `.json` file in lexical order is used. While it holds none, Status reports NetworkReady false."
        ) { $0.network.cniConfDir = $1 },
        .stringList(
            "network.cni_bin_dirs",
            default: ["/usr/lib/cni", "/opt/cni/bin"],
            absolutePaths: true,
            doc:
                "Directories searched, in order, for CNI plugin binaries. Debian's containernetworking-plugins installs into /usr/lib/cni."
        ) { $0.network.cniBinDirs = $1 },

        .duration(
            "images.stall_timeout",
            default: "1m",
            doc:
                "A registry transfer that receives no bytes for this long fails with DEADLINE_EXCEEDED instead of hanging the pull."
        ) { $0.images.stallTimeout = $1 },
        .integer(
            "images.max_concurrent_downloads",
            default: 3,
            range: 1...32,
            doc: "Layers of one pull fetched and unpacked at the same time."
        ) { $0.images.maxConcurrentDownloads = $1 },

        .string(
            "streaming.address",
            default: "127.0.0.1",
            doc:
                "Address the streaming server binds. The kubelet proxies to it, so loopback is right unless clients connect directly."
        ) { $0.streaming.address = $1 },
        .integer(
            "streaming.port",
            default: 0,
            range: 0...65535,
            doc: "Port of the streaming server; 0 picks a free port at start."
        ) { $0.streaming.port = $1 },
        .duration(
            "streaming.idle_timeout",
            default: "4h",
            doc: "A streaming connection with no traffic for this long is closed."
        ) { $0.streaming.idleTimeout = $1 },
        .path(
            "streaming.tls_cert_file",
            default: "",
            allowEmpty: true,
            doc:
                "PEM certificate chain for serving the streaming URLs over HTTPS; empty serves plain HTTP. Set together with `streaming.tls_key_file`."
        ) { $0.streaming.tlsCertFile = $1 },
        .path(
            "streaming.tls_key_file",
            default: "",
            allowEmpty: true,
            doc: "PEM private key of `streaming.tls_cert_file`."
        ) { $0.streaming.tlsKeyFile = $1 },
    ]

    public static let namedTables: [ConfigNamedTables] = [
        .make(
            "runtime.handlers",
            nameDescription: "RuntimeClass handler name",
            doc:
                "One table per RuntimeClass handler: the pod's `runtime_handler` (a RuntimeClass's `handler`) picks the table by name. When the file defines no handler, the three below exist (a handler whose binary is missing is reported \"not available on this node\"); when it defines any, only those.",
            blank: DaemonConfiguration.RuntimeHandler(),
            fields: [
                .program(
                    "runtime_path",
                    default: "",
                    doc: "OCI runtime binary (runc, crun, …). A bare name is looked up on $PATH."
                ) { $0.runtimePath = $1 },
                .path(
                    "runtime_root",
                    default: "",
                    allowEmpty: true,
                    doc:
                        "State directory passed as the runtime's `--root`. Empty means `<state_dir>/runtime/<handler>`."
                ) { $0.runtimeRoot = $1 },
                .boolean(
                    "sandbox",
                    default: false,
                    doc:
                        "The runtime runs a whole pod as one sandbox with a kernel of its own (gVisor's runsc, Kata): Skiff creates the pod's pause container through it at RunPodSandbox, and every container of the pod names that sandbox in the CRI annotations (`io.kubernetes.cri.container-type`, `io.kubernetes.cri.sandbox-id`). A runtime whose binary is named `runsc` is always run this way. See docs/runtimeclass.md."
                ) { $0.sandbox = $1 },
                .stringList(
                    "runtime_args",
                    default: [],
                    doc:
                        "Flags put before the subcommand in every call of the runtime, and given to conmon as `--runtime-arg`. For runsc 20221219 (Debian 12) on kernels ≥ 6.6: `[\"--network=host\"]`, since its own network stack refuses to start there (docs/runtimeclass.md)."
                ) { $0.runtimeArguments = $1 },
            ],
            defaults: [
                ("runc", [("runtime_path", .string("runc")), ("runtime_root", .string(""))]),
                ("crun", [("runtime_path", .string("crun")), ("runtime_root", .string(""))]),
                ("runsc", [("runtime_path", .string("runsc")), ("runtime_root", .string(""))]),
            ],
            validateName: { name in
                name.isEmpty || name.contains("/") ? "a handler name must be non-empty and contain no '/'" : nil
            },
            set: { $0.runtime.handlers = $1 }
        ),
        .make(
            "images.registries",
            nameDescription: "registry host[:port]",
            doc:
                "Settings for one registry host, named as images name it (`docker.io`, `registry.k8s.io`, `localhost:5000`). `localhost` and 127.0.0.1 are reached over plain HTTP unless `ca_file` is set.",
            blank: DaemonConfiguration.Registry(),
            fields: [
                .stringList(
                    "mirrors",
                    default: [],
                    doc:
                        "Mirror hosts (`host[:port]`, or a `https://` / `http://` URL) tried in order before the registry itself."
                ) { $0.mirrors = $1 },
                .boolean(
                    "insecure",
                    default: false,
                    doc:
                        "Reach this registry over plain HTTP (or HTTPS without certificate verification). For test and lab registries only."
                ) { $0.insecure = $1 },
                .path(
                    "ca_file",
                    default: "",
                    allowEmpty: true,
                    doc: "PEM file with extra CA certificates trusted for this registry, besides the system's."
                ) { $0.caFile = $1 },
            ],
            defaults: [],
            validateName: { name in
                name.isEmpty || name.contains("/") || name.contains(" ")
                    ? "a registry must be named host or host:port" : nil
            },
            set: { $0.images.registries = $1 }
        ),
    ]

    /// The configuration made of every default in the table.
    static func defaults() -> DaemonConfiguration {
        var configuration = DaemonConfiguration()
        for option in options { option.applyDefault(to: &configuration) }
        for table in namedTables { table.applyDefaults(&configuration) }
        return configuration
    }
}

/// swift-log's level names, so the config layer stays free of the logging library.
public enum LogLevelName: String, Sendable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}
