import CLinuxShim
import Glibc
import SkiffCommon

/// What the requested CDI devices change in a container's OCI spec, ready to apply
/// (`ContainerSpecBuilder+CDI`): device nodes complete with type and numbers, mounts, hooks by
/// stage, environment, groups. Built from the spec-level edits of each spec used (once) and
/// each device's edits, in request order, as the CDI library merges them.
public struct CDIEdits: Sendable, Equatable {
    public struct DeviceNode: Sendable, Equatable {
        public var node: RuntimeSpec.Linux.Device
        /// The cgroup rule's access ("" for `none`); nil for u and p nodes, which get no rule
        /// (as in the CDI library).
        public var cgroupAccess: String?
    }

    /// The devices these edits come from, for the log.
    public var devices: [CDIDeviceName] = []
    /// NAME=value entries; each replaces the entry of the same name.
    public var env: [String] = []
    public var deviceNodes: [DeviceNode] = []
    public var mounts: [RuntimeSpec.Mount] = []
    public var hooks = RuntimeSpec.Hooks()
    public var additionalGids: [UInt32] = []
    public var intelRdt: RuntimeSpec.Linux.IntelRdt?

    public init() {}

    public var isEmpty: Bool { self == CDIEdits() }

    /// Appends `edits`; a device node's missing type and numbers are read from the node
    /// (`hostDevice`), as the CDI library fills them.
    mutating func append(
        _ edits: CDISpec.ContainerEdits,
        hostDevice: (String) -> HostDeviceInfo?
    ) throws(CDIEditProblem) {
        env += edits.env ?? []
        for node in edits.deviceNodes ?? [] {
            deviceNodes.append(try Self.complete(node, hostDevice: hostDevice))
        }
        for mount in edits.mounts ?? [] {
            mounts.append(
                .init(
                    destination: mount.containerPath,
                    type: mount.type.flatMap { $0.isEmpty ? nil : $0 },
                    source: mount.hostPath,
                    options: mount.options
                )
            )
        }
        for hook in edits.hooks ?? [] {
            let ociHook = RuntimeSpec.Hook(path: hook.path, args: hook.args, env: hook.env, timeout: hook.timeout)
            hooks.append(ociHook, stage: hook.hookName)
        }
        additionalGids += (edits.additionalGids ?? []).filter { $0 != 0 }
        if let rdt = edits.intelRdt {
            intelRdt = .init(closID: rdt.closID, l3CacheSchema: rdt.l3CacheSchema, memBwSchema: rdt.memBwSchema)
        }
    }

    struct CDIEditProblem: Error, CustomStringConvertible { let description: String }

    /// A device node as the node has it.
    struct HostDeviceInfo: Equatable {
        var type: String
        var major: Int64
        var minor: Int64
        var permissions: UInt32
    }

    /// lstat of `path`: its device type, numbers and permission bits; nil when it is missing or
    /// not a device node.
    static func hostDevice(at path: String) -> HostDeviceInfo? {
        var status = stat()
        guard lstat(path, &status) == 0 else { return nil }
        let type: String
        switch status.st_mode & S_IFMT {
        case S_IFCHR: type = "c"
        case S_IFBLK: type = "b"
        case S_IFIFO: type = "p"
        default: return nil
        }
        return HostDeviceInfo(
            type: type,
            major: type == "p" ? 0 : Int64(skiff_major(status.st_rdev)),
            minor: type == "p" ? 0 : Int64(skiff_minor(status.st_rdev)),
            permissions: UInt32(status.st_mode & 0o7777)
        )
    }

    /// The CDI library's `fillMissingInfo`: a node whose type and major (or type p) are given
    /// needs nothing from the node but its mode; otherwise the host node must exist and agree.
    static func complete(
        _ node: CDISpec.DeviceNode,
        hostDevice: (String) -> HostDeviceInfo?
    ) throws(CDIEditProblem) -> DeviceNode {
        let hostPath = node.hostPath.flatMap { $0.isEmpty ? nil : $0 } ?? node.path
        var type = node.type.flatMap { $0.isEmpty ? nil : $0 }
        var major = node.major ?? 0
        var minor = node.minor ?? 0
        let fullySpecified = type != nil && (major != 0 || type == "p")
        let host = hostDevice(hostPath)
        if !fullySpecified {
            guard let host else {
                throw CDIEditProblem(
                    description: "device node \(hostPath) does not exist on the node or is not a device"
                )
            }
            if let type, type != host.type {
                throw CDIEditProblem(
                    description:
                        "device node \(node.path): the spec says type \(type), \(hostPath) is type \(host.type)"
                )
            }
            type = type ?? host.type
            if type != "p" && major == 0 {
                major = host.major
                minor = host.minor
            }
        }
        let resolvedType = type ?? "c"
        let permissions = node.permissions ?? ""
        return DeviceNode(
            node: .init(
                path: node.path,
                type: resolvedType,
                major: major,
                minor: minor,
                // Permission bits only: Go's os.FileMode carries its own type bits above them.
                fileMode: (node.fileMode ?? host?.permissions).map { $0 & 0o777 },
                uid: node.uid,
                gid: node.gid
            ),
            cgroupAccess: ["b", "c"].contains(resolvedType)
                ? (permissions.isEmpty ? "rwm" : permissions == "none" ? "" : permissions) : nil
        )
    }
}
