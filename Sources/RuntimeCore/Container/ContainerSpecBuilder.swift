import CLinuxShim
import FoundationEssentials
import ImageCore
import LinuxSys
import SkiffCommon

/// Generates a container's OCI runtime spec from what the kubelet asked for, the image's
/// config and the pod, the way the kubelet expects a CRI runtime to merge them (command/args
/// over entrypoint/cmd, env by key, the pod's namespaces and files, security defaults).
/// Pure apart from reading device nodes and seccomp profile files named in the request; CDI
/// devices come resolved (`CDIEdits`) and are merged last (`+CDI`).
public struct ContainerSpecBuilder: Sendable {
    public struct Context: Sendable {
        public var id: String
        public var spec: ContainerSpec
        public var image: ImageConfiguration.Defaults
        public var sandbox: PodSandbox
        public var user: UserResolver.Resolved
        public var rootfs: String
        public var cgroupsPath: String
        public var cgroupLayout: CgroupLayout?
        /// The lowest oom_score_adj the runtime may set (skiffd's own): lower values are raised
        /// to it, as containerd's restrict_oom_score_adj does, since the kernel refuses them
        /// without CAP_SYS_RESOURCE.
        public var minimumOOMScoreAdj: Int
        /// The /proc/<pid>/ns/pid of the container a `.target` PID mode names, or of the pod's
        /// pause process for `.pod`.
        public var targetPIDNamespace: String?
        /// Whether the pod's runtime applies `rro` (recursive read-only) mounts.
        public var recursiveReadOnlyMounts: Bool = false
        /// What the container's CDI devices add (`CDIRegistry`), applied last.
        public var cdiEdits = CDIEdits()
    }

    public static let defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    public static func build(_ context: Context) throws(SkiffError) -> RuntimeSpec {
        let spec = context.spec
        let security = spec.security
        let args = try processArguments(spec, image: context.image)
        let cwd =
            spec.workingDir.isEmpty
            ? (context.image.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/") : spec.workingDir
        guard cwd.hasPrefix("/") else {
            throw SkiffError.invalidArgument("working directory \"\(cwd)\" is not an absolute path")
        }

        let capabilities = try CapabilitySet.resolve(
            add: security.capabilitiesAdd,
            drop: security.capabilitiesDrop,
            privileged: security.privileged
        )
        var process = RuntimeSpec.Process(
            terminal: spec.tty,
            user: .init(
                uid: context.user.uid,
                gid: context.user.gid,
                additionalGids: context.user.additionalGids.isEmpty ? nil : context.user.additionalGids
            ),
            args: args,
            env: environment(context),
            cwd: cwd,
            capabilities: .init(capabilities),
            noNewPrivileges: security.noNewPrivileges && !security.privileged,
            oomScoreAdj: oomScoreAdj(spec.resources.oomScoreAdj, minimum: context.minimumOOMScoreAdj)
        )
        if !security.apparmorProfile.isEmpty && security.apparmorProfile != "unconfined" && !security.privileged {
            process.apparmorProfile = security.apparmorProfile
        }

        var linux = RuntimeSpec.Linux(
            namespaces: try namespaces(context),
            maskedPaths: security.privileged ? nil : (security.maskedPaths ?? RuntimeSpec.defaultMaskedPaths),
            readonlyPaths: security.privileged ? nil : (security.readonlyPaths ?? RuntimeSpec.defaultReadonlyPaths),
            cgroupsPath: context.cgroupsPath,
            resources: resources(spec.resources, layout: context.cgroupLayout)
        )
        var devices: [RuntimeSpec.Linux.Device] = []
        var deviceRules: [RuntimeSpec.Resources.DeviceRule] = [.init(allow: security.privileged, access: "rwm")]
        for device in spec.devices {
            let (node, rule) = try hostDevice(device)
            devices.append(node)
            deviceRules.append(rule)
        }
        if security.privileged {
            devices = Self.allHostDevices()
        }
        linux.devices = devices.isEmpty ? nil : devices
        linux.resources?.devices = deviceRules
        if !security.privileged {
            linux.seccomp = try seccomp(security.seccomp, capabilities: Set(capabilities))
        }
        let (mounts, propagation) = try self.mounts(context)
        linux.rootfsPropagation = propagation
        if let mapping = context.sandbox.userNamespace {
            guard let path = context.sandbox.namespaces?.user else {
                throw SkiffError(
                    .failedPrecondition,
                    "pod sandbox \(context.sandbox.id) has no user namespace (it was stopped); the container cannot join it"
                )
            }
            linux.joinUserNamespace(at: path, mapping: mapping)
        }

        var runtimeSpec = RuntimeSpec(
            ociVersion: "1.0.2",
            process: process,
            root: .init(path: context.rootfs, readonly: security.readOnlyRootfs),
            hostname: context.sandbox.hostNetwork ? nil : context.sandbox.hostname,
            mounts: mounts,
            linux: linux,
            annotations: spec.annotations.isEmpty ? nil : spec.annotations
        )
        try apply(context.cdiEdits, to: &runtimeSpec)
        if context.sandbox.runsInSandbox { try placeInSandbox(&runtimeSpec, context) }
        return runtimeSpec
    }

    /// The kubelet's rule: command replaces the entrypoint, args replace cmd; args alone follow
    /// the image's entrypoint.
    static func processArguments(
        _ spec: ContainerSpec,
        image: ImageConfiguration.Defaults
    ) throws(SkiffError) -> [String] {
        let entrypoint = image.entrypoint ?? []
        let cmd = image.cmd ?? []
        let args: [String]
        if !spec.command.isEmpty {
            args = spec.command + spec.args
        } else if !spec.args.isEmpty {
            args = entrypoint + spec.args
        } else {
            args = entrypoint + cmd
        }
        guard let first = args.first, !first.isEmpty else {
            throw SkiffError.invalidArgument(
                "container \"\(spec.name)\" has no command: neither the config nor the image \(spec.image) sets one"
            )
        }
        return args
    }

    /// The image's env, overridden key by key by the config's, plus PATH, HOSTNAME, HOME and
    /// TERM when neither sets them.
    static func environment(_ context: Context) -> [String] {
        var order: [String] = []
        var values: [String: String] = [:]
        func set(_ key: String, _ value: String) {
            if values[key] == nil { order.append(key) }
            values[key] = value
        }
        for entry in context.image.env ?? [] {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            set(String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }
        for (key, value) in context.spec.env where !key.isEmpty { set(key, value) }
        if values["PATH"] == nil { set("PATH", String(defaultPath.dropFirst(5))) }
        if values["HOSTNAME"] == nil {
            set("HOSTNAME", context.sandbox.hostNetwork ? SandboxService.nodeHostname() : context.sandbox.hostname)
        }
        if values["HOME"] == nil { set("HOME", context.user.home.flatMap { $0.isEmpty ? nil : $0 } ?? "/") }
        if context.spec.tty && values["TERM"] == nil { set("TERM", "xterm") }
        return order.map { "\($0)=\(values[$0]!)" }
    }

    static func oomScoreAdj(_ requested: Int64, minimum: Int) -> Int {
        min(1000, max(Int(clamping: requested), minimum))
    }

    static func namespaces(_ context: Context) throws(SkiffError) -> [RuntimeSpec.Linux.Namespace] {
        let sandbox = context.sandbox
        var result: [RuntimeSpec.Linux.Namespace] = [.init(type: "mount", path: nil)]
        func join(_ type: String, _ path: String?, host: Bool) throws(SkiffError) {
            if host { return }
            guard let path else {
                throw SkiffError(
                    .failedPrecondition,
                    "pod sandbox \(sandbox.id) has no \(type) namespace (it was stopped); the container cannot join it"
                )
            }
            result.append(.init(type: type, path: path))
        }
        try join("network", sandbox.namespaces?.network, host: sandbox.hostNetwork)
        try join("ipc", sandbox.namespaces?.ipc, host: sandbox.hostIPC)
        try join("uts", sandbox.namespaces?.uts, host: sandbox.hostNetwork)
        if sandbox.runsInSandbox {
            result += try sandboxPIDNamespace(context)
            return result
        }
        switch context.spec.security.pidMode {
        case .container:
            result.append(.init(type: "pid", path: nil))
        case .node:
            break
        case .pod where sandbox.sharedPID != true:
            // The pod has no shared PID namespace (its own pid option is CONTAINER): the
            // container gets one of its own, as in containerd.
            result.append(.init(type: "pid", path: nil))
        case .pod:
            guard let path = context.targetPIDNamespace else {
                throw SkiffError(
                    .failedPrecondition,
                    "pod sandbox \(sandbox.id) shares one PID namespace but its pause process is not running; recreate the pod"
                )
            }
            result.append(.init(type: "pid", path: path))
        case .target(let id):
            guard let path = context.targetPIDNamespace else {
                throw SkiffError(.notFound, "target container \(id) for the PID namespace is not running")
            }
            result.append(.init(type: "pid", path: path))
        }
        if context.cgroupLayout == .unified { result.append(.init(type: "cgroup", path: nil)) }
        return result
    }

    static func resources(_ requested: ContainerSpec.Resources, layout: CgroupLayout?) -> RuntimeSpec.Resources {
        var resources = RuntimeSpec.Resources()
        var cpu = RuntimeSpec.Resources.CPU()
        if requested.cpuShares > 0 { cpu.shares = UInt64(requested.cpuShares) }
        if requested.cpuQuota != 0 { cpu.quota = requested.cpuQuota }
        if requested.cpuPeriod > 0 { cpu.period = UInt64(requested.cpuPeriod) }
        if !requested.cpusetCpus.isEmpty { cpu.cpus = requested.cpusetCpus }
        if !requested.cpusetMems.isEmpty { cpu.mems = requested.cpusetMems }
        if cpu != RuntimeSpec.Resources.CPU() { resources.cpu = cpu }
        var memory = RuntimeSpec.Resources.Memory()
        if requested.memoryLimitBytes > 0 { memory.limit = requested.memoryLimitBytes }
        if requested.memorySwapLimitBytes > 0 { memory.swap = requested.memorySwapLimitBytes }
        if memory != RuntimeSpec.Resources.Memory() { resources.memory = memory }
        if !requested.hugepageLimits.isEmpty {
            resources.hugepageLimits = requested.hugepageLimits.sorted { $0.key < $1.key }.map {
                .init(pageSize: $0.key, limit: $0.value)
            }
        }
        if layout == .unified && !requested.unified.isEmpty { resources.unified = requested.unified }
        return resources
    }

    static func seccomp(
        _ profile: ContainerSpec.SeccompProfile,
        capabilities: Set<String>
    ) throws(SkiffError) -> RuntimeSpec.Seccomp? {
        switch profile {
        case .unconfined:
            return nil
        case .runtimeDefault:
            return DefaultSeccompProfile.profile(capabilities: capabilities)
        case .localhost(let path):
            guard path.hasPrefix("/") else {
                throw SkiffError.invalidArgument("seccomp localhost profile \"\(path)\" is not an absolute path")
            }
            let bytes: [UInt8]
            do {
                bytes = try FileSystem.readBytes(path, limit: 4 << 20)
            } catch {
                throw SkiffError(.invalidArgument, "cannot read the seccomp profile \(path)", cause: error)
            }
            do {
                return try JSONDecoder().decode(RuntimeSpec.Seccomp.self, from: Data(bytes))
            } catch {
                throw SkiffError(
                    .invalidArgument,
                    "the seccomp profile \(path) is not a valid profile",
                    cause: DescribedError(error)
                )
            }
        }
    }
}
