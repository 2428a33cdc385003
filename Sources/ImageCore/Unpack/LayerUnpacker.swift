import NIOCore
import SkiffCommon

/// Turns a layer's bytes, as they stream in, into a directory: decompress (gzip, zstd or none),
/// hash the uncompressed tar (the diff ID), parse it and extract each entry safely.
final class LayerUnpacker {
    let name: String
    private let decompressor = Decompressor()
    private var diffDigester = Digester()
    private var parser = TarStreamParser()
    private var extractor: SafeExtractor

    init(name: String, destination: String) throws(SkiffError) {
        self.name = name
        extractor = try SafeExtractor(rootPath: destination)
    }

    deinit { extractor.close() }

    func feed(_ buffer: ByteBuffer) throws(SkiffError) {
        let result: Result<Void, SkiffError> = buffer.withUnsafeReadableBytes { raw in
            Result { () throws(SkiffError) in try feed(raw) }
        }
        try result.get()
    }

    func feed(_ bytes: UnsafeRawBufferPointer) throws(SkiffError) {
        do {
            try decompressor.feed(bytes) { (tar) throws(SkiffError) in try consume(tar) }
        } catch {
            throw SkiffError(error.code, "layer \(name): \(error.message)", cause: error.cause)
        }
    }

    /// Ends the layer and returns its diff ID (the digest of the uncompressed tar).
    func finish() throws(SkiffError) -> Digest {
        do {
            try decompressor.finish { (tar) throws(SkiffError) in try consume(tar) }
            try parser.finish()
            try extractor.finish()
        } catch {
            throw SkiffError(error.code, "layer \(name): \(error.message)", cause: error.cause)
        }
        return diffDigester.finalize()
    }

    var entryCount: Int { parser.entryCount }

    private func consume(_ tar: UnsafeRawBufferPointer) throws(SkiffError) {
        diffDigester.update(tar)
        try parser.feed(tar, into: &extractor)
    }
}
