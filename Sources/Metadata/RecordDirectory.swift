import LinuxSys
import SkiffCommon

/// Records kept one directory each under `root` (`<root>/<id>/<fileName>`), each record replaced
/// atomically, all of them held in memory for queries: a daemon killed at any moment reloads
/// exactly the records that exist. The directory also holds whatever else belongs to the
/// record (a sandbox's pod files, a container's bundle) and goes with it.
public actor RecordDirectory<Record: Codable & Sendable> {
    public nonisolated let root: String
    let fileName: String
    let id: @Sendable (Record) -> String
    let createdAt: @Sendable (Record) -> Int64
    private var records: [String: Record] = [:]
    /// Directories whose record file exists but cannot be read or decoded, with the reason. They
    /// are neither loaded nor treated as unrecorded: recovery must not remove what it cannot
    /// read (an operator moves the file away to reset it).
    public private(set) var unreadable: [String: String] = [:]

    /// Creates `root` if needed and loads every record found. Temporary files of a write that
    /// was interrupted (`<fileName>.tmp-<pid>-<random>`) are removed: the record beside them is the old
    /// value, whole. Unreadable records are kept in `unreadable`.
    public init(
        root: String,
        fileName: String,
        id: @escaping @Sendable (Record) -> String,
        createdAt: @escaping @Sendable (Record) -> Int64
    ) throws(SkiffError) {
        self.root = root
        self.fileName = fileName
        self.id = id
        self.createdAt = createdAt
        do {
            try FileSystem.makeDirectories(root, mode: 0o711)
        } catch {
            throw error.skiffError("cannot create \(root)")
        }
        for name in FileSystem.directoryEntries(root) ?? [] where !name.hasPrefix(".") {
            let directory = "\(root)/\(name)"
            for entry in FileSystem.directoryEntries(directory) ?? [] where entry.hasPrefix(fileName + ".tmp-") {
                // try?: a leftover that cannot be removed now is removed at the next start.
                try? FileSystem.removeIfPresent(directory + "/" + entry)
            }
            do throws(SkiffError) {
                if let record = try DurableValueFile<Record>(path: "\(directory)/\(fileName)").read() {
                    records[id(record)] = record
                }
            } catch {
                unreadable[name] = error.description
            }
        }
    }

    /// Every record, oldest first.
    public var all: [Record] { records.values.sorted { createdAt($0) < createdAt($1) } }

    /// A record by full ID or unique ID prefix.
    public func find(_ idOrPrefix: String) -> Record? {
        if let exact = records[idOrPrefix] { return exact }
        guard !idOrPrefix.isEmpty else { return nil }
        let matches = records.filter { $0.key.hasPrefix(idOrPrefix) }
        return matches.count == 1 ? matches.first?.value : nil
    }

    public nonisolated func directory(of id: String) -> String { "\(root)/\(id)" }

    public func save(_ record: Record) throws(SkiffError) {
        let key = id(record)
        try DurableValueFile<Record>(path: "\(directory(of: key))/\(fileName)").write(record)
        records[key] = record
    }

    /// Removes the record and its whole directory.
    public func delete(_ id: String) throws(SkiffError) {
        do {
            try DirectoryTree.remove(directory(of: id))
        } catch {
            throw error.skiffError("cannot remove \(directory(of: id))")
        }
        records[id] = nil
        unreadable[id] = nil
    }
}
