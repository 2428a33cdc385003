import Foundation
import Testing

@testable import StreamingServer

/// SPDY/3.1 framing and header compression, checked against bytes other implementations
/// produced and against Python's zlib with the same dictionary.
@Suite struct SPDYCodecTests {
    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    @Test func theDictionaryIsTheSpecsOne() {
        // 1423 bytes with Adler-32 0xe3c6a7c2, the DICTID every SPDY/3 zlib header names.
        #expect(SPDYDictionary.bytes.count == 1423)
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in SPDYDictionary.bytes {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        #expect(b << 16 | a == 0xe3c6_a7c2)
    }

    @Test func aSynStreamFromAnotherImplementationDecodes() throws {
        // A SYN_STREAM as node-spdy's tests carry it: stream 1, a zlib header block whose
        // header names the SPDY dictionary (78 f9 e3c6a7c2).
        var buffer = Self.hex(
            "800300010000002c0000000100000000000078f9e3c6a7c202e50e507ab442a45a77d7105006b32a4804974d8cfa00000000ffff"
        )
        let frame = try #require(try SPDYFrame.parse(&buffer))
        #expect(buffer.isEmpty)
        guard case .synStream(let streamID, _, _, let flags, let block) = frame else {
            Issue.record("not a SYN_STREAM: \(frame)")
            return
        }
        #expect(streamID == 1)
        #expect(flags == 0)
        let headers = try SPDYHeaderInflater().headers(from: block)
        #expect(!headers.isEmpty)
        #expect(headers.allSatisfy { $0.name == $0.name.lowercased() })
    }

    @Test func headerBlocksRoundTripAcrossOneStreamPerDirection() throws {
        let deflater = SPDYHeaderDeflater()
        let inflater = SPDYHeaderInflater()
        let first: [(name: String, value: String)] = [
            ("streamtype", "error"), ("x-stream-protocol-version", "v4.channel.k8s.io"),
        ]
        let second: [(name: String, value: String)] = [("streamtype", "stdout"), ("requestid", "0"), ("port", "8080")]
        for headers in [first, second, first] {
            let decoded = try inflater.headers(from: deflater.compress(headers))
            #expect(decoded.map(\.name) == headers.map(\.name))
            #expect(decoded.map(\.value) == headers.map(\.value))
        }
    }

    @Test func pythonsZlibWithTheDictionaryReadsOurBlocksAndWritesOnesWeRead() throws {
        let dictionaryFile = NSTemporaryDirectory() + "spdy-dict-\(UUID().uuidString)"
        try Data(SPDYDictionary.bytes).write(to: URL(fileURLWithPath: dictionaryFile))
        defer { try? FileManager.default.removeItem(atPath: dictionaryFile) }
        let ours = SPDYHeaderDeflater().compress([("streamtype", "stdin")])
        let script = """
            import sys, zlib
            d = open(sys.argv[1], 'rb').read()
            block = bytes.fromhex(sys.argv[2])
            print(zlib.decompressobj(zdict=d).decompress(block).hex())
            c = zlib.compressobj(zdict=d)
            raw = (1).to_bytes(4, 'big') + (10).to_bytes(4, 'big') + b'streamtype' + (6).to_bytes(4, 'big') + b'stderr'
            print((c.compress(raw) + c.flush(zlib.Z_SYNC_FLUSH)).hex())
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, dictionaryFile, ours.map { String(format: "%02x", $0) }.joined()]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(
            separator: "\n"
        )
        for _ in 0..<500 where process.isRunning { usleep(10_000) }
        try #require(output.count == 2)
        #expect(Self.hex(String(output[0])) == SPDYHeaderDeflater.serialize([("streamtype", "stdin")]))
        let theirs = try SPDYHeaderInflater().headers(from: Self.hex(String(output[1])))
        #expect(theirs.map(\.name) == ["streamtype"] && theirs.map(\.value) == ["stderr"])
    }

    @Test func framesRoundTripAndPartialInputWaits() throws {
        let frames: [SPDYFrame] = [
            .data(streamID: 3, flags: SPDYFrame.flagFin, payload: Array("hi".utf8)),
            .synReply(streamID: 1, flags: 0, headerBlock: [1, 2, 3]),
            .rstStream(streamID: 5, status: 5),
            .settings(flags: 0, entries: [(0, 7, 65536)]),
            .ping(id: 1),
            .goAway(lastGoodStreamID: 9, status: 0),
            .windowUpdate(streamID: 1, delta: 32768),
        ]
        var buffer = frames.flatMap(\.bytes)
        let lastByte = buffer.removeLast()
        var parsed: [SPDYFrame] = []
        while let frame = try SPDYFrame.parse(&buffer) { parsed.append(frame) }
        #expect(parsed == Array(frames.dropLast()), "the cut-off last frame waits for its byte")
        buffer.append(lastByte)
        #expect(try SPDYFrame.parse(&buffer) == frames.last)
        var unknownVersion: [UInt8] = [0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1]
        guard case .unknown = try #require(try SPDYFrame.parse(&unknownVersion)) else {
            Issue.record("a SPDY/2 frame is not read as SPDY/3")
            return
        }
    }

    @Test func garbageIsRefusedNotTrusted() {
        #expect(throws: SPDYHeaderInflater.Failure.self) {
            try SPDYHeaderInflater().headers(from: [0x78, 0x9c, 0xff, 0xff, 0x00, 0x01])
        }
        #expect(throws: SPDYHeaderInflater.Failure.malformed) {
            try SPDYHeaderInflater.parse([0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff])
        }
    }
}
