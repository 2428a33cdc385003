import CZlib

/// SPDY/3 header blocks: a count and length-prefixed name/value pairs (values with several
/// entries are NUL-separated), compressed with zlib and the SPDY dictionary. Each direction of a
/// connection is one zlib stream for its whole life, flushed (Z_SYNC_FLUSH) after every block,
/// so a block can only be read by the inflater that read every earlier block of that peer.
public final class SPDYHeaderInflater {
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)

    public init() {
        stream.initialize(to: z_stream())
        _ = skiff_inflate_init_zlib(stream)
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    public enum Failure: Error, Equatable { case corrupt, tooLarge, malformed }

    /// Decompresses one header block and parses its pairs (names lowercased, as SPDY requires).
    public func headers(
        from compressed: [UInt8],
        limit: Int = 256 << 10
    ) throws(Failure) -> [(name: String, value: String)] {
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        var input = compressed
        var failure: Failure?
        input.withUnsafeMutableBufferPointer { inputBuffer in
            stream.pointee.next_in = inputBuffer.baseAddress
            stream.pointee.avail_in = uInt(inputBuffer.count)
            while failure == nil {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { chunkBuffer in
                    stream.pointee.next_out = chunkBuffer.baseAddress
                    stream.pointee.avail_out = uInt(chunkBuffer.count)
                    var result = inflate(stream, Z_SYNC_FLUSH)
                    if result == Z_NEED_DICT {
                        result = SPDYDictionary.bytes.withUnsafeBufferPointer {
                            inflateSetDictionary(stream, $0.baseAddress, uInt($0.count))
                        }
                        if result == Z_OK { result = inflate(stream, Z_SYNC_FLUSH) }
                    }
                    if result != Z_OK && result != Z_BUF_ERROR { failure = .corrupt }
                    return chunkBuffer.count - Int(stream.pointee.avail_out)
                }
                output += chunk[0..<produced]
                if output.count > limit { failure = .tooLarge }
                if stream.pointee.avail_in == 0 && produced < chunk.count { break }
                if produced == 0 && stream.pointee.avail_in > 0 { failure = .corrupt }
            }
            stream.pointee.next_in = nil
        }
        if let failure { throw failure }
        return try Self.parse(output)
    }

    static func parse(_ block: [UInt8]) throws(Failure) -> [(name: String, value: String)] {
        var offset = 0
        func word() throws(Failure) -> Int {
            guard offset + 4 <= block.count else { throw .malformed }
            defer { offset += 4 }
            return Int(block[offset]) << 24 | Int(block[offset + 1]) << 16 | Int(block[offset + 2]) << 8
                | Int(block[offset + 3])
        }
        func bytes(_ count: Int) throws(Failure) -> String {
            guard count >= 0, offset + count <= block.count else { throw .malformed }
            defer { offset += count }
            return String(decoding: block[offset..<offset + count], as: UTF8.self)
        }
        let pairs = try word()
        guard pairs <= 1024 else { throw .malformed }
        var headers: [(name: String, value: String)] = []
        for _ in 0..<pairs {
            let name = try bytes(try word()).lowercased()
            let value = try bytes(try word())
            headers.append((name, value))
        }
        return headers
    }
}

public final class SPDYHeaderDeflater {
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)

    public init() {
        stream.initialize(to: z_stream())
        _ = skiff_deflate_init_zlib(stream, Z_DEFAULT_COMPRESSION)
        _ = SPDYDictionary.bytes.withUnsafeBufferPointer {
            deflateSetDictionary(stream, $0.baseAddress, uInt($0.count))
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
    }

    static func serialize(_ headers: [(name: String, value: String)]) -> [UInt8] {
        func word(_ value: Int) -> [UInt8] {
            [UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }
        var block = word(headers.count)
        for (name, value) in headers {
            block += word(name.utf8.count) + Array(name.lowercased().utf8) + word(value.utf8.count) + Array(value.utf8)
        }
        return block
    }

    /// Compresses one header block, ending with a sync flush.
    public func compress(_ headers: [(name: String, value: String)]) -> [UInt8] {
        var input = Self.serialize(headers)
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        input.withUnsafeMutableBufferPointer { inputBuffer in
            stream.pointee.next_in = inputBuffer.baseAddress
            stream.pointee.avail_in = uInt(inputBuffer.count)
            repeat {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { chunkBuffer in
                    stream.pointee.next_out = chunkBuffer.baseAddress
                    stream.pointee.avail_out = uInt(chunkBuffer.count)
                    _ = deflate(stream, Z_SYNC_FLUSH)
                    return chunkBuffer.count - Int(stream.pointee.avail_out)
                }
                output += chunk[0..<produced]
            } while stream.pointee.avail_out == 0
            stream.pointee.next_in = nil
        }
        return output
    }
}
