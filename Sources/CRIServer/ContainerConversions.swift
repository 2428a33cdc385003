import CRIAPI
import FoundationEssentials
import RuntimeCore
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// CRI container messages ⇄ domain values.
enum ContainerConversions {
    static func spec(_ config: Runtime_V1_ContainerConfig) throws(SkiffError) -> ContainerSpec {
        let linux = config.linux
        let context = linux.securityContext
        var unrecognized = UnrecognizedEnums()
        unrecognized.check(context.namespaceOptions, at: "linux.security_context.namespace_options")
        unrecognized.check(context.seccomp, present: context.hasSeccomp, at: "linux.security_context.seccomp")
        unrecognized.check(context.apparmor, present: context.hasApparmor, at: "linux.security_context.apparmor")
        unrecognized.check(context.supplementalGroupsPolicy, "linux.security_context.supplemental_groups_policy")
        for (index, mount) in config.mounts.enumerated() {
            unrecognized.check(mount.propagation, "mounts[\(index)].propagation")
        }
        var security = ContainerSpec.Security()
        security.privileged = context.privileged
        security.capabilitiesAdd = context.capabilities.addCapabilities
        security.capabilitiesDrop = context.capabilities.dropCapabilities
        if context.hasRunAsUser { security.runAsUser = context.runAsUser.value }
        if context.hasRunAsGroup { security.runAsGroup = context.runAsGroup.value }
        security.runAsUsername = context.runAsUsername
        security.supplementalGroups = context.supplementalGroups
        security.readOnlyRootfs = context.readonlyRootfs
        security.noNewPrivileges = context.noNewPrivs
        // The kubelet sends both lists empty for the default proc mount and its own lists
        // otherwise; "Unmasked" comes as empty lists with the annotation-free path, so empty
        // means the runtime's defaults here, as in containerd.
        security.maskedPaths = context.maskedPaths.isEmpty ? nil : context.maskedPaths
        security.readonlyPaths = context.readonlyPaths.isEmpty ? nil : context.readonlyPaths
        security.seccomp = try seccomp(context)
        if context.hasApparmor {
            security.apparmorProfile = context.apparmor.profileType == .localhost ? context.apparmor.localhostRef : ""
        } else if context.apparmorProfile.hasPrefix("localhost/") {
            security.apparmorProfile = String(context.apparmorProfile.dropFirst("localhost/".count))
        }
        switch context.namespaceOptions.pid {
        case .pod: security.pidMode = .pod
        case .node: security.pidMode = .node
        case .target: security.pidMode = .target(context.namespaceOptions.targetID)
        default: security.pidMode = .container
        }
        var spec = ContainerSpec(
            name: config.metadata.name,
            attempt: config.metadata.attempt,
            image: config.image.image,
            command: config.command,
            args: config.args,
            workingDir: config.workingDir,
            env: config.envs.map { (key: $0.key, value: String(decoding: $0.value, as: UTF8.self)) },
            mounts: config.mounts.map { mount in
                var converted = ContainerSpec.Mount(
                    containerPath: mount.containerPath,
                    hostPath: mount.hostPath,
                    readOnly: mount.readonly,
                    recursiveReadOnly: mount.recursiveReadOnly,
                    propagation: propagation(mount.propagation),
                    image: mount.hasImage ? mount.image.image : nil,
                    imageSubPath: mount.imageSubPath.isEmpty ? nil : mount.imageSubPath
                )
                converted.idMapping = UserNamespaceConversions.mapping(of: mount)
                return converted
            },
            devices: config.devices.map {
                ContainerSpec.Device(
                    containerPath: $0.containerPath,
                    hostPath: $0.hostPath,
                    permissions: $0.permissions
                )
            },
            labels: config.labels,
            annotations: config.annotations,
            logPath: config.logPath,
            stdin: config.stdin,
            stdinOnce: config.stdinOnce,
            tty: config.tty,
            resources: linux.hasResources ? resources(linux.resources) : ContainerSpec.Resources(),
            security: security
        )
        spec.unrecognized = unrecognized.values
        spec.cdiDevices = config.cdiDevices.map(\.name)
        let namespaces = context.namespaceOptions
        spec.userNamespace = UserNamespaceConversions.option(namespaces)
        spec.strictSupplementalGroups = context.supplementalGroupsPolicy == .strict
        if config.stopSignal != .runtimeDefault {
            guard let name = signalName(config.stopSignal) else {
                spec.unrecognized.append(UnrecognizedValue(field: "stop_signal", rawValue: config.stopSignal.rawValue))
                return spec
            }
            spec.stopSignal = name
        }
        return spec
    }

    /// The CRI's signal enum as a name `SignalNames` reads ("SIGRTMINPLUS3" is "SIGRTMIN+3").
    static func signalName(_ signal: Runtime_V1_Signal) -> String? {
        if case .UNRECOGNIZED = signal { return nil }
        let name = "\(signal)".uppercased()
        return name.replacing("PLUS", with: "+").replacing("MINUS", with: "-")
    }

    /// The container's stop signal number as the CRI's enum (for ContainerStatus.stop_signal).
    static func signal(_ number: Int32) -> Runtime_V1_Signal {
        guard let name = SignalNames.name(number) else { return .runtimeDefault }
        let protoName = name.lowercased().replacing("+", with: "plus")
            .replacing("-", with: "minus")
        return Runtime_V1_Signal.allCases.first { "\($0)" == protoName } ?? .runtimeDefault
    }

    static func propagation(_ propagation: Runtime_V1_MountPropagation) -> ContainerSpec.Mount.Propagation {
        switch propagation {
        case .propagationHostToContainer: .hostToContainer
        case .propagationBidirectional: .bidirectional
        default: .private
        }
    }

    static func seccomp(
        _ context: Runtime_V1_LinuxContainerSecurityContext
    ) throws(SkiffError) -> ContainerSpec.SeccompProfile {
        if context.hasSeccomp {
            switch context.seccomp.profileType {
            case .runtimeDefault: return .runtimeDefault
            case .localhost: return .localhost(context.seccomp.localhostRef)
            // An unknown type is named in `unrecognized` and refused by the validation.
            default: return .unconfined
            }
        }
        // The deprecated string field.
        let path = context.seccompProfilePath
        switch path {
        case "runtime/default", "docker/default": return .runtimeDefault
        case "", "unconfined": return .unconfined
        default:
            guard path.hasPrefix("localhost/") else {
                throw SkiffError.invalidArgument(
                    "seccomp profile \"\(path)\" is not runtime/default, unconfined or localhost/<path>"
                )
            }
            return .localhost(String(path.dropFirst("localhost/".count)))
        }
    }

    static func resources(_ linux: Runtime_V1_LinuxContainerResources) -> ContainerSpec.Resources {
        var resources = ContainerSpec.Resources()
        resources.cpuPeriod = linux.cpuPeriod
        resources.cpuQuota = linux.cpuQuota
        resources.cpuShares = linux.cpuShares
        resources.memoryLimitBytes = linux.memoryLimitInBytes
        resources.oomScoreAdj = linux.oomScoreAdj
        resources.cpusetCpus = linux.cpusetCpus
        resources.cpusetMems = linux.cpusetMems
        resources.hugepageLimits = Dictionary(
            linux.hugepageLimits.map { ($0.pageSize, $0.limit) },
            uniquingKeysWith: { $1 }
        )
        resources.unified = linux.unified
        resources.memorySwapLimitBytes = linux.memorySwapLimitInBytes
        return resources
    }

    static func protoResources(_ resources: ContainerSpec.Resources) -> Runtime_V1_LinuxContainerResources {
        var linux = Runtime_V1_LinuxContainerResources()
        linux.cpuPeriod = resources.cpuPeriod
        linux.cpuQuota = resources.cpuQuota
        linux.cpuShares = resources.cpuShares
        linux.memoryLimitInBytes = resources.memoryLimitBytes
        linux.oomScoreAdj = resources.oomScoreAdj
        linux.cpusetCpus = resources.cpusetCpus
        linux.cpusetMems = resources.cpusetMems
        linux.unified = resources.unified
        linux.memorySwapLimitInBytes = resources.memorySwapLimitBytes
        return linux
    }

    static func state(_ state: Runtime_V1_ContainerState) -> Container.State {
        switch state {
        case .containerCreated: .created
        case .containerRunning: .running
        case .containerExited: .exited
        default: .unknown
        }
    }

    static func protoState(_ state: Container.State) -> Runtime_V1_ContainerState {
        switch state {
        case .created: .containerCreated
        case .running: .containerRunning
        case .exited: .containerExited
        case .unknown: .containerUnknown
        }
    }

    static func metadata(_ container: Container) -> Runtime_V1_ContainerMetadata {
        var metadata = Runtime_V1_ContainerMetadata()
        metadata.name = container.name
        metadata.attempt = container.attempt
        return metadata
    }

    static func imageSpec(_ container: Container) -> Runtime_V1_ImageSpec {
        var image = Runtime_V1_ImageSpec()
        image.image = container.image
        return image
    }

    static func summary(_ container: Container) -> Runtime_V1_Container {
        var item = Runtime_V1_Container()
        item.id = container.id
        item.podSandboxID = container.sandboxID
        item.metadata = metadata(container)
        item.image = imageSpec(container)
        item.imageRef = container.imageRef
        item.imageID = container.imageID
        item.state = protoState(container.state)
        item.createdAt = container.createdAt
        item.labels = container.labels
        item.annotations = container.annotations
        return item
    }

    static func status(_ container: Container) -> Runtime_V1_ContainerStatus {
        var status = Runtime_V1_ContainerStatus()
        status.id = container.id
        status.metadata = metadata(container)
        status.state = protoState(container.state)
        status.createdAt = container.createdAt
        status.startedAt = container.startedAt
        status.finishedAt = container.finishedAt
        status.exitCode = container.exitCode
        status.image = imageSpec(container)
        status.imageRef = container.imageRef
        status.imageID = container.imageID
        status.reason = container.reason
        status.message = container.message
        status.labels = container.labels
        status.annotations = container.annotations
        status.logPath = container.logPath
        status.mounts = container.mounts.map { mount in
            var proto = Runtime_V1_Mount()
            proto.containerPath = mount.containerPath
            proto.hostPath = mount.hostPath
            proto.readonly = mount.readOnly
            proto.recursiveReadOnly = mount.recursiveReadOnly
            if let image = mount.image {
                proto.image.image = image
                proto.image.imageRef = mount.imageID ?? ""
                proto.imageSubPath = mount.imageSubPath ?? ""
            }
            if let mapping = mount.idMapping {
                proto.uidMappings = UserNamespaceConversions.proto(mapping.uids)
                proto.gidMappings = UserNamespaceConversions.proto(mapping.gids)
            }
            proto.propagation =
                switch mount.propagation {
                case .private: .propagationPrivate
                case .hostToContainer: .propagationHostToContainer
                case .bidirectional: .propagationBidirectional
                }
            return proto
        }
        status.resources.linux = protoResources(container.resources)
        status.stopSignal = signal(container.stopSignal)
        if let user = container.user {
            // What `id -G` shows the process: its primary group, then the supplementary ones in
            // the kernel's (ascending) order.
            status.user.linux.uid = Int64(user.uid)
            status.user.linux.gid = Int64(user.gid)
            status.user.linux.supplementalGroups = ([user.gid] + user.additionalGids.sorted()).map(Int64.init)
        }
        return status
    }
}
