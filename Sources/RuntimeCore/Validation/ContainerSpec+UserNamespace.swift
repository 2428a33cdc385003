import SkiffCommon

/// CreateContainer's checks for pods with a user namespace: a container runs in its pod's user
/// namespace or not at all, and an idmapped volume uses the pod's own mappings (Skiff makes the
/// idmapped view with the pod's pinned namespace; the kubelet always sends the same mappings).
extension ContainerSpec {
    func checkUserNamespace(in sandbox: PodSandbox) throws(SkiffError) {
        let field = UserNamespaceOption.field
        switch (sandbox.userNamespace, userNamespace) {
        case (_, nil):
            break
        case (nil, let asked?):
            guard asked.mode == .node, asked.mapping.uids.isEmpty, asked.mapping.gids.isEmpty else {
                throw SkiffError.invalidArgument(
                    "\(field) asks for mode \(asked.mode.rawValue), but pod sandbox \(sandbox.id) runs in the node's user namespace"
                )
            }
        case (let podMapping?, let asked?):
            guard asked.mode == .pod else {
                throw SkiffError.invalidArgument(
                    "\(field) asks for mode \(asked.mode.rawValue), but pod sandbox \(sandbox.id) has its own user namespace (mode POD); its containers run in it"
                )
            }
            guard asked.mapping == podMapping else {
                throw SkiffError.invalidArgument(
                    "\(field) mappings (uids \(asked.mapping.uids), gids \(asked.mapping.gids)) differ from pod sandbox \(sandbox.id)'s (uids \(podMapping.uids), gids \(podMapping.gids))"
                )
            }
        }
        for (index, mount) in mounts.enumerated() {
            guard let mapping = mount.idMapping else { continue }
            guard let podMapping = sandbox.userNamespace else {
                throw SkiffError.invalidArgument(
                    "mounts[\(index)] (\(mount.containerPath)) has uid/gid mappings, but pod sandbox \(sandbox.id) has no user namespace"
                )
            }
            guard mapping == podMapping else {
                throw SkiffError.invalidArgument(
                    "mounts[\(index)] (\(mount.containerPath)) uid/gid mappings differ from the pod's user namespace; Skiff idmaps volumes with the pod's mappings"
                )
            }
            guard mount.image == nil else {
                throw SkiffError.invalidArgument(
                    "mounts[\(index)] (\(mount.containerPath)) is an image volume with uid/gid mappings; image volumes of a pod with a user namespace are idmapped with the pod's mappings already"
                )
            }
        }
    }
}

/// The process identity a container resolved to, checked against its pod's user namespace: an
/// ID the namespace does not map cannot be taken by the process (setuid fails inside the runtime
/// with a message naming neither the ID nor the mapping).
extension UserNamespaceMapping {
    func checkCovers(_ user: UserResolver.Resolved) throws(SkiffError) {
        guard hostUID(of: user.uid) != nil else {
            throw SkiffError.invalidArgument(
                "the container runs as uid \(user.uid), which the pod's user namespace does not map (\(uids.map(\.description).joined(separator: ", ")))"
            )
        }
        for gid in [user.gid] + user.additionalGids where hostGID(of: gid) == nil {
            throw SkiffError.invalidArgument(
                "the container runs with gid \(gid), which the pod's user namespace does not map (\(gids.map(\.description).joined(separator: ", ")))"
            )
        }
    }
}
