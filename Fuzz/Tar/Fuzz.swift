import SkiffCommon

// libFuzzer target: ImageCore's TarStreamParser (layer tar streams: ustar, pax, GNU long names,
// base-256 numbers), the parser every pulled or imported layer goes through.
//
// The input is parsed twice, once fed whole and once cut into uneven chunks (as the network
// delivers a layer), and both runs must report the same entries, contents and outcome. The sink
// checks the parser's contract: begin/end pair up, only regular files carry content, and a
// file's content is exactly its size. Header checksums are made valid before parsing (see
// fixChecksums), so mutations reach the fields behind them.
@testable import ImageCore

struct CheckingSink: TarEntrySink {
    var events: [String] = []
    var open: TarEntry?
    var received: Int64 = 0
    var content: [UInt8] = []

    mutating func begin(_ entry: TarEntry) throws(SkiffError) {
        precondition(open == nil, "begin(\(entry.path)) while \(open!.path) is open")
        precondition(entry.size >= 0, "negative size \(entry.size)")
        precondition(entry.kind == .regular || entry.size == 0, "a \(entry.kind) entry with size \(entry.size)")
        precondition(entry.uid < UInt32.max && entry.gid < UInt32.max)
        precondition(entry.mode <= 0o7777)
        precondition(
            (0..<1_000_000_000).contains(entry.modificationNanoseconds),
            "nanoseconds \(entry.modificationNanoseconds)"
        )
        open = entry
        received = 0
        content = []
        events.append(
            "begin \(entry.kind) \(entry.path.debugDescription) size=\(entry.size) mode=\(entry.mode) "
                + "owner=\(entry.uid):\(entry.gid) mtime=\(entry.modificationSeconds).\(entry.modificationNanoseconds) "
                + "link=\(entry.linkName.debugDescription) dev=\(entry.deviceMajor),\(entry.deviceMinor) "
                + "xattrs=\(entry.xattrs.map { "\($0.name)=\($0.value)" })"
        )
    }

    mutating func content(_ bytes: UnsafeRawBufferPointer) throws(SkiffError) {
        guard let entry = open else { preconditionFailure("content outside an entry") }
        precondition(entry.kind == .regular, "content for a \(entry.kind)")
        precondition(!bytes.isEmpty, "an empty content chunk")
        received += Int64(bytes.count)
        precondition(received <= entry.size, "\(received) bytes of content for a file of \(entry.size)")
        content.append(contentsOf: bytes)
    }

    mutating func end() throws(SkiffError) {
        guard let entry = open else { preconditionFailure("end outside an entry") }
        precondition(received == entry.size, "\(entry.path): \(received) bytes of content for a file of \(entry.size)")
        events.append("end \(content.count) bytes, checksum \(content.reduce(0) { ($0 &* 31) &+ Int($1) })")
        open = nil
    }
}

/// Feeds `input` in chunks of the given sizes (cycled) and reports the events and the outcome.
func run(_ input: UnsafeRawBufferPointer, chunks: [Int]) -> [String] {
    var parser = TarStreamParser()
    var sink = CheckingSink()
    var offset = 0
    var index = 0
    do throws(SkiffError) {
        while offset < input.count {
            let take = min(chunks[index % chunks.count], input.count - offset)
            index += 1
            try parser.feed(UnsafeRawBufferPointer(rebasing: input[offset..<(offset + take)]), into: &sink)
            offset += take
        }
        try parser.finish()
        precondition(sink.open == nil, "finish() accepted a stream that ended inside \(sink.open!.path)")
        sink.events.append("finished after \(parser.entryCount) entries")
    } catch {
        sink.events.append("error: \(error.message)")
    }
    return sink.events
}

/// Writes a valid checksum into every non-zero 512-byte block (headers are always at block
/// boundaries; in a content block it only changes 8 content bytes). Without it almost every
/// mutation of a header would stop at "bad checksum", never reaching the fields behind it.
func fixChecksums(_ bytes: inout [UInt8]) {
    var start = 0
    while start + 512 <= bytes.count {
        let block = start..<(start + 512)
        if bytes[block].contains(where: { $0 != 0 }) {
            for index in 148..<156 { bytes[start + index] = UInt8(ascii: " ") }
            let sum = bytes[block].reduce(0) { $0 + Int($1) }
            let octal = Array(String(sum, radix: 8).utf8)
            let field = Array(repeating: UInt8(ascii: "0"), count: 6 - octal.count) + octal + [0, UInt8(ascii: " ")]
            bytes.replaceSubrange((start + 148)..<(start + 156), with: field)
        }
        start += 512
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    fixChecksums(&bytes)
    bytes.withUnsafeBytes { input in
        let whole = run(input, chunks: [max(input.count, 1)])
        // Chunk sizes that straddle the 512-byte blocks differently on every input.
        let seed = input.count % 7
        let chunked = run(input, chunks: [1 + seed, 511, 3, 512 + seed, 100, 1024, 7])
        precondition(whole == chunked, "chunked parsing differs:\n\(whole)\n---\n\(chunked)")
    }
    return 0
}
