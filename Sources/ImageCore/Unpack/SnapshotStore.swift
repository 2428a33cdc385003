import LinuxSys
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Unpacked layers under `<root_dir>/snapshots/<chain ID>/fs`, one per distinct stack of layers
/// and shared by every image that has that stack; a container's overlay mounts them as its
/// lower directories. A layer is unpacked into `.tmp-*` and renamed into place only once its
/// diff ID is verified; leftovers of a crash are removed at start.
public struct SnapshotStore: Sendable {
    public let root: String

    public init(root: String) throws(SkiffError) {
        self.root = root
        do {
            try FileSystem.makeDirectories(root, mode: 0o700)
            for name in FileSystem.directoryEntries(root) ?? [] where name.hasPrefix(".tmp-") {
                try DirectoryTree.remove("\(root)/\(name)")
            }
        } catch {
            throw error.skiffError("cannot prepare the snapshot store at \(root)")
        }
    }

    /// The directory overlayfs uses for the layer stack `chainID`.
    public func path(of chainID: Digest) -> String { "\(root)/\(chainID.hex)/fs" }

    public func contains(_ chainID: Digest) -> Bool { FileSystem.exists(path(of: chainID)) }

    /// A fresh, empty directory to unpack one layer into; its `fs` is the extraction root.
    func prepare() throws(SkiffError) -> String {
        var random = SystemRandomNumberGenerator()
        let directory = "\(root)/.tmp-\(String(random.next() as UInt64, radix: 16))"
        do {
            try FileSystem.makeDirectories(directory + "/fs", mode: 0o755)
        } catch {
            throw error.skiffError("cannot create a snapshot directory")
        }
        return directory
    }

    /// Moves a prepared snapshot into place as `chainID`; if another pull got there first, the
    /// prepared copy is dropped.
    func commit(_ prepared: String, as chainID: Digest) throws(SkiffError) {
        let destination = "\(root)/\(chainID.hex)"
        if rename(prepared, destination) != 0 {
            let code = errno
            discard(prepared)
            guard code == EEXIST || code == ENOTEMPTY else {
                throw SystemCallError("rename", destination, errno: code).skiffError(
                    "cannot commit snapshot \(chainID)"
                )
            }
        }
    }

    func discard(_ prepared: String) {
        // try?: a `.tmp-*` directory that cannot be removed now is removed at the next start (init).
        try? DirectoryTree.remove(prepared)
    }

    public func remove(_ chainID: Digest) throws(SkiffError) {
        do {
            try DirectoryTree.remove("\(root)/\(chainID.hex)")
        } catch {
            throw error.skiffError("cannot remove snapshot \(chainID)")
        }
    }

    public func allChainIDs() -> [Digest] {
        // try?: a name that is not a digest (a `.tmp-*` unpack in progress) is not a snapshot.
        (FileSystem.directoryEntries(root) ?? []).compactMap { try? Digest(parsing: "sha256:\($0)") }
    }

    public func usage() -> (bytes: Int64, inodes: Int64) {
        DirectoryTree.usage(root)
    }
}
