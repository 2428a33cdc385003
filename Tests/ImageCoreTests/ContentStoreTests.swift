import Foundation
import SkiffCommon
import Testing

@testable import ImageCore

/// Blobs are stored only once their size and digest match; whatever an interrupted write left
/// is never trusted and goes at the next start.
@Suite struct ContentStoreTests {
    static func withStore(_ body: (ContentStore, String) throws -> Void) throws {
        let root = "/tmp/skiff-content-unit-\(UUID().uuidString.prefix(8).lowercased())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try body(try ContentStore(root: root), root)
    }

    @Test func aBlobIsStoredReadListedAndDeletedByItsDigest() throws {
        try Self.withStore { store, _ in
            let bytes = Array("a manifest".utf8)
            let digest = Digest.of(bytes)
            #expect(try store.read(digest) == nil)
            try store.write(bytes, digest: digest)
            try store.write(bytes, digest: digest)
            #expect(try store.read(digest) == bytes)
            #expect(store.allDigests() == [digest])
            #expect(store.usage().bytes >= Int64(bytes.count))
            store.delete(digest)
            #expect(!store.contains(digest))
        }
    }

    @Test func contentThatIsNotWhatTheDigestNamesIsRefusedAndLeavesNothing() throws {
        try Self.withStore { store, root in
            let digest = Digest.of(Array("expected".utf8))
            let wrong = #expect(throws: SkiffError.self) { try store.write(Array("tampered".utf8), digest: digest) }
            #expect(wrong?.message.contains("is not what the manifest names") == true, "\(String(describing: wrong))")
            let short = #expect(throws: SkiffError.self) {
                let writer = try BlobWriter(store: store, expected: digest, size: 100)
                try writer.write(Array("expected".utf8))
                try writer.commit()
            }
            #expect(short?.message.contains("truncated") == true)
            let long = #expect(throws: SkiffError.self) {
                let writer = try BlobWriter(store: store, expected: digest, size: 3)
                try writer.write(Array("expected".utf8))
            }
            #expect(long?.message.contains("larger than the 3 bytes") == true)
            #expect(!store.contains(digest))
            let ingest = try FileManager.default.contentsOfDirectory(atPath: root + "/ingest")
            #expect(ingest.isEmpty, "dropped writers removed their files")
        }
    }

    @Test func whatACrashLeftInIngestGoesAtTheNextStart() throws {
        try Self.withStore { store, root in
            let writer = try BlobWriter(store: store, expected: Digest.of([1, 2, 3]), size: 3)
            try writer.write([1, 2])
            // A crash: the writer is never committed or dropped, and the store opens again.
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/ingest").count == 1)
            let reopened = try ContentStore(root: root)
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/ingest").isEmpty)
            #expect(reopened.allDigests().isEmpty)
            withExtendedLifetime(writer) {}
        }
    }
}
