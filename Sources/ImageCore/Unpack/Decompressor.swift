import CZlib
import CZstd
import SkiffCommon

/// Streaming decompression of a layer: fed compressed chunks, emits uncompressed ones.
/// The kind is chosen from the first bytes (gzip 1f 8b, zstd 28 b5 2f fd, anything else is a
/// plain tar), so a layer whose media type lies still unpacks or fails cleanly.
final class Decompressor {
    enum Kind: String { case none, gzip, zstd }

    private(set) var kind: Kind?
    private var gzip: UnsafeMutablePointer<z_stream>?
    private var zstd: OpaquePointer?
    private var pending: [UInt8] = []
    private var finished = false
    private var output = [UInt8](repeating: 0, count: 256 << 10)

    init() {}

    deinit {
        if let gzip {
            inflateEnd(gzip)
            gzip.deallocate()
        }
        if let zstd { ZSTD_freeDStream(zstd) }
    }

    /// Feeds `input`; `emit` receives each uncompressed chunk.
    func feed(
        _ input: UnsafeRawBufferPointer,
        emit: (UnsafeRawBufferPointer) throws(SkiffError) -> Void
    ) throws(SkiffError) {
        if kind == nil {
            pending.append(contentsOf: input)
            guard pending.count >= 4 else { return }
            try start()
            let buffered = pending
            pending = []
            try withBytes(buffered) { (bytes) throws(SkiffError) in try run(bytes, emit: emit) }
            return
        }
        try run(input, emit: emit)
    }

    /// Ends the stream; fails if the compressed data stopped in the middle.
    func finish(emit: (UnsafeRawBufferPointer) throws(SkiffError) -> Void) throws(SkiffError) {
        if kind == nil {
            try start()
            let buffered = pending
            pending = []
            try withBytes(buffered) { (bytes) throws(SkiffError) in try run(bytes, emit: emit) }
        }
        switch kind {
        case .gzip?, .zstd?:
            if !finished {
                throw SkiffError(
                    .invalidArgument,
                    "the \(kind!.rawValue) stream ends before its end marker (truncated layer)"
                )
            }
        default: break
        }
    }

    private func start() throws(SkiffError) {
        if pending.count >= 2 && pending[0] == 0x1F && pending[1] == 0x8B {
            let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            stream.initialize(to: z_stream())
            guard skiff_inflate_init(stream) == Z_OK else {
                stream.deallocate()
                throw SkiffError.internalError("cannot initialise zlib")
            }
            gzip = stream
            kind = .gzip
        } else if pending.count >= 4 && pending[0] == 0x28 && pending[1] == 0xB5 && pending[2] == 0x2F
            && pending[3] == 0xFD
        {
            guard let stream = ZSTD_createDStream() else { throw SkiffError.internalError("cannot initialise zstd") }
            ZSTD_initDStream(stream)
            zstd = stream
            kind = .zstd
        } else {
            kind = Kind.none
        }
    }

    private func run(
        _ input: UnsafeRawBufferPointer,
        emit: (UnsafeRawBufferPointer) throws(SkiffError) -> Void
    ) throws(SkiffError) {
        guard input.count > 0 else { return }
        switch kind! {
        case .none:
            try emit(input)
        case .gzip:
            try inflate(input, emit: emit)
        case .zstd:
            try decompressZstd(input, emit: emit)
        }
    }

    private func inflate(
        _ input: UnsafeRawBufferPointer,
        emit: (UnsafeRawBufferPointer) throws(SkiffError) -> Void
    ) throws(SkiffError) {
        guard let stream = gzip else { return }
        var offset = 0
        while offset < input.count {
            if finished {
                // Concatenated gzip members (allowed by RFC 1952): start the next one.
                guard inflateReset(stream) == Z_OK else { throw SkiffError.internalError("zlib reset failed") }
                finished = false
            }
            stream.pointee.next_in = UnsafeMutablePointer(
                mutating: input.baseAddress!.advanced(by: offset).assumingMemoryBound(to: Bytef.self)
            )
            stream.pointee.avail_in = uInt(input.count - offset)
            repeat {
                let produced: Int
                let status: Int32 = output.withUnsafeMutableBytes { buffer in
                    stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.pointee.avail_out = uInt(buffer.count)
                    return CZlib.inflate(stream, Z_NO_FLUSH)
                }
                produced = output.count - Int(stream.pointee.avail_out)
                if produced > 0 {
                    try withBytes(output) { (bytes) throws(SkiffError) in
                        try emit(UnsafeRawBufferPointer(rebasing: bytes[0..<produced]))
                    }
                }
                if status == Z_STREAM_END {
                    finished = true
                    break
                }
                if status == Z_BUF_ERROR && produced == 0 { break }
                guard status == Z_OK else {
                    let message = stream.pointee.msg.map { String(cString: $0) } ?? "code \(status)"
                    throw SkiffError(.invalidArgument, "the layer's gzip data is corrupt: \(message)")
                }
            } while stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0
            offset = input.count - Int(stream.pointee.avail_in)
            if !finished { break }
        }
    }

    private func decompressZstd(
        _ input: UnsafeRawBufferPointer,
        emit: (UnsafeRawBufferPointer) throws(SkiffError) -> Void
    ) throws(SkiffError) {
        guard let stream = zstd else { return }
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var produced = 0
        // Go on while input remains, or while the last call filled the output (more is buffered).
        while inBuffer.pos < inBuffer.size || produced == output.count {
            produced = 0
            var hint = 0
            output.withUnsafeMutableBytes { buffer in
                var outBuffer = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
                hint = ZSTD_decompressStream(stream, &outBuffer, &inBuffer)
                produced = outBuffer.pos
            }
            if ZSTD_isError(hint) != 0 {
                throw SkiffError(
                    .invalidArgument,
                    "the layer's zstd data is corrupt: \(String(cString: ZSTD_getErrorName(hint)))"
                )
            }
            finished = hint == 0
            if produced > 0 {
                try withBytes(output) { (bytes) throws(SkiffError) in
                    try emit(UnsafeRawBufferPointer(rebasing: bytes[0..<produced]))
                }
            }
        }
    }
}

/// `Array.withUnsafeBytes` for bodies with typed throws (the standard one rethrows `any Error`).
func withBytes<Result>(
    _ array: [UInt8],
    _ body: (UnsafeRawBufferPointer) throws(SkiffError) -> Result
) throws(SkiffError) -> Result {
    let outcome: Swift.Result<Result, SkiffError> = array.withUnsafeBytes { bytes in
        Swift.Result { () throws(SkiffError) -> Result in try body(bytes) }
    }
    return try outcome.get()
}
