/// The parts of the OCI runtime spec (config.json) Skiff writes. Split by section
/// (`+Security`, `+Resources`); only what Skiff sets is modelled, and the JSON keys are the spec's.
public struct RuntimeSpec: Codable, Sendable, Equatable {
    public struct Process: Codable, Sendable, Equatable {
        public struct User: Codable, Sendable, Equatable {
            public var uid: UInt32
            public var gid: UInt32
            public var additionalGids: [UInt32]?
            public var umask: UInt32?
        }

        public struct ConsoleSize: Codable, Sendable, Equatable {
            public var height: UInt
            public var width: UInt
        }

        public var terminal: Bool
        public var consoleSize: ConsoleSize?
        public var user: User
        public var args: [String]
        public var env: [String]
        public var cwd: String
        public var capabilities: Capabilities?
        public var noNewPrivileges: Bool?
        public var oomScoreAdj: Int?
        public var apparmorProfile: String?
    }

    public struct Root: Codable, Sendable, Equatable {
        public var path: String
        public var readonly: Bool
    }

    public struct Mount: Codable, Sendable, Equatable {
        public var destination: String
        public var type: String?
        public var source: String?
        public var options: [String]?

        public init(destination: String, type: String? = nil, source: String? = nil, options: [String]? = nil) {
            self.destination = destination
            self.type = type
            self.source = source
            self.options = options
        }
    }

    public struct Linux: Codable, Sendable, Equatable {
        public struct Namespace: Codable, Sendable, Equatable {
            public var type: String
            public var path: String?
        }

        /// A device node created in the container (`linux.devices`).
        public struct Device: Codable, Sendable, Equatable {
            public var path: String
            /// c, b, u or p.
            public var type: String
            public var major: Int64
            public var minor: Int64
            public var fileMode: UInt32?
            public var uid: UInt32?
            public var gid: UInt32?
        }

        /// `linux.uidMappings`/`gidMappings` entries: the user namespace's ID mappings.
        public struct IDMapping: Codable, Sendable, Equatable {
            public var containerID: UInt32
            public var hostID: UInt32
            public var size: UInt32
        }

        public var namespaces: [Namespace]
        public var uidMappings: [IDMapping]?
        public var gidMappings: [IDMapping]?
        public var devices: [Device]?
        public var maskedPaths: [String]?
        public var readonlyPaths: [String]?
        public var cgroupsPath: String?
        public var resources: Resources?
        public var sysctl: [String: String]?
        public var rootfsPropagation: String?
        public var seccomp: Seccomp?
        /// Set by a CDI device's edits only.
        public var intelRdt: IntelRdt?
    }

    public var ociVersion: String
    public var process: Process
    public var root: Root
    public var hostname: String?
    public var mounts: [Mount]
    public var linux: Linux
    public var annotations: [String: String]?
    /// Set by CDI devices' edits only.
    public var hooks: Hooks?

    /// The kernel filesystems every container gets (proc, dev, devpts, shm, mqueue, sys),
    /// as runc's and crun's default specs have them.
    public static let standardMounts: [Mount] = [
        .init(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"]),
        .init(
            destination: "/dev",
            type: "tmpfs",
            source: "tmpfs",
            options: ["nosuid", "strictatime", "mode=755", "size=65536k"]
        ),
        .init(
            destination: "/dev/pts",
            type: "devpts",
            source: "devpts",
            options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]
        ),
        .init(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
        .init(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
    ]

    /// Paths hidden from unprivileged containers (containerd's and cri-o's defaults).
    public static let defaultMaskedPaths = [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
    ]

    /// Paths mounted read-only in unprivileged containers.
    public static let defaultReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

    /// A minimal spec for `args` in `rootfs` with the usual kernel filesystems, joining the
    /// given namespace paths (pod namespaces) and creating the rest.
    public static func basic(
        args: [String],
        env: [String] = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        rootfs: String = "rootfs",
        hostname: String? = nil,
        namespacePaths: [String: String] = [:]
    ) -> RuntimeSpec {
        let kinds = ["pid", "ipc", "uts", "mount", "network"]
        return RuntimeSpec(
            ociVersion: "1.0.2",
            process: .init(
                terminal: false,
                user: .init(uid: 0, gid: 0, additionalGids: nil),
                args: args,
                env: env,
                cwd: "/",
                noNewPrivileges: true,
                oomScoreAdj: nil
            ),
            root: .init(path: rootfs, readonly: false),
            hostname: hostname,
            mounts: standardMounts + [
                .init(
                    destination: "/dev/shm",
                    type: "tmpfs",
                    source: "shm",
                    options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]
                )
            ],
            linux: .init(
                namespaces: kinds.map { Linux.Namespace(type: $0, path: namespacePaths[$0]) },
                maskedPaths: defaultMaskedPaths,
                readonlyPaths: defaultReadonlyPaths
            )
        )
    }
}

extension RuntimeSpec.Linux {
    /// Joins the pod's pinned user namespace (`path`), stating its mappings as the runtimes
    /// expect them beside the path (runc and crun check the IDs they set up against them).
    mutating func joinUserNamespace(at path: String, mapping: UserNamespaceMapping) {
        namespaces.append(.init(type: "user", path: path))
        uidMappings = mapping.uids.map { .init(containerID: $0.containerID, hostID: $0.hostID, size: $0.length) }
        gidMappings = mapping.gids.map { .init(containerID: $0.containerID, hostID: $0.hostID, size: $0.length) }
    }
}
