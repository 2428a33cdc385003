import LinuxSys
import NIOCore
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Blobs (manifests, configs, layers) by digest under `<root_dir>/content/blobs/sha256/`.
///
/// A blob is written to `ingest/` while its digest is computed, and renamed into place only when
/// the digest and size match: a crash mid-pull leaves only an ingest file, which is deleted at
/// the next start and never trusted.
public struct ContentStore: Sendable {
    public let root: String
    var blobDirectory: String { root + "/blobs/sha256" }
    var ingestDirectory: String { root + "/ingest" }

    public init(root: String) throws(SkiffError) {
        self.root = root
        do {
            try FileSystem.makeDirectories(root + "/blobs/sha256", mode: 0o700)
            // Whatever a crashed pull left half-written goes.
            try DirectoryTree.remove(root + "/ingest")
            try FileSystem.makeDirectories(root + "/ingest", mode: 0o700)
        } catch {
            throw error.skiffError("cannot prepare the content store at \(root)")
        }
    }

    public func path(of digest: Digest) -> String { "\(blobDirectory)/\(digest.hex)" }

    public func contains(_ digest: Digest) -> Bool { FileSystem.exists(path(of: digest)) }

    /// A small blob (manifest, config) read whole; nil when absent.
    public func read(_ digest: Digest, limit: Int = 16 << 20) throws(SkiffError) -> [UInt8]? {
        guard contains(digest) else { return nil }
        do {
            return try FileSystem.readBytes(path(of: digest), limit: limit)
        } catch {
            throw error.skiffError("cannot read blob \(digest)", ifMissing: .notFound)
        }
    }

    /// Stores bytes already in memory after checking their digest.
    public func write(_ bytes: [UInt8], digest: Digest) throws(SkiffError) {
        guard !contains(digest) else { return }
        let writer = try BlobWriter(store: self, expected: digest, size: Int64(bytes.count))
        try writer.write(bytes)
        try writer.commit()
    }

    public func delete(_ digest: Digest) {
        unlink(path(of: digest))
    }

    public func allDigests() -> [Digest] {
        // try?: a name that is not a digest (a write in progress) is not a blob.
        (FileSystem.directoryEntries(blobDirectory) ?? []).compactMap { try? Digest(parsing: "sha256:\($0)") }
    }

    public func usage() -> (bytes: Int64, inodes: Int64) {
        DirectoryTree.usage(root)
    }
}

/// Writes one blob into the ingest directory, hashing as it goes; `commit` verifies and moves
/// it. A writer dropped without a commit removes its partial file. Used by one task at a time.
public final class BlobWriter {
    let store: ContentStore
    let expected: Digest
    let size: Int64
    let temporaryPath: String
    private var fd: Int32
    private var digester = Digester()

    public init(store: ContentStore, expected: Digest, size: Int64) throws(SkiffError) {
        self.store = store
        self.expected = expected
        self.size = size
        var random = SystemRandomNumberGenerator()
        temporaryPath = "\(store.ingestDirectory)/\(expected.hex)-\(String(random.next() as UInt64, radix: 16))"
        let path = temporaryPath
        do {
            fd = try systemCall("open", path) { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
        } catch {
            throw error.skiffError("cannot create \(path)")
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(SkiffError) {
        guard fd >= 0 else { throw SkiffError.internalError("blob \(expected) written after it was closed") }
        digester.update(bytes)
        guard digester.count <= size else {
            throw SkiffError(.invalidArgument, "blob \(expected) is larger than the \(size) bytes its descriptor says")
        }
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                let code = errno
                throw SystemCallError("write", temporaryPath, errno: code).skiffError("cannot write blob \(expected)")
            }
            offset += written
        }
    }

    public func write(_ bytes: [UInt8]) throws(SkiffError) {
        try withBytes(bytes) { (raw) throws(SkiffError) in try write(raw) }
    }

    public func write(_ buffer: ByteBuffer) throws(SkiffError) {
        let result: Result<Void, SkiffError> = buffer.withUnsafeReadableBytes { raw in
            Result { () throws(SkiffError) in try write(raw) }
        }
        try result.get()
    }

    /// Checks that what was written is the blob the descriptor names: its size and digest.
    public func verify() throws(SkiffError) {
        guard digester.count == size else {
            throw SkiffError(
                .invalidArgument,
                "blob \(expected) is \(digester.count) bytes, not the \(size) its descriptor says (truncated)"
            )
        }
        let actual = digester.finalize()
        guard actual == expected else {
            throw SkiffError(
                .invalidArgument,
                "blob \(expected) has digest \(actual): the content is not what the manifest names (refused)"
            )
        }
    }

    /// Verifies size and digest, makes the data durable and moves the blob into the store.
    public func commit() throws(SkiffError) {
        try verify()
        let destination = store.path(of: expected)
        let source = temporaryPath
        let descriptor = fd
        do {
            try systemCall("fsync", source) { fsync(descriptor) }
            try systemCall("rename", destination) { rename(source, destination) }
        } catch {
            throw error.skiffError("cannot store blob \(expected)")
        }
        Glibc.close(fd)
        fd = -1
    }

    deinit {
        if fd >= 0 {
            Glibc.close(fd)
            unlink(temporaryPath)
        }
    }
}
