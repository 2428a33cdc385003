#if canImport(Glibc)
import Glibc
#endif

/// overlayfs mounts: a container's root filesystem is its image's layer snapshots (read-only
/// lower directories, top layer first) under a writable upper directory.
public enum OverlayMount {
    /// Mounts `lowerDirectories` (top layer first) at `target`; with `upper` and `work` the
    /// mount is writable, without them read-only (overlayfs then needs two lower layers or more,
    /// so a single layer is mounted read-only through a bind mount instead).
    ///
    /// With `idmappedBy` (a pinned user namespace) each lower directory is seen through that
    /// namespace's ID mapping (`IDMappedMount`): files the node's root owns in the shared layer
    /// snapshots belong to the namespace's root in the mount, and the layers stay untouched for
    /// every other container. The upper directory is not idmapped: what the container writes is
    /// stored with its node IDs, which the same mapping shows back as its own.
    public static func mount(
        lowerDirectories: [String],
        upper: String?,
        work: String?,
        target: String,
        idmappedBy userNamespace: String? = nil
    ) throws(SystemCallError) {
        guard !lowerDirectories.isEmpty else { throw SystemCallError("mount", target, errno: EINVAL) }
        for directory in lowerDirectories + [upper, work].compactMap({ $0 })
        where directory.contains(":") || directory.contains(",") {
            throw SystemCallError("mount", "overlay layer \(directory) has ':' or ','", errno: EINVAL)
        }
        if let userNamespace {
            try mountIDMapped(lowerDirectories, upper: upper, work: work, target: target, userNamespace: userNamespace)
            return
        }
        if upper == nil && lowerDirectories.count == 1 {
            try systemCall("mount", target) { Glibc.mount(lowerDirectories[0], target, nil, UInt(MS_BIND), nil) }
            try systemCall("mount", target) {
                Glibc.mount(nil, target, nil, UInt(MS_BIND | MS_REMOUNT | MS_RDONLY), nil)
            }
            return
        }
        var options = "lowerdir=" + lowerDirectories.joined(separator: ":")
        if let upper, let work { options += ",upperdir=\(upper),workdir=\(work)" }
        let flags: UInt = upper == nil ? UInt(MS_RDONLY) : 0
        try systemCall("mount", target) { Glibc.mount("overlay", target, "overlay", flags, options) }
    }

    /// The idmapped form: each layer a detached idmapped view reached as /proc/self/fd/N while
    /// overlayfs is mounted (it keeps its own private copy of each layer's mount), then closed,
    /// so nothing but the overlay is left in the mount table.
    private static func mountIDMapped(
        _ lowerDirectories: [String],
        upper: String?,
        work: String?,
        target: String,
        userNamespace: String
    ) throws(SystemCallError) {
        if upper == nil && lowerDirectories.count == 1 {
            try IDMappedMount.mountView(
                of: lowerDirectories[0],
                at: target,
                userNamespace: userNamespace,
                readOnly: true
            )
            return
        }
        var views: [Int32] = []
        defer { for view in views { close(view) } }
        for directory in lowerDirectories {
            views.append(try IDMappedMount.detachedView(of: directory, userNamespace: userNamespace, recursive: false))
        }
        var options = "lowerdir=" + views.map(IDMappedMount.path(of:)).joined(separator: ":")
        if let upper, let work { options += ",upperdir=\(upper),workdir=\(work)" }
        let flags: UInt = upper == nil ? UInt(MS_RDONLY) : 0
        try systemCall("mount", target) { Glibc.mount("overlay", target, "overlay", flags, options) }
    }
}
