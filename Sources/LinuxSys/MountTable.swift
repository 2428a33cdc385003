/// The mounts of this process's mount namespace, from /proc/self/mountinfo.
public struct MountTable: Sendable {
    public struct Entry: Sendable, Equatable {
        public var mountPoint: String
        public var fileSystemType: String
        public var source: String
        public var options: [String]
        /// Per-filesystem options (e.g. the cgroup v1 controllers: "rw,cpu,cpuacct").
        public var superOptions: [String]
    }

    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    public static func current() throws(SystemCallError) -> MountTable {
        MountTable(mountinfo: try FileSystem.readText("/proc/self/mountinfo", limit: 16 << 20))
    }

    /// Parses mountinfo text (see proc(5)); malformed lines are skipped.
    public init(mountinfo: String) {
        entries = mountinfo.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard let separator = fields.firstIndex(of: "-"), separator >= 6, fields.count >= separator + 4 else {
                return nil
            }
            return Entry(
                mountPoint: Self.unescape(fields[4]),
                fileSystemType: String(fields[separator + 1]),
                source: Self.unescape(fields[separator + 2]),
                options: fields[5].split(separator: ",").map(String.init),
                superOptions: fields[separator + 3].split(separator: ",").map(String.init)
            )
        }
    }

    public func entries(ofType type: String) -> [Entry] {
        entries.filter { $0.fileSystemType == type }
    }

    public func isMountPoint(_ path: String) -> Bool {
        entries.contains { $0.mountPoint == path }
    }

    /// mountinfo writes space, tab, newline and backslash as octal escapes (`\040`).
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let raw = Array(field.utf8)
        var index = 0
        while index < raw.count {
            if raw[index] == UInt8(ascii: "\\"), index + 3 < raw.count,
                let value = UInt8(String(decoding: raw[(index + 1)...(index + 3)], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(raw[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
