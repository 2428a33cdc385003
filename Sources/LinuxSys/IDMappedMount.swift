import CLinuxShim

#if canImport(Glibc)
import Glibc
#endif

/// Idmapped mounts (Linux 5.12+, mount_setattr MOUNT_ATTR_IDMAP): a view of a directory in which
/// every file's owner is shifted by a user namespace's ID mapping, without touching the files.
/// A pod with its own user namespace sees its image layers and volumes through such views, so
/// that files owned by the node's root are owned by the pod's root — the container's uid 0 is
/// an unprivileged uid on the node.
///
/// The views are made here, on the node side, rather than by the OCI runtime: every runtime
/// (runc 1.1 has no idmapped mounts) then gets ready-made paths.
public enum IDMappedMount {
    /// A detached copy of the mount tree at `path` seen through the ID mapping of the user
    /// namespace pinned at `userNamespace`. The caller owns the returned descriptor: it either
    /// attaches it (`attach(_:at:)`) or passes `/proc/self/fd/<fd>` where a path is expected,
    /// then closes it.
    public static func detachedView(
        of path: String,
        userNamespace: String,
        recursive: Bool,
        readOnly: Bool = false
    ) throws(SystemCallError) -> Int32 {
        let namespace = try systemCall("open", userNamespace) { open(userNamespace, O_RDONLY | O_CLOEXEC) }
        defer { close(namespace) }
        return try systemCall("open_tree+mount_setattr(idmap)", path) {
            skiff_open_idmapped_tree(path, namespace, recursive ? 1 : 0, readOnly ? 1 : 0)
        }
    }

    /// Attaches a detached view onto `target` (an existing directory, or file for a file).
    public static func attach(_ view: Int32, at target: String) throws(SystemCallError) {
        try systemCall("move_mount", target) { skiff_attach_mount(view, target) }
    }

    /// The path under which overlayfs and other path-taking calls reach a detached view.
    public static func path(of view: Int32) -> String { "/proc/self/fd/\(view)" }

    /// Mounts an idmapped view of `source` (recursively) at `target`: what a container binds
    /// for a volume with ID mappings.
    public static func mountView(
        of source: String,
        at target: String,
        userNamespace: String,
        readOnly: Bool
    )
        throws(SystemCallError)
    {
        let view = try detachedView(of: source, userNamespace: userNamespace, recursive: true, readOnly: readOnly)
        defer { close(view) }
        try attach(view, at: target)
    }
}
