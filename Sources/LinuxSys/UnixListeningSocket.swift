#if canImport(Glibc)
import Glibc
#endif

/// A listening unix stream socket whose file has its final mode and group before anyone can
/// connect: it is bound, chmod'ed and chown'ed, and only then put into listening state.
public enum UnixListeningSocket {
    /// Binds `path`, replacing a stale socket file (never any other kind of file), and returns
    /// the listening descriptor. The parent directory is created with mode 0755.
    public static func listen(
        path: String,
        mode: mode_t,
        group: gid_t?,
        backlog: Int32 = 128
    ) throws(SystemCallError) -> Int32 {
        try FileSystem.makeDirectories(FileSystem.parentDirectory(of: path), mode: 0o755)
        switch try FileSystem.type(of: path) {
        case nil: break
        case .socket: try FileSystem.removeIfPresent(path)
        default: throw SystemCallError("bind", "\(path) exists and is not a socket", errno: EEXIST)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SystemCallError("bind", path, errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let fd = try systemCall("socket", path) {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do {
            try withUnsafePointer(to: &address) { pointer throws(SystemCallError) in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress throws(SystemCallError) in
                    _ = try systemCall("bind", path) {
                        bind(fd, socketAddress, socklen_t(MemoryLayout<sockaddr_un>.size))
                    }
                }
            }
            try FileSystem.setMode(path, mode)
            if let group { try FileSystem.setOwner(path, user: 0, group: group) }
            try systemCall("listen", path) { Glibc.listen(fd, backlog) }
            return fd
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
    }

    /// The numeric id of a group given by name or number; nil if there is no such group.
    public static func groupID(_ nameOrNumber: String) -> gid_t? {
        if let number = gid_t(nameOrNumber) { return number }
        var group = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getgrnam_r(nameOrNumber, &group, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return group.gr_gid
    }
}
