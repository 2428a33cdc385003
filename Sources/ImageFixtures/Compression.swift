import CZlib
import CZstd

/// gzip for test layers (zlib's deflate with a gzip header).
public enum Gzip {
    public static func compress(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        // zlib remembers the stream's address: keep it at one place on the heap.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        guard skiff_deflate_init_gzip(stream, level) == Z_OK else { return [] }
        defer { deflateEnd(stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(stream, uLong(input.count))) + 64)
        var source = input
        let produced: Int = source.withUnsafeMutableBytes { inBuffer in
            output.withUnsafeMutableBytes { outBuffer in
                stream.pointee.next_in = inBuffer.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_in = uInt(inBuffer.count)
                stream.pointee.next_out = outBuffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(outBuffer.count)
                _ = deflate(stream, Z_FINISH)
                return outBuffer.count - Int(stream.pointee.avail_out)
            }
        }
        return Array(output[0..<produced])
    }
}

/// zstd for test layers.
public enum Zstd {
    public static func compress(_ input: [UInt8], level: Int32 = 3) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let written = output.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { source in
                ZSTD_compress(out.baseAddress, out.count, source.baseAddress, source.count, level)
            }
        }
        return ZSTD_isError(written) != 0 ? [] : Array(output[0..<written])
    }
}
