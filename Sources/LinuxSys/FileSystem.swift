#if canImport(Glibc)
import Glibc
#endif

/// Small, typed wrappers over the file system calls the daemon needs, with EINTR retried.
public enum FileSystem {
    public enum FileType: Sendable, Equatable {
        case regular, directory, symlink, socket, fifo, characterDevice, blockDevice, unknown
    }

    /// The type of `path` without following a final symlink; nil if it does not exist.
    public static func type(of path: String) throws(SystemCallError) -> FileType? {
        var info = stat()
        do {
            try systemCall("lstat", path) { lstat(path, &info) }
        } catch {
            if error.errno == ENOENT { return nil }
            throw error
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .directory
        case S_IFLNK: return .symlink
        case S_IFSOCK: return .socket
        case S_IFIFO: return .fifo
        case S_IFCHR: return .characterDevice
        case S_IFBLK: return .blockDevice
        default: return .unknown
        }
    }

    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// True for a regular file (symlinks followed) that this process may execute.
    public static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return false }
        return access(path, X_OK) == 0
    }

    /// lchown(2): the owner of `path` itself (a symlink is not followed).
    public static func changeOwner(_ path: String, uid: UInt32, gid: UInt32) throws(SystemCallError) {
        try systemCall("lchown", path) { lchown(path, uid, gid) }
    }

    /// Whether `path` is a directory (following symlinks).
    public static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
    }

    /// `mkdir -p` with `mode` for the directories it creates (existing ones are left as they are).
    public static func makeDirectories(_ path: String, mode: mode_t) throws(SystemCallError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, mode) == 0 {
                // mkdir applies the umask; the caller asked for this mode exactly.
                try systemCall("chmod", prefix) { chmod(prefix, mode) }
                continue
            }
            let code = errno
            if code == EEXIST, try type(of: prefix) == .directory { continue }
            if code == EEXIST { throw SystemCallError("mkdir", prefix, errno: ENOTDIR) }
            throw SystemCallError("mkdir", prefix, errno: code)
        }
    }

    /// Removes a file or empty directory; a missing path is not an error.
    public static func removeIfPresent(_ path: String) throws(SystemCallError) {
        if unlink(path) == 0 || errno == ENOENT { return }
        if errno == EISDIR, rmdir(path) == 0 || errno == ENOENT { return }
        throw SystemCallError("unlink", path, errno: errno)
    }

    public static func setMode(_ path: String, _ mode: mode_t) throws(SystemCallError) {
        try systemCall("chmod", path) { chmod(path, mode) }
    }

    public static func setOwner(_ path: String, user: uid_t, group: gid_t) throws(SystemCallError) {
        try systemCall("chown", path) { chown(path, user, group) }
    }

    /// Reads a whole (small) file such as those in /proc and /sys.
    public static func readText(_ path: String, limit: Int = 1 << 20) throws(SystemCallError) -> String {
        String(decoding: try readBytes(path, limit: limit), as: UTF8.self)
    }

    /// Reads a whole (small) file's bytes, at most `limit` of them.
    public static func readBytes(_ path: String, limit: Int = 1 << 20) throws(SystemCallError) -> [UInt8] {
        let fd = try systemCall("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        return try readAll(fd, path: path, limit: limit)
    }

    /// Reads an open file to its end, at most `limit` bytes (`path` names it in errors).
    static func readAll(_ fd: Int32, path: String, limit: Int) throws(SystemCallError) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while bytes.count < limit {
            let count = try systemCall("read", path) {
                buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        return Array(bytes.prefix(limit))
    }

    /// Writes `bytes` to `path` so that a crash leaves either the old file or the new one, never
    /// a mix: a temporary file (`<path>.tmp-<pid>-<random>`) in the same directory is written, fsynced and renamed over `path`,
    /// then the directory is fsynced so the rename itself is durable.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(SystemCallError) {
        let directory = parentDirectory(of: path)
        // Unique per write, not only per process: two writes of one path at once (two pods
        // preparing the shared pause root) must not rename each other's temporary file away.
        var random = SystemRandomNumberGenerator()
        let temporary = "\(path).tmp-\(getpid())-\(String(random.next() as UInt64, radix: 16))"
        let fd = try systemCall("open", temporary) { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        var succeeded = false
        defer {
            if !succeeded { unlink(temporary) }
        }
        do {
            var offset = 0
            while offset < bytes.count {
                let written = try systemCall("write", temporary) {
                    bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
                }
                offset += written
            }
            try systemCall("fsync", temporary) { fsync(fd) }
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        try systemCall("rename", path) { rename(temporary, path) }
        succeeded = true
        let directoryFD = try systemCall("open", directory) { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(directoryFD) }
        try systemCall("fsync", directory) { fsync(directoryFD) }
    }

    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Names in a directory, without "." and "..", sorted; nil if it cannot be read.
    public static func directoryEntries(_ path: String) -> [String]? {
        guard let directory = opendir(path) else { return nil }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

extension FileSystem {
    /// Detaches the mount at `path` (lazy unmount); a path that is not mounted is not an error.
    public static func unmount(_ path: String) throws(SystemCallError) {
        if umount2(path, Int32(MNT_DETACH)) == 0 || errno == EINVAL || errno == ENOENT { return }
        throw SystemCallError("umount2", path, errno: errno)
    }
}

extension FileSystem {
    /// The target of a symlink.
    public static func readLink(_ path: String) throws(SystemCallError) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = try systemCall("readlink", path) { readlink(path, &buffer, buffer.count - 1) }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension FileSystem {
    /// `name` in the directory of the running executable: skiffd's helpers (skiff-pinns,
    /// skiff-pause) are installed beside it, and tests build them beside the test runner.
    public static func besideExecutable(_ name: String) -> String {
        // try?: /proc/self/exe is always there; were it not, the file is looked for in "/",
        // where it is missing, and its user says so.
        parentDirectory(of: (try? readLink("/proc/self/exe")) ?? "") + "/" + name
    }
}

extension FileSystem {
    /// Size and inode counts of a mounted filesystem (statvfs).
    public struct Capacity: Sendable, Equatable {
        public var totalBytes: UInt64
        /// Free to an unprivileged user (f_bavail).
        public var availableBytes: UInt64
        public var inodes: UInt64
        public var freeInodes: UInt64

        public init(totalBytes: UInt64, availableBytes: UInt64, inodes: UInt64, freeInodes: UInt64) {
            self.totalBytes = totalBytes
            self.availableBytes = availableBytes
            self.inodes = inodes
            self.freeInodes = freeInodes
        }
    }

    /// The capacity of the filesystem holding `path`.
    public static func capacity(of path: String) throws(SystemCallError) -> Capacity {
        var info = statvfs()
        try systemCall("statvfs", path) { statvfs(path, &info) }
        let fragment = UInt64(info.f_frsize)
        return Capacity(
            totalBytes: UInt64(info.f_blocks) &* fragment,
            availableBytes: UInt64(info.f_bavail) &* fragment,
            inodes: UInt64(info.f_files),
            freeInodes: UInt64(info.f_ffree)
        )
    }
}
