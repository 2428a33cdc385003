#if canImport(Glibc)
import Glibc
#endif

/// overlayfs mounts: a container's root filesystem is its image's layer snapshots (read-only
/// lower directories, top layer first) under a writable upper directory.
public enum OverlayMount {
    /// Mounts `lowerDirectories` (top layer first) at `target`; with `upper` and `work` the
    /// mount is writable, without them read-only (overlayfs then needs two lower layers or more,
    /// so a single layer is mounted read-only through a bind mount instead).
    public static func mount(
        lowerDirectories: [String],
        upper: String?,
        work: String?,
        target: String
    ) throws(SystemCallError) {
        guard !lowerDirectories.isEmpty else { throw SystemCallError("mount", target, errno: EINVAL) }
        for directory in lowerDirectories + [upper, work].compactMap({ $0 })
        where directory.contains(":") || directory.contains(",") {
            throw SystemCallError("mount", "overlay layer \(directory) has ':' or ','", errno: EINVAL)
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
}
