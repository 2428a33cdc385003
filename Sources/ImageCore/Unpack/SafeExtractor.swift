import CLinuxShim
import LinuxSys
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Writes tar entries into one snapshot directory and nowhere else.
///
/// Image layers are hostile input. Every path is cleaned first — `..` is refused, a leading `/`
/// is relative to the snapshot — and every parent directory is opened with openat2
/// (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so neither a `..` nor a symlink planted by an earlier
/// entry can lead outside: such an entry fails the layer with its name. The final component is
/// created relative to that parent fd with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW semantics. OCI
/// whiteouts become overlayfs whiteouts (0:0 character devices and the `trusted.overlay.opaque`
/// xattr).
struct SafeExtractor: TarEntrySink {
    static let whiteoutPrefix = ".wh."
    static let opaqueWhiteout = ".wh..wh..opq"

    let rootPath: String
    private let rootFD: Int32
    private var file: (fd: Int32, entry: TarEntry)?
    /// Directory times are set last: creating children would change them.
    private var directoryTimes: [(path: String, seconds: Int64, nanoseconds: Int64)] = []
    private(set) var bytesWritten: Int64 = 0

    init(rootPath: String) throws(SkiffError) {
        self.rootPath = rootPath
        do {
            rootFD = try systemCall("open", rootPath) {
                open(rootPath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
        } catch {
            throw error.skiffError("cannot open the snapshot directory")
        }
    }

    func close() {
        if let file { Glibc.close(file.fd) }
        Glibc.close(rootFD)
    }

    mutating func begin(_ entry: TarEntry) throws(SkiffError) {
        let components = try Self.clean(entry.path, entry: entry.path)
        guard let name = components.last else {
            // "./": the layer's root directory itself.
            if entry.kind == .directory { try applyOwnership(fd: rootFD, name: "", entry: entry, isSymlink: false) }
            return
        }
        let parent = try openParent(components.dropLast(), entry: entry.path)
        defer { Glibc.close(parent) }

        if name == Self.opaqueWhiteout {
            try fail(entry.path, "cannot mark the directory opaque") {
                fsetxattr(parent, "trusted.overlay.opaque", "y", 1, 0)
            }
            return
        }
        if name.hasPrefix(Self.whiteoutPrefix) {
            let hidden = String(name.dropFirst(Self.whiteoutPrefix.count))
            guard !hidden.isEmpty, !hidden.hasPrefix(".wh.") else { return }  // .wh..wh.* are AUFS bookkeeping
            try removeExisting(parent, hidden, entry: entry.path)
            try fail(entry.path, "cannot create the whiteout") {
                mknodat(parent, hidden, S_IFCHR | 0o000, skiff_makedev(0, 0))
            }
            return
        }

        switch entry.kind {
        case .directory:
            if mkdirat(parent, name, 0o700) != 0 {
                guard errno == EEXIST else { throw failure(entry.path, "cannot create the directory", errno) }
                if try isDirectory(parent, name) == false {
                    try removeExisting(parent, name, entry: entry.path)
                    try fail(entry.path, "cannot create the directory") { mkdirat(parent, name, 0o700) }
                }
            }
            let directory = try fail(entry.path, "cannot open the directory") {
                openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            defer { Glibc.close(directory) }
            try applyOwnership(fd: directory, name: "", entry: entry, isSymlink: false)
            directoryTimes.append(
                (components.joined(separator: "/"), entry.modificationSeconds, entry.modificationNanoseconds)
            )
        case .regular:
            try removeExisting(parent, name, entry: entry.path)
            let fd = try fail(entry.path, "cannot create the file") {
                openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            }
            file = (fd, entry)
        case .symlink:
            try removeExisting(parent, name, entry: entry.path)
            // The target is stored as text and never followed here; the container's root confines it.
            try fail(entry.path, "cannot create the symlink") { symlinkat(entry.linkName, parent, name) }
            try applyOwnership(fd: parent, name: name, entry: entry, isSymlink: true)
        case .hardLink:
            let target = try Self.clean(entry.linkName, entry: entry.path)
            guard let targetName = target.last else {
                throw SkiffError(.invalidArgument, "layer entry \"\(entry.path)\" is a hard link to the layer root")
            }
            let targetParent = try openParent(target.dropLast(), entry: entry.path)
            defer { Glibc.close(targetParent) }
            var info = stat()
            guard fstatat(targetParent, targetName, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw SkiffError(
                    .invalidArgument,
                    "layer entry \"\(entry.path)\" is a hard link to \"\(entry.linkName)\", which is not in this layer"
                )
            }
            guard info.st_mode & S_IFMT != S_IFDIR else {
                throw SkiffError(
                    .invalidArgument,
                    "layer entry \"\(entry.path)\" is a hard link to the directory \"\(entry.linkName)\""
                )
            }
            try removeExisting(parent, name, entry: entry.path)
            try fail(entry.path, "cannot create the hard link") { linkat(targetParent, targetName, parent, name, 0) }
        case .characterDevice, .blockDevice, .fifo:
            try removeExisting(parent, name, entry: entry.path)
            let type: mode_t = entry.kind == .fifo ? S_IFIFO : entry.kind == .characterDevice ? S_IFCHR : S_IFBLK
            try fail(entry.path, "cannot create the device node") {
                mknodat(
                    parent,
                    name,
                    type | mode_t(entry.mode & 0o777),
                    skiff_makedev(entry.deviceMajor, entry.deviceMinor)
                )
            }
            try applyOwnership(fd: parent, name: name, entry: entry, isSymlink: false)
        }
    }

    mutating func content(_ bytes: UnsafeRawBufferPointer) throws(SkiffError) {
        guard let file else { return }
        var offset = 0
        while offset < bytes.count {
            let written = write(file.fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw failure(file.entry.path, "cannot write the file", errno)
            }
            offset += written
        }
        bytesWritten += Int64(bytes.count)
    }

    mutating func end() throws(SkiffError) {
        guard let (fd, entry) = file else { return }
        file = nil
        defer { Glibc.close(fd) }
        try applyOwnership(fd: fd, name: "", entry: entry, isSymlink: false)
        var times = [
            timespec(tv_sec: Int(entry.modificationSeconds), tv_nsec: Int(entry.modificationNanoseconds)),
            timespec(tv_sec: Int(entry.modificationSeconds), tv_nsec: Int(entry.modificationNanoseconds)),
        ]
        futimens(fd, &times)
    }

    /// Sets the deferred directory times; call once after the last entry.
    func finish() throws(SkiffError) {
        for directory in directoryTimes.reversed() {
            var times = [
                timespec(tv_sec: Int(directory.seconds), tv_nsec: Int(directory.nanoseconds)),
                timespec(tv_sec: Int(directory.seconds), tv_nsec: Int(directory.nanoseconds)),
            ]
            // try?: a directory that a later entry removed or replaced has no times to restore.
            let fd = (try? openBeneath(rootFD, directory.path, flags: O_RDONLY | O_DIRECTORY)) ?? -1
            if fd >= 0 {
                futimens(fd, &times)
                Glibc.close(fd)
            }
        }
    }

    // MARK: Helpers

    /// Splits a tar path into clean components: "" and "." dropped, a leading "/" ignored, ".." refused.
    static func clean(_ path: String, entry: String) throws(SkiffError) -> [String] {
        guard !path.utf8.contains(0) else {
            throw SkiffError(.invalidArgument, "layer entry \"\(entry)\" has a NUL byte in a path")
        }
        var components: [String] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) where component != "." {
            if component == ".." {
                throw SkiffError(
                    .invalidArgument,
                    "layer entry \"\(entry)\" refers to \"\(path)\", which leaves the layer (path traversal)"
                )
            }
            guard component.utf8.count <= 255 else {
                throw SkiffError(.invalidArgument, "layer entry \"\(entry)\" has a path component over 255 bytes")
            }
            components.append(String(component))
        }
        return components
    }

    /// Opens (creating as needed) the directory `components` below the root without crossing a
    /// symlink; returns its fd.
    private func openParent(_ components: ArraySlice<String>, entry: String) throws(SkiffError) -> Int32 {
        if components.isEmpty { return try fail(entry, "cannot open the layer root") { dup(rootFD) } }
        let path = components.joined(separator: "/")
        do {
            return try openBeneath(rootFD, path, flags: O_RDONLY | O_DIRECTORY)
        } catch let error where error.errno == ENOENT {
            // Create the missing directories one by one, each checked the same way.
            var current = try fail(entry, "cannot open the layer root") { dup(rootFD) }
            for component in components {
                if mkdirat(current, component, 0o755) != 0 && errno != EEXIST {
                    let code = errno
                    Glibc.close(current)
                    throw failure(entry, "cannot create the directory \"\(component)\"", code)
                }
                let next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                let code = errno
                Glibc.close(current)
                guard next >= 0 else { throw escape(entry, path, code) }
                current = next
            }
            return current
        } catch {
            throw escape(entry, path, error.errno)
        }
    }

    private func escape(_ entry: String, _ path: String, _ code: Int32) -> SkiffError {
        if code == ELOOP || code == ENOTDIR || code == EXDEV {
            return SkiffError(
                .invalidArgument,
                "layer entry \"\(entry)\" goes through \"\(path)\", which is a symlink or not a directory in the layer (possible symlink escape); refused"
            )
        }
        return failure(entry, "cannot open the directory \"\(path)\"", code)
    }

    private func isDirectory(_ parent: Int32, _ name: String) throws(SkiffError) -> Bool {
        var info = stat()
        guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return false }
        return info.st_mode & S_IFMT == S_IFDIR
    }

    /// Tar semantics: a later entry replaces an earlier one of the same name (a directory only if
    /// the new entry is not a directory).
    private func removeExisting(_ parent: Int32, _ name: String, entry: String) throws(SkiffError) {
        if unlinkat(parent, name, 0) == 0 || errno == ENOENT { return }
        if errno == EISDIR {
            let directory = try fail(entry, "cannot open the directory it replaces") {
                openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            do throws(SystemCallError) {
                try DirectoryTree.removeContents(of: directory, path: name)
            } catch {
                Glibc.close(directory)
                throw error.skiffError("layer entry \"\(entry)\": cannot replace the directory \"\(name)\"")
            }
            Glibc.close(directory)
            try fail(entry, "cannot replace the directory") { unlinkat(parent, name, AT_REMOVEDIR) }
            return
        }
        throw failure(entry, "cannot replace \"\(name)\"", errno)
    }

    /// Owner, then mode (chown clears set-id bits), then xattrs; on `fd` itself when `name` is
    /// empty, else on `name` below it without following a symlink.
    private func applyOwnership(fd: Int32, name: String, entry: TarEntry, isSymlink: Bool) throws(SkiffError) {
        try fail(entry.path, "cannot set the owner") {
            fchownat(fd, name, entry.uid, entry.gid, name.isEmpty ? Int32(SKIFF_AT_EMPTY_PATH) : AT_SYMLINK_NOFOLLOW)
        }
        if isSymlink {
            var times = [
                timespec(tv_sec: Int(entry.modificationSeconds), tv_nsec: Int(entry.modificationNanoseconds)),
                timespec(tv_sec: Int(entry.modificationSeconds), tv_nsec: Int(entry.modificationNanoseconds)),
            ]
            utimensat(fd, name, &times, AT_SYMLINK_NOFOLLOW)
            return
        }
        if name.isEmpty {
            try fail(entry.path, "cannot set the mode") { fchmod(fd, mode_t(entry.mode)) }
        } else {
            try fail(entry.path, "cannot set the mode") { fchmodat(fd, name, mode_t(entry.mode), 0) }
        }
        for xattr in entry.xattrs where Self.isAllowedXattr(xattr.name) {
            let result = xattr.value.withUnsafeBytes { value in
                name.isEmpty
                    ? fsetxattr(fd, xattr.name, value.baseAddress, value.count, 0)
                    : lsetxattr("/proc/self/fd/\(fd)/\(name)", xattr.name, value.baseAddress, value.count, 0)
            }
            guard result != 0 else { continue }
            // user.* is not allowed on device nodes, and some filesystems have no xattrs: skip those.
            if errno == ENOTSUP || (errno == EPERM && xattr.name.hasPrefix("user.") && !name.isEmpty) { continue }
            throw failure(entry.path, "cannot set the extended attribute \(xattr.name)", errno)
        }
    }

    /// Layers may carry user and security xattrs (file capabilities); never overlayfs's own.
    static func isAllowedXattr(_ name: String) -> Bool {
        (name.hasPrefix("user.") || name.hasPrefix("security.") || name.hasPrefix("trusted."))
            && !name.hasPrefix("trusted.overlay.")
    }

    @discardableResult
    private func fail(_ entry: String, _ what: String, _ call: () -> Int32) throws(SkiffError) -> Int32 {
        let result = call()
        guard result < 0 else { return result }
        throw failure(entry, what, errno)
    }

    private func failure(_ entry: String, _ what: String, _ code: Int32) -> SkiffError {
        let cause = SystemCallError("extract", entry, errno: code)
        return SkiffError(
            code == ENOSPC ? .resourceExhausted : .internalError,
            "layer entry \"\(entry)\": \(what)",
            cause: cause
        )
    }
}
