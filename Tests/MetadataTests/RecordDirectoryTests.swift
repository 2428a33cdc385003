import Foundation
import LinuxSys
import SkiffCommon
import Testing

@testable import Metadata

/// The crash-safety core: records survive a reload exactly, a write interrupted before its
/// rename leaves the old record whole (and its temporary file is cleared), and a record that
/// cannot be read is reported, never silently dropped.
struct RecordDirectoryTests {
    struct Item: Codable, Sendable, Equatable {
        var id: String
        var createdAt: Int64
        var note: String
    }

    static func withRoot(_ body: (String) async throws -> Void) async throws {
        let root = "/tmp/skiff-records-\(UUID().uuidString.prefix(8).lowercased())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await body(root)
    }

    static func open(_ root: String) throws -> RecordDirectory<Item> {
        try RecordDirectory(root: root, fileName: "item.json", id: \.id, createdAt: \.createdAt)
    }

    @Test func recordsSurviveAReloadOldestFirst() async throws {
        try await Self.withRoot { root in
            let store = try Self.open(root)
            try await store.save(Item(id: "b2", createdAt: 2, note: "second"))
            try await store.save(Item(id: "a1", createdAt: 1, note: "first"))
            try await store.save(Item(id: "a1", createdAt: 1, note: "first, changed"))
            let reloaded = try Self.open(root)
            #expect(
                await reloaded.all == [
                    Item(id: "a1", createdAt: 1, note: "first, changed"), Item(id: "b2", createdAt: 2, note: "second"),
                ]
            )
            #expect(await reloaded.unreadable.isEmpty)
        }
    }

    @Test func findTakesAUniquePrefixOnly() async throws {
        try await Self.withRoot { root in
            let store = try Self.open(root)
            try await store.save(Item(id: "abc1", createdAt: 1, note: ""))
            try await store.save(Item(id: "abc2", createdAt: 2, note: ""))
            #expect(await store.find("abc1")?.id == "abc1")
            #expect(await store.find("abc") == nil, "ambiguous")
            #expect(await store.find("") == nil)
            #expect(await store.find("abc2")?.id == "abc2")
        }
    }

    @Test func aWriteInterruptedBeforeItsRenameLeavesTheOldRecordAndNoTemporaryFile() async throws {
        try await Self.withRoot { root in
            let store = try Self.open(root)
            try await store.save(Item(id: "x", createdAt: 1, note: "whole"))
            // What a SIGKILL between open and rename leaves: a torn temporary file beside the record.
            let torn = "\(root)/x/item.json.tmp-4242"
            try Data("{\"id\":\"x\",\"createdAt\":1,\"no".utf8).write(to: URL(fileURLWithPath: torn))
            let reloaded = try Self.open(root)
            #expect(await reloaded.find("x")?.note == "whole")
            #expect(!FileManager.default.fileExists(atPath: torn), "the temporary file is cleared")
        }
    }

    @Test func anUnreadableRecordIsReportedAndNotDropped() async throws {
        try await Self.withRoot { root in
            let store = try Self.open(root)
            try await store.save(Item(id: "good", createdAt: 1, note: ""))
            try await store.save(Item(id: "bad", createdAt: 2, note: ""))
            try Data("{not json".utf8).write(to: URL(fileURLWithPath: "\(root)/bad/item.json"))
            let reloaded = try Self.open(root)
            #expect(await reloaded.all.map(\.id) == ["good"])
            let unreadable = await reloaded.unreadable
            #expect(unreadable.keys.sorted() == ["bad"])
            #expect(unreadable["bad"]?.contains("is not valid Item JSON") == true, "\(unreadable)")
            #expect(FileManager.default.fileExists(atPath: "\(root)/bad/item.json"), "left in place for the operator")
            try await reloaded.delete("bad")
            #expect(await reloaded.unreadable.isEmpty)
        }
    }

    @Test func aDirectoryWithoutARecordIsNeitherLoadedNorUnreadable() async throws {
        try await Self.withRoot { root in
            _ = try Self.open(root)
            try FileManager.default.createDirectory(atPath: "\(root)/unrecorded", withIntermediateDirectories: true)
            let reloaded = try Self.open(root)
            #expect(await reloaded.all.isEmpty)
            #expect(await reloaded.unreadable.isEmpty, "an interrupted creation: recovery removes it")
        }
    }

    @Test func deleteRemovesTheWholeDirectory() async throws {
        try await Self.withRoot { root in
            let store = try Self.open(root)
            try await store.save(Item(id: "gone", createdAt: 1, note: ""))
            try Data("bundle".utf8).write(to: URL(fileURLWithPath: "\(root)/gone/config.json"))
            try await store.delete("gone")
            #expect(!FileManager.default.fileExists(atPath: "\(root)/gone"))
            #expect(await store.find("gone") == nil)
            #expect(await (try Self.open(root)).all.isEmpty)
        }
    }

    @Test func durableValueFileReadsNothingBeforeTheFirstWrite() throws {
        let path = "/tmp/skiff-value-\(UUID().uuidString.prefix(8).lowercased())/v.json"
        defer { try? FileManager.default.removeItem(atPath: FileSystem.parentDirectory(of: path)) }
        let file = DurableValueFile<Item>(path: path)
        #expect(try file.read() == nil)
        try file.write(Item(id: "v", createdAt: 3, note: "n"))
        #expect(try file.read() == Item(id: "v", createdAt: 3, note: "n"))
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0
        #expect(mode == 0o600, "records are not world-readable")
    }
}
