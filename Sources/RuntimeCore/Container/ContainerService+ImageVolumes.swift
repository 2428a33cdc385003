import FoundationEssentials
import ImageCore
import LinuxSys
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Image volumes (KEP-4639, `Mount.image`): an image already on the node, mounted read-only at
/// a container path. Each is a read-only overlay of the image's snapshots (leased like a root
/// filesystem's, so removing the image keeps them while the container exists) at
/// `<writable layer dir>/image-volumes/<index>`, bound into the container like a host path.
extension ContainerService {
    struct MountedImageVolumes {
        /// The spec with each image volume's host path set to its mounted view.
        var spec: ContainerSpec
        /// The mounts as the record keeps them: the image, its sub-path and the image ID.
        var recorded: [ContainerSpec.Mount]
    }

    static let imageVolumesDirectory = "image-volumes"

    /// Mounts every image volume of `spec` under `layerDirectory`, adding the layers it leases
    /// to `leasedLayers` as it goes. On a failure what was mounted and leased stays for the
    /// caller's undo of the whole creation (`releaseFilesystem` unmounts the volumes and
    /// releases `leasedLayers`).
    func mountImageVolumes(
        _ spec: ContainerSpec,
        in layerDirectory: String,
        idmappedBy userNamespace: String?,
        leasing leasedLayers: inout [Digest]
    ) async throws(SkiffError) -> MountedImageVolumes {
        var result = MountedImageVolumes(spec: spec, recorded: spec.mounts)
        for (index, mount) in spec.mounts.enumerated() {
            guard let reference = mount.image else { continue }
            guard let image = await images.image(reference) else {
                throw SkiffError(
                    .notFound,
                    "image volume \(reference) at \(mount.containerPath) is not present on this node; pull it first"
                )
            }
            let lowerDirectories = try await images.leaseLayers(of: image)
            leasedLayers += image.chainIDs
            let view = "\(layerDirectory)/\(Self.imageVolumesDirectory)/\(index)"
            do {
                try FileSystem.makeDirectories(view, mode: 0o755)
                try OverlayMount.mount(
                    lowerDirectories: lowerDirectories,
                    upper: nil,
                    work: nil,
                    target: view,
                    idmappedBy: userNamespace
                )
            } catch {
                throw error.skiffError("cannot mount image volume \(reference) at \(mount.containerPath)")
            }
            var source = view
            if let subPath = mount.imageSubPath {
                source = try Self.imageSubPath(subPath, in: view, image: reference)
            }
            result.spec.mounts[index].hostPath = source
            result.spec.mounts[index].readOnly = true
            result.recorded[index].imageID = image.id.description
        }
        return result
    }

    /// `subPath` inside the mounted image: every component must exist and none may be a
    /// symlink (an image is hostile input: a link would make the runtime bind a path of the
    /// node's, as it resolves the source outside the container).
    static func imageSubPath(_ subPath: String, in view: String, image: String) throws(SkiffError) -> String {
        var path = view
        for component in subPath.split(separator: "/") where component != "." {
            path += "/" + component
            var status = stat()
            guard lstat(path, &status) == 0 else {
                throw SkiffError.invalidArgument("image_sub_path \"\(subPath)\" does not exist in image \(image)")
            }
            guard status.st_mode & S_IFMT != S_IFLNK else {
                throw SkiffError.invalidArgument(
                    "image_sub_path \"\(subPath)\" of image \(image) goes through a symbolic link (\(component)); name the real directory"
                )
            }
        }
        return path
    }

    /// Unmounts the image volumes and idmapped volume views of a container's writable layer
    /// directory (before it goes).
    func unmountImageVolumes(in layerDirectory: String) {
        for kind in [Self.imageVolumesDirectory, Self.idmappedVolumesDirectory] {
            let volumes = layerDirectory + "/" + kind
            for name in FileSystem.directoryEntries(volumes) ?? [] {
                logger.logFailure(.warning, "cannot unmount a volume view", metadata: ["path": "\(volumes)/\(name)"]) {
                    () throws(SystemCallError) in try FileSystem.unmount(volumes + "/" + name)
                }
            }
        }
    }
}
