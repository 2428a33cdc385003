import LinuxSys
import SkiffCommon

/// CDI devices' edits merged into the generated spec, the way the CDI library's
/// `ContainerEdits.Apply` merges them (containerd and cri-o call it on their specs): env by
/// name, device nodes replacing a node at the same path, with an allow rule each; mounts
/// replacing one at the same destination, then every mount ordered by depth (stable); hooks
/// appended to their stage; groups added once.
extension ContainerSpecBuilder {
    static func apply(_ edits: CDIEdits, to spec: inout RuntimeSpec) throws(SkiffError) {
        guard !edits.isEmpty else { return }
        for entry in edits.env {
            let name = entry.prefix { $0 != "=" }
            if let index = spec.process.env.firstIndex(where: { existing in existing.prefix { $0 != "=" } == name }) {
                spec.process.env[index] = entry
            } else {
                spec.process.env.append(entry)
            }
        }

        var devices = spec.linux.devices ?? []
        var rules = spec.linux.resources?.devices ?? []
        for device in edits.deviceNodes {
            var node = device.node
            // The process's user owns a node the spec gives no owner, as in the CDI library.
            if node.uid == nil, spec.process.user.uid > 0 { node.uid = spec.process.user.uid }
            if node.gid == nil, spec.process.user.gid > 0 { node.gid = spec.process.user.gid }
            devices.removeAll { $0.path == node.path }
            devices.append(node)
            if let access = device.cgroupAccess {
                rules.append(.init(allow: true, type: node.type, major: node.major, minor: node.minor, access: access))
            }
        }
        spec.linux.devices = devices.isEmpty ? nil : devices
        if spec.linux.resources == nil { spec.linux.resources = RuntimeSpec.Resources() }
        spec.linux.resources?.devices = rules

        if !edits.mounts.isEmpty {
            for mount in edits.mounts {
                if isBind(mount), let source = mount.source, !FileSystem.exists(source) {
                    throw SkiffError.invalidArgument(
                        "CDI devices \(edits.devices.map(\.description).joined(separator: ", ")): mount source \(source) for \(mount.destination) does not exist on the node"
                    )
                }
                if let index = spec.mounts.firstIndex(where: { $0.destination == mount.destination }) {
                    spec.mounts.remove(at: index)
                }
                spec.mounts.append(mount)
            }
            // Parents before children; a stable sort keeps the order of equal depths.
            spec.mounts = spec.mounts.enumerated().sorted { lhs, rhs in
                let (left, right) = (depth(lhs.element.destination), depth(rhs.element.destination))
                return left != right ? left < right : lhs.offset < rhs.offset
            }.map(\.element)
        }

        if !edits.hooks.isEmpty {
            var hooks = spec.hooks ?? RuntimeSpec.Hooks()
            hooks.append(contentsOf: edits.hooks)
            spec.hooks = hooks
        }
        for gid in edits.additionalGids where !(spec.process.user.additionalGids ?? []).contains(gid) {
            spec.process.user.additionalGids = (spec.process.user.additionalGids ?? []) + [gid]
        }
        if let rdt = edits.intelRdt { spec.linux.intelRdt = rdt }
    }

    /// The number of components of a cleaned destination ("/" is 0, "/a/b" 2).
    static func depth(_ destination: String) -> Int {
        destination.split(separator: "/").filter { $0 != "." }.count
    }

    static func isBind(_ mount: RuntimeSpec.Mount) -> Bool {
        mount.type == "bind" || (mount.options ?? []).contains { $0 == "bind" || $0 == "rbind" }
    }
}
