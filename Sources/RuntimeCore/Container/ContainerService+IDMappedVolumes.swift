import LinuxSys
import SkiffCommon

/// Volumes with ID mappings (`Mount.uid_mappings`/`gid_mappings`, which the kubelet sets for
/// the volumes of a pod with a user namespace): each host path is seen through an idmapped
/// view made with the pod's pinned user namespace — files the node's root owns belong to the
/// pod's root — at `<writable layer dir>/idmapped-volumes/<index>`, and the runtime binds that
/// view like any host path. Made here rather than by the runtime because runc 1.1 cannot.
extension ContainerService {
    static let idmappedVolumesDirectory = "idmapped-volumes"

    /// `spec` with each idmapped volume's host path replaced by its view. On a failure what was
    /// mounted stays for the caller's undo (`releaseFilesystem` unmounts every view).
    func mountIDMappedVolumes(
        _ spec: ContainerSpec,
        in layerDirectory: String,
        userNamespace: String?
    ) throws(SkiffError) -> ContainerSpec {
        var result = spec
        for (index, mount) in spec.mounts.enumerated() where mount.idMapping != nil && mount.image == nil {
            guard let userNamespace else {
                throw SkiffError.invalidArgument(
                    "mounts[\(index)] (\(mount.containerPath)) has uid/gid mappings, but the pod has no user namespace"
                )
            }
            guard FileSystem.exists(mount.hostPath) else {
                throw SkiffError.invalidArgument(
                    "mounts[\(index)].host_path \(mount.hostPath) does not exist; an idmapped volume needs its source"
                )
            }
            let view = "\(layerDirectory)/\(Self.idmappedVolumesDirectory)/\(index)"
            do {
                try FileSystem.makeDirectories(
                    FileSystem.parentDirectory(of: view),
                    mode: 0o711
                )
                if FileSystem.isDirectory(mount.hostPath) {
                    try FileSystem.makeDirectories(view, mode: 0o755)
                } else {
                    try FileSystem.writeAtomically(view, [], mode: 0o644)
                }
                try IDMappedMount.mountView(
                    of: mount.hostPath,
                    at: view,
                    userNamespace: userNamespace,
                    readOnly: mount.readOnly
                )
            } catch {
                throw error.skiffError(
                    "cannot make the idmapped view of \(mount.hostPath) for \(mount.containerPath) (the node's kernel and filesystem must support idmapped mounts)"
                )
            }
            result.mounts[index].hostPath = view
        }
        return result
    }
}
