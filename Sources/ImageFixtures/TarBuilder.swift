/// Builds tar archives in memory, including the hostile ones the tests need (paths with `..`,
/// links out of the layer) that ordinary tools refuse to write.
public struct TarBuilder: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// Mode and owner of each regular file written, for the hard links to it: a hard link's
    /// header carries its inode's metadata, and containerd applies it to that inode.
    private var fileOwners: [String: (mode: UInt32, uid: UInt32, gid: UInt32)] = [:]

    public init() {}

    public enum Kind: UInt8, Sendable {
        case regular = 48
        case hardLink = 49
        case symlink = 50
        case characterDevice = 51
        case blockDevice = 52
        case directory = 53
        case fifo = 54
    }

    public mutating func file(
        _ path: String,
        _ content: [UInt8],
        mode: UInt32 = 0o644,
        uid: UInt32 = 0,
        gid: UInt32 = 0,
        mtime: Int64 = 1_700_000_000,
        xattrs: [String: String] = [:]
    ) {
        if !xattrs.isEmpty {
            pax(xattrs.map { ("SCHILY.xattr.\($0.key)", $0.value) }.sorted { $0.0 < $1.0 })
        }
        entry(path, kind: .regular, size: content.count, mode: mode, uid: uid, gid: gid, mtime: mtime)
        append(content)
        fileOwners[path] = (mode, uid, gid)
    }

    public mutating func file(_ path: String, _ text: String, mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0) {
        file(path, Array(text.utf8), mode: mode, uid: uid, gid: gid)
    }

    public mutating func directory(
        _ path: String,
        mode: UInt32 = 0o755,
        uid: UInt32 = 0,
        gid: UInt32 = 0,
        mtime: Int64 = 1_700_000_000
    ) {
        entry(
            path.hasSuffix("/") ? path : path + "/",
            kind: .directory,
            size: 0,
            mode: mode,
            uid: uid,
            gid: gid,
            mtime: mtime
        )
    }

    public mutating func symlink(_ path: String, to target: String) {
        entry(path, kind: .symlink, size: 0, mode: 0o777, linkName: target)
    }

    /// A hard link, with its target's mode and owner when the target was written by this builder
    /// (as tar writes them; an unpacker that applies a link's header to the shared inode, as
    /// containerd's does, would otherwise make an executable 0644).
    public mutating func hardLink(_ path: String, to target: String) {
        let owner = fileOwners[target] ?? (0o644, 0, 0)
        entry(path, kind: .hardLink, size: 0, mode: owner.mode, uid: owner.uid, gid: owner.gid, linkName: target)
    }

    public mutating func device(
        _ path: String,
        kind: Kind = .characterDevice,
        major: UInt32,
        minor: UInt32,
        mode: UInt32 = 0o666
    ) {
        entry(path, kind: kind, size: 0, mode: mode, major: major, minor: minor)
    }

    public mutating func fifo(_ path: String) {
        entry(path, kind: .fifo, size: 0, mode: 0o644)
    }

    /// An OCI whiteout: `path` is deleted from the layers below.
    public mutating func whiteout(_ path: String) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        file("\(directory).wh.\(name)", [UInt8]())
    }

    /// An opaque whiteout: the directory hides everything below it in lower layers.
    public mutating func opaque(_ directory: String) {
        file("\(directory.hasSuffix("/") ? directory : directory + "/").wh..wh..opq", [UInt8]())
    }

    /// The end-of-archive marker; the archive is complete after this.
    public mutating func finish() {
        bytes.append(contentsOf: [UInt8](repeating: 0, count: 1024))
    }

    public func finished() -> [UInt8] {
        var copy = self
        copy.finish()
        return copy.bytes
    }

    // MARK: Encoding

    mutating func pax(_ records: [(String, String)]) {
        var data: [UInt8] = []
        for (key, value) in records {
            let body = " \(key)=\(value)\n"
            var length = body.utf8.count + 1
            while String(length).utf8.count + body.utf8.count > length { length += 1 }
            data.append(contentsOf: Array("\(String(length))\(body)".utf8))
        }
        entry(
            "PaxHeaders/x",
            typeFlag: UInt8(ascii: "x"),
            size: data.count,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            linkName: "",
            major: 0,
            minor: 0
        )
        append(data)
    }

    mutating func entry(
        _ path: String,
        kind: Kind,
        size: Int,
        mode: UInt32,
        uid: UInt32 = 0,
        gid: UInt32 = 0,
        mtime: Int64 = 1_700_000_000,
        linkName: String = "",
        major: UInt32 = 0,
        minor: UInt32 = 0
    ) {
        if path.utf8.count > 100 || linkName.utf8.count > 100 {
            var records: [(String, String)] = []
            if path.utf8.count > 100 { records.append(("path", path)) }
            if linkName.utf8.count > 100 { records.append(("linkpath", linkName)) }
            pax(records)
        }
        entry(
            String(path.utf8.prefix(100))!,
            typeFlag: kind.rawValue,
            size: size,
            mode: mode,
            uid: uid,
            gid: gid,
            mtime: mtime,
            linkName: String(linkName.utf8.prefix(100))!,
            major: major,
            minor: minor
        )
    }

    mutating func entry(
        _ name: String,
        typeFlag: UInt8,
        size: Int,
        mode: UInt32,
        uid: UInt32,
        gid: UInt32,
        mtime: Int64,
        linkName: String,
        major: UInt32,
        minor: UInt32
    ) {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (index, byte) in text.utf8.prefix(width).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int64, at offset: Int, width: Int) {
            let text = String(value, radix: 8)
            put(String(repeating: "0", count: max(0, width - 1 - text.count)) + text, at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(Int64(mode), at: 100, width: 8)
        octal(Int64(uid), at: 108, width: 8)
        octal(Int64(gid), at: 116, width: 8)
        octal(Int64(size), at: 124, width: 12)
        octal(mtime, at: 136, width: 12)
        header[156] = typeFlag
        put(linkName, at: 157, width: 100)
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        put("root", at: 265, width: 32)
        put("root", at: 297, width: 32)
        octal(Int64(major), at: 329, width: 8)
        octal(Int64(minor), at: 337, width: 8)
        for index in 148..<156 { header[index] = UInt8(ascii: " ") }
        let checksum = header.reduce(0) { $0 + Int64($1) }
        let text = String(checksum, radix: 8)
        put(String(repeating: "0", count: max(0, 6 - text.count)) + text, at: 148, width: 6)
        header[154] = 0
        header[155] = UInt8(ascii: " ")
        bytes.append(contentsOf: header)
    }

    mutating func append(_ data: [UInt8]) {
        bytes.append(contentsOf: data)
        let padding = (512 - data.count % 512) % 512
        bytes.append(contentsOf: [UInt8](repeating: 0, count: padding))
    }
}
