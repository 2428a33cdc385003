// libFuzzer target: StreamingServer's SPDY/3.1 codec — SPDYFrameDecoder (behind NIO's
// ByteToMessageHandler, as the streaming pipeline uses it), SPDYFrame.parse, and the zlib
// header blocks (SPDYHeaderInflater with the SPDY dictionary, then the name/value pairs).
//
// Input: one mode byte, then bytes. Even mode: a connection's byte stream, delivered in uneven
// chunks; every header block is inflated by one connection-wide inflater, as the stream handler
// does. Odd mode: one uncompressed header block. Besides not crashing: the chunked decoder and
// the whole-buffer parser see the same frames, every frame re-encodes to itself, and headers
// survive a deflate/inflate round trip.
import NIOCore
import NIOEmbedded

@testable import StreamingServer

func describe(_ headers: [(name: String, value: String)]) -> [String] {
    headers.map { "\($0.name)\u{0}\($0.value)" }
}

/// Frames through the channel decoder, the input cut into chunks; stops at the first error.
func decodeChunked(_ input: [UInt8], chunk: Int) -> (frames: [SPDYFrame], failed: Bool) {
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(SPDYFrameDecoder()))
    var frames: [SPDYFrame] = []
    var failed = false
    var offset = 0
    while offset < input.count && !failed {
        let end = min(offset + chunk, input.count)
        do {
            try channel.writeInbound(ByteBuffer(bytes: input[offset..<end]))
        } catch {
            failed = true
        }
        offset = end
        while let frame = try? channel.readInbound(as: SPDYFrame.self) { frames.append(frame) }
    }
    _ = try? channel.finish()
    return (frames, failed)
}

/// Frames through SPDYFrame.parse on the whole input; stops at the first error.
func decodeWhole(_ input: [UInt8]) -> (frames: [SPDYFrame], failed: Bool) {
    var bytes = input
    var frames: [SPDYFrame] = []
    while true {
        do {
            guard let frame = try SPDYFrame.parse(&bytes) else { return (frames, false) }
            frames.append(frame)
        } catch {
            return (frames, true)
        }
    }
}

func checkFrame(_ frame: SPDYFrame) {
    // A control frame of another SPDY version is kept as .unknown and re-encoded as version 3.
    if case .unknown = frame { return }
    var bytes = frame.bytes
    let length = Int(bytes[5]) << 16 | Int(bytes[6]) << 8 | Int(bytes[7])
    precondition(bytes.count == 8 + length, "\(frame): length field \(length) for \(bytes.count - 8) payload bytes")
    do {
        guard let again = try SPDYFrame.parse(&bytes) else {
            preconditionFailure("\(frame) re-encodes to an incomplete frame")
        }
        precondition(again == frame && bytes.isEmpty, "\(frame) re-encodes to \(again)")
    } catch {
        preconditionFailure("\(frame) re-encodes to bytes that do not parse: \(error)")
    }
}

func checkHeaders(_ headers: [(name: String, value: String)]) {
    precondition(headers.allSatisfy { $0.name == $0.name.lowercased() }, "a header name is not lowercased")
    let deflater = SPDYHeaderDeflater()
    let inflater = SPDYHeaderInflater()
    do {
        let back = try inflater.headers(from: deflater.compress(headers), limit: .max)
        precondition(
            describe(back) == describe(headers),
            "headers change through deflate/inflate:\n\(headers)\n\(back)"
        )
    } catch {
        preconditionFailure("deflated headers do not inflate: \(error) \(headers)")
    }
    let block = SPDYHeaderDeflater.serialize(headers)
    guard let parsed = try? SPDYHeaderInflater.parse(block) else {
        preconditionFailure("serialized headers do not parse: \(headers)")
    }
    precondition(describe(parsed) == describe(headers), "headers change through serialize/parse")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let mode = data[0]
    let input = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))

    if mode & 1 == 1 {
        if let headers = try? SPDYHeaderInflater.parse(input) { checkHeaders(headers) }
        return 0
    }

    let whole = decodeWhole(input)
    let chunked = decodeChunked(input, chunk: 1 + Int(mode >> 1))
    precondition(
        whole.frames == chunked.frames && whole.failed == chunked.failed,
        "the channel decoder and SPDYFrame.parse disagree:\n\(whole)\n\(chunked)"
    )

    let inflater = SPDYHeaderInflater()
    for frame in whole.frames {
        checkFrame(frame)
        let block: [UInt8]
        switch frame {
        case .synStream(_, _, _, _, let headerBlock), .synReply(_, _, let headerBlock), .headers(_, _, let headerBlock):
            block = headerBlock
        default:
            continue
        }
        // A corrupt block fails the stream (and the connection's zlib state); later ones are still tried.
        if let headers = try? inflater.headers(from: block) { checkHeaders(headers) }
    }
    return 0
}
