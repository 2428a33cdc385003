import CLinuxShim

#if canImport(Glibc)
import Glibc
#endif

/// Operations on whole directory trees that never follow a symlink, so a tree built from
/// hostile input (an image layer) cannot redirect them outside itself.
public enum DirectoryTree {
    /// `rm -rf path`, descending through directory fds opened with O_NOFOLLOW; a missing path
    /// is not an error.
    public static func remove(_ path: String) throws(SystemCallError) {
        guard let type = try FileSystem.type(of: path) else { return }
        guard type == .directory else {
            try FileSystem.removeIfPresent(path)
            return
        }
        let fd = try systemCall("open", path) { open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        try removeContents(of: fd, path: path)
        close(fd)
        try systemCall("rmdir", path) { rmdir(path) }
    }

    /// Removes everything inside the directory `fd` (which stays open and is not closed).
    public static func removeContents(of fd: Int32, path: String) throws(SystemCallError) {
        let duplicate = try systemCall("dup", path) { dup(fd) }
        guard let directory = fdopendir(duplicate) else {
            close(duplicate)
            throw SystemCallError("fdopendir", path, errno: errno)
        }
        defer { closedir(directory) }
        var names: [(String, Bool)] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            names.append((name, entry.pointee.d_type == UInt8(DT_DIR)))
        }
        for (name, isDirectory) in names {
            if isDirectory {
                let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if child >= 0 {
                    try removeContents(of: child, path: path + "/" + name)
                    close(child)
                }
                try systemCall("unlinkat", path + "/" + name) { unlinkat(fd, name, AT_REMOVEDIR) }
            } else if unlinkat(fd, name, 0) != 0 && errno != ENOENT {
                if errno == EISDIR {
                    let child = try systemCall("openat", path + "/" + name) {
                        openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    }
                    try removeContents(of: child, path: path + "/" + name)
                    close(child)
                    try systemCall("unlinkat", path + "/" + name) { unlinkat(fd, name, AT_REMOVEDIR) }
                } else {
                    throw SystemCallError("unlinkat", path + "/" + name, errno: errno)
                }
            }
        }
    }

    /// Calls `body` with the lstat of `path` and of everything below it, without following
    /// symlinks; what cannot be read is skipped.
    public static func forEachEntry(_ path: String, _ body: (stat) -> Void) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        body(info)
        guard info.st_mode & S_IFMT == S_IFDIR, let names = FileSystem.directoryEntries(path) else { return }
        for name in names { forEachEntry(path + "/" + name, body) }
    }

    /// The highest owner uid and gid of anything at or below `path`, without following symlinks
    /// (what a user namespace must map for every file of an image layer to have its owner).
    public static func highestOwners(_ path: String) -> (uid: UInt32, gid: UInt32) {
        var highest: (uid: UInt32, gid: UInt32) = (0, 0)
        forEachEntry(path) { highest = (max(highest.uid, $0.st_uid), max(highest.gid, $0.st_gid)) }
        return highest
    }

    /// Bytes (allocated blocks) and inodes used below `path`, without following symlinks.
    public static func usage(_ path: String) -> (bytes: Int64, inodes: Int64) {
        var total: (bytes: Int64, inodes: Int64) = (0, 0)
        forEachEntry(path) {
            total.bytes += Int64($0.st_blocks) * 512
            total.inodes += 1
        }
        return total
    }
}

/// openat2(2): opens `path` below the directory `directoryFD` with the kernel enforcing that the
/// walk stays beneath it (RESOLVE_BENEATH) and, by default, crosses no symlink at all.
public func openBeneath(
    _ directoryFD: Int32,
    _ path: String,
    flags: Int32,
    mode: mode_t = 0,
    allowSymlinks: Bool = false
) throws(SystemCallError) -> Int32 {
    var resolve = UInt64(SKIFF_RESOLVE_BENEATH | SKIFF_RESOLVE_NO_MAGICLINKS)
    if !allowSymlinks { resolve |= UInt64(SKIFF_RESOLVE_NO_SYMLINKS) }
    return try systemCall("openat2", path) {
        skiff_openat2(directoryFD, path, UInt64(UInt32(bitPattern: flags | O_CLOEXEC)), UInt64(mode), resolve)
    }
}

/// Reads a small file of a container's root filesystem as the container would see it: symlinks
/// are followed but resolved inside `root` (RESOLVE_IN_ROOT), so a hostile image's
/// `/etc/passwd -> /etc/shadow` reads its own file, never the node's.
public func readFileInRoot(_ root: String, _ path: String, limit: Int = 1 << 20) throws(SystemCallError) -> [UInt8] {
    let rootFD = try systemCall("open", root) { open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    defer { close(rootFD) }
    let fd = try systemCall("openat2", path) {
        skiff_openat2(
            rootFD,
            path,
            UInt64(UInt32(bitPattern: O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)),
            0,
            UInt64(SKIFF_RESOLVE_IN_ROOT | SKIFF_RESOLVE_NO_MAGICLINKS)
        )
    }
    defer { close(fd) }
    var status = stat()
    guard fstat(fd, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
        throw SystemCallError("open", path + " (not a regular file)", errno: EINVAL)
    }
    return try FileSystem.readAll(fd, path: path, limit: limit)
}

/// Whether `path` is an executable regular file in a container's root filesystem, resolved as
/// the container would (symlinks followed inside `root`, RESOLVE_IN_ROOT).
public func isExecutableFileInRoot(_ root: String, _ path: String) -> Bool {
    let rootFD = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard rootFD >= 0 else { return false }
    defer { close(rootFD) }
    let openPath: Int32 = 0o10000000  // O_PATH, which Glibc's Swift module does not export
    let fd = skiff_openat2(
        rootFD,
        path,
        UInt64(UInt32(bitPattern: openPath | O_CLOEXEC)),
        0,
        UInt64(SKIFF_RESOLVE_IN_ROOT | SKIFF_RESOLVE_NO_MAGICLINKS)
    )
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var status = stat()
    return fstat(fd, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG && (status.st_mode & 0o111) != 0
}

/// The target of `path` when it is a symlink in a container's root filesystem (its parent
/// resolved inside `root`), nil otherwise.
public func symlinkTargetInRoot(_ root: String, _ path: String) -> String? {
    let parent = FileSystem.parentDirectory(of: path)
    let name = String(path.split(separator: "/").last ?? "")
    guard !name.isEmpty, name != ".", name != ".." else { return nil }
    let rootFD = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard rootFD >= 0 else { return nil }
    defer { close(rootFD) }
    let parentFD = skiff_openat2(
        rootFD,
        parent.isEmpty ? "." : parent,
        UInt64(UInt32(bitPattern: O_RDONLY | O_DIRECTORY | O_CLOEXEC)),
        0,
        UInt64(SKIFF_RESOLVE_IN_ROOT | SKIFF_RESOLVE_NO_MAGICLINKS)
    )
    guard parentFD >= 0 else { return nil }
    defer { close(parentFD) }
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlinkat(parentFD, name, &buffer, buffer.count - 1)
    guard count > 0 else { return nil }
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
