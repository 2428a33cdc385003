import CLinuxShim
import FoundationEssentials
import LinuxSys
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Device nodes: the ones a container asks for by host path, or all of the node's for a
/// privileged container, with the cgroup rules that allow them.
extension ContainerSpecBuilder {
    static func hostDevice(
        _ device: ContainerSpec.Device
    ) throws(SkiffError) -> (RuntimeSpec.Linux.Device, RuntimeSpec.Resources.DeviceRule) {
        var status = stat()
        guard stat(device.hostPath, &status) == 0 else {
            throw SkiffError(.invalidArgument, "device \(device.hostPath) does not exist on the node")
        }
        let kind: String
        switch status.st_mode & S_IFMT {
        case S_IFCHR: kind = "c"
        case S_IFBLK: kind = "b"
        default: throw SkiffError.invalidArgument("\(device.hostPath) is not a device node")
        }
        let major = Int64(skiff_major(status.st_rdev))
        let minor = Int64(skiff_minor(status.st_rdev))
        let access = device.permissions.isEmpty ? "rwm" : device.permissions
        guard access.allSatisfy({ "rwm".contains($0) }) else {
            throw SkiffError.invalidArgument(
                "device permissions \"\(device.permissions)\" for \(device.hostPath): only r, w and m are allowed"
            )
        }
        let path = device.containerPath.isEmpty ? device.hostPath : device.containerPath
        return (
            .init(
                path: path,
                type: kind,
                major: major,
                minor: minor,
                fileMode: UInt32(status.st_mode & 0o777),
                uid: status.st_uid,
                gid: status.st_gid
            ),
            .init(allow: true, type: kind, major: major, minor: minor, access: access)
        )
    }

    /// Every device node of the node's /dev (privileged containers get them all).
    static func allHostDevices() -> [RuntimeSpec.Linux.Device] {
        var devices: [RuntimeSpec.Linux.Device] = []
        func walk(_ directory: String, depth: Int) {
            guard depth < 4 else { return }
            for name in FileSystem.directoryEntries(directory) ?? [] {
                let path = directory + "/" + name
                if ["/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/fd", "/dev/console"].contains(path) { continue }
                var status = stat()
                guard lstat(path, &status) == 0 else { continue }
                switch status.st_mode & S_IFMT {
                case S_IFDIR: walk(path, depth: depth + 1)
                case S_IFCHR, S_IFBLK:
                    devices.append(
                        .init(
                            path: path,
                            type: (status.st_mode & S_IFMT) == S_IFCHR ? "c" : "b",
                            major: Int64(skiff_major(status.st_rdev)),
                            minor: Int64(skiff_minor(status.st_rdev)),
                            fileMode: UInt32(status.st_mode & 0o777),
                            uid: status.st_uid,
                            gid: status.st_gid
                        )
                    )
                default: continue
                }
            }
        }
        walk("/dev", depth: 0)
        return devices
    }
}
