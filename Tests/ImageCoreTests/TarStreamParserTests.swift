import SkiffCommon
import Testing

@testable import ImageCore

/// Inputs found by the tar fuzz target (Fuzz/Tar): each used to trap on an arithmetic overflow
/// (a layer that crashed skiffd) or to yield an impossible timestamp.
@Suite struct TarStreamParserTests {
    struct Recorder: TarEntrySink {
        var entries: [TarEntry] = []
        mutating func begin(_ entry: TarEntry) throws(SkiffError) { entries.append(entry) }
        mutating func content(_ bytes: UnsafeRawBufferPointer) throws(SkiffError) {}
        mutating func end() throws(SkiffError) {}
    }

    /// A ustar header block with a valid checksum; `size` is the raw 12-byte size field.
    static func header(_ name: String, type: Character, size: [UInt8]? = nil, contentSize: Int = 0) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        block.replaceSubrange(0..<name.utf8.count, with: name.utf8)
        block.replaceSubrange(100..<108, with: Array("0000644\0".utf8))
        block.replaceSubrange(
            124..<136,
            with: size
                ?? Array(
                    (String(repeating: "0", count: 11 - String(contentSize, radix: 8).count)
                        + String(contentSize, radix: 8) + "\0").utf8
                )
        )
        block[156] = type.asciiValue!
        block.replaceSubrange(257..<263, with: Array("ustar\0".utf8))
        block.replaceSubrange(148..<156, with: repeatElement(UInt8(ascii: " "), count: 8))
        let sum = String(block.reduce(0) { $0 + Int($1) }, radix: 8)
        block.replaceSubrange(148..<156, with: Array((String(repeating: "0", count: 6 - sum.count) + sum + "\0 ").utf8))
        return block
    }

    static func padded(_ bytes: [UInt8]) -> [UInt8] {
        bytes + [UInt8](repeating: 0, count: (512 - bytes.count % 512) % 512)
    }

    /// A pax extended header followed by a regular file `f`.
    static func paxEntry(_ records: String) -> [UInt8] {
        header("PaxHeaders/f", type: "x", contentSize: records.utf8.count) + padded(Array(records.utf8))
            + header("f", type: "0") + [UInt8](repeating: 0, count: 1024)
    }

    static func parse(_ tar: [UInt8]) throws -> [TarEntry] {
        var parser = TarStreamParser()
        var sink = Recorder()
        try tar.withUnsafeBytes { try parser.feed($0, into: &sink) }
        try parser.finish()
        return sink.entries
    }

    @Test func aSizeNearInt64MaxIsRefusedRatherThanOverflowingItsPadding() {
        // Base-256 size 2^63 - 257: a symlink's size is skipped with its padding, 2^63 in all.
        let size: [UInt8] = [0x80, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF]
        let tar = Self.header("link", type: "2", size: size) + [UInt8](repeating: 0, count: 1024)
        #expect(throws: SkiffError.self) { try Self.parse(tar) }
        #expect(throws: SkiffError.self) { try Self.parse(Self.paxEntry("28 size=9223372036854775807\n")) }
    }

    @Test func aPaxRecordLengthNearIntMaxIsMalformed() {
        // The second record's length used to overflow `index + length`.
        let records = "9 uid=42\n9223372036854775807 path=x\n"
        #expect {
            try Self.parse(Self.paxEntry(records))
        } throws: { error in
            (error as? SkiffError)?.message.contains("malformed pax") == true
        }
    }

    @Test func paxMtimeFractionsAreDigitsOnly() throws {
        #expect(try Self.parse(Self.paxEntry("23 mtime=1700000000.25\n")).first?.modificationNanoseconds == 250_000_000)
        let signed = try Self.parse(Self.paxEntry("23 mtime=1700000000.-5\n")).first
        #expect(signed?.modificationSeconds == 1_700_000_000)
        #expect(signed?.modificationNanoseconds == 0, "a timespec's nanoseconds are never negative")
    }
}
