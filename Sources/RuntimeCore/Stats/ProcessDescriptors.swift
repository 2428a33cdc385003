import LinuxSys

/// Open file descriptors and sockets of a container's processes, as cAdvisor counts them: the
/// entries of /proc/PID/fd, and those whose link reads `socket:[inode]`.
enum ProcessDescriptors {
    /// A process that exits while it is read counts what was read of it.
    static func count(pids: [Int32], procRoot: String = "/proc") -> (files: UInt64, sockets: UInt64) {
        var files: UInt64 = 0
        var sockets: UInt64 = 0
        for pid in pids {
            let directory = "\(procRoot)/\(pid)/fd"
            for entry in FileSystem.directoryEntries(directory) ?? [] {
                files += 1
                // try?: a descriptor closed since the directory was read is no longer open.
                if let target = try? FileSystem.readLink("\(directory)/\(entry)"), target.hasPrefix("socket:") {
                    sockets += 1
                }
            }
        }
        return (files, sockets)
    }
}

/// Names of block devices for the I/O metrics' `device` label ("/dev/sda"), from the kernel's
/// uevent file of the device number, as cAdvisor names them; "MAJ:MIN" when it has none.
enum BlockDeviceNames {
    static func name(major: UInt32, minor: UInt32, sysRoot: String = "/sys") -> String {
        // try?: a device without a readable uevent (gone, or not a block device) is named by number.
        let uevent = (try? FileSystem.readText("\(sysRoot)/dev/block/\(major):\(minor)/uevent", limit: 64 << 10)) ?? ""
        for line in uevent.split(separator: "\n") where line.hasPrefix("DEVNAME=") {
            return "/dev/" + line.dropFirst("DEVNAME=".count)
        }
        return "\(major):\(minor)"
    }
}

/// The device label of the filesystem metrics: the source of the mount holding `path` (the
/// longest mount point that contains it), as cAdvisor labels container_fs_* ("/dev/vda1").
enum FilesystemDevice {
    /// Of mounts stacked on one mount point, the last (the visible one).
    static func source(of path: String, in mounts: MountTable) -> String? {
        var best: MountTable.Entry?
        for entry in mounts.entries
        where entry.mountPoint == "/" || path == entry.mountPoint || path.hasPrefix(entry.mountPoint + "/") {
            if entry.mountPoint.count >= best?.mountPoint.count ?? 0 { best = entry }
        }
        return best?.source
    }
}
