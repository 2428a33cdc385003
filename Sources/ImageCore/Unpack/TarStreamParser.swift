import SkiffCommon

/// A push parser for tar streams (POSIX ustar with pax extended headers, GNU long names and
/// base-256 numbers): bytes go in as they arrive, entries come out through a ``TarEntrySink``.
/// Nothing is buffered but one header and the (bounded) extended headers.
struct TarStreamParser {
    static let blockSize = 512
    /// pax headers and GNU long names beyond this are refused as hostile.
    static let maxExtendedHeader: Int64 = 1 << 20
    /// Larger entry sizes are refused: no layer comes near, and a size close to Int64.max
    /// would overflow once its block padding is added.
    static let maxEntrySize: Int64 = 1 << 62

    private enum State {
        case header
        case content(remaining: Int64, padding: Int)
        case extended(type: UInt8, remaining: Int64, padding: Int)
        case padding(remaining: Int)
        case finished
    }

    private var state = State.header
    private var header: [UInt8] = []
    private var extended: [UInt8] = []
    private var pax: [String: String] = [:]
    private var paxXattrs: [(String, [UInt8])] = []
    private var longName: String?
    private var longLink: String?
    private var zeroBlocks = 0
    private(set) var entryCount = 0

    mutating func feed<Sink: TarEntrySink>(_ input: UnsafeRawBufferPointer, into sink: inout Sink) throws(SkiffError) {
        var offset = 0
        while offset < input.count {
            switch state {
            case .finished:
                return  // trailing bytes after the end-of-archive blocks are ignored (they still count for the diff ID)
            case .header:
                let take = min(Self.blockSize - header.count, input.count - offset)
                header.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[offset..<(offset + take)]))
                offset += take
                if header.count == Self.blockSize {
                    let block = header
                    header.removeAll(keepingCapacity: true)
                    try handleHeader(block, into: &sink)
                }
            case .content(let remaining, let padding):
                let take = Int(min(Int64(input.count - offset), remaining))
                if take > 0 {
                    try sink.content(UnsafeRawBufferPointer(rebasing: input[offset..<(offset + take)]))
                }
                offset += take
                if remaining - Int64(take) == 0 {
                    try sink.end()
                    state = padding > 0 ? .padding(remaining: padding) : .header
                } else {
                    state = .content(remaining: remaining - Int64(take), padding: padding)
                }
            case .extended(let type, let remaining, let padding):
                let take = Int(min(Int64(input.count - offset), remaining))
                extended.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[offset..<(offset + take)]))
                offset += take
                if remaining - Int64(take) == 0 {
                    try handleExtended(type)
                    state = padding > 0 ? .padding(remaining: padding) : .header
                } else {
                    state = .extended(type: type, remaining: remaining - Int64(take), padding: padding)
                }
            case .padding(let remaining):
                let take = min(input.count - offset, remaining)
                offset += take
                state = remaining - take == 0 ? .header : .padding(remaining: remaining - take)
            }
        }
    }

    /// Checks the stream ended between entries (two zero blocks, or at least a block boundary).
    func finish() throws(SkiffError) {
        switch state {
        case .finished: return
        case .header where header.isEmpty && longName == nil && pax.isEmpty: return
        default: throw SkiffError(.invalidArgument, "the layer's tar stream is truncated in the middle of an entry")
        }
    }

    private mutating func handleHeader<Sink: TarEntrySink>(_ block: [UInt8], into sink: inout Sink) throws(SkiffError) {
        if block.allSatisfy({ $0 == 0 }) {
            zeroBlocks += 1
            if zeroBlocks == 2 { state = .finished }
            return
        }
        zeroBlocks = 0
        guard Self.checksumMatches(block) else {
            throw SkiffError(
                .invalidArgument,
                "the layer's tar stream has a corrupt header (bad checksum) after \(entryCount) entries"
            )
        }
        let type = block[156]
        let size = try Self.number(block[124..<136], field: "size")
        guard size >= 0 else { throw SkiffError(.invalidArgument, "a tar header has a negative size") }
        guard size <= Self.maxEntrySize else {
            throw SkiffError(.invalidArgument, "a tar header has a size of \(size) bytes, beyond \(Self.maxEntrySize)")
        }
        let padding = Int((Int64(Self.blockSize) - size % Int64(Self.blockSize)) % Int64(Self.blockSize))
        switch type {
        case UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K"):
            guard size <= Self.maxExtendedHeader else {
                throw SkiffError(
                    .invalidArgument,
                    "a tar extended header of \(size) bytes exceeds \(Self.maxExtendedHeader) bytes"
                )
            }
            extended.removeAll(keepingCapacity: true)
            state = size > 0 ? .extended(type: type, remaining: size, padding: padding) : .header
            if size == 0 { try handleExtended(type) }
            return
        default:
            break
        }
        var entry = try makeEntry(block, type: type, size: size)
        pax = [:]
        paxXattrs = []
        longName = nil
        longLink = nil
        entryCount += 1
        if entry.kind != .regular { entry.size = 0 }
        try sink.begin(entry)
        // Only regular files carry content; other kinds with a size (rare) have it skipped.
        let dataSize = entry.kind == .regular ? entry.size : size
        let dataPadding = Int((Int64(Self.blockSize) - dataSize % Int64(Self.blockSize)) % Int64(Self.blockSize))
        if entry.kind == .regular && dataSize > 0 {
            state = .content(remaining: dataSize, padding: dataPadding)
        } else {
            try sink.end()
            let skip = dataSize + Int64(dataPadding)
            state = skip > 0 ? .padding(remaining: Int(skip)) : .header
        }
    }

    private func makeEntry(_ block: [UInt8], type: UInt8, size headerSize: Int64) throws(SkiffError) -> TarEntry {
        var name = Self.string(block[0..<100])
        let isUstar = block[257..<262].elementsEqual("ustar".utf8)
        if isUstar {
            let prefix = Self.string(block[345..<500])
            if !prefix.isEmpty { name = prefix + "/" + name }
        }
        if let longName { name = longName }
        if let path = pax["path"] { name = path }
        var linkName = Self.string(block[157..<257])
        if let longLink { linkName = longLink }
        if let path = pax["linkpath"] { linkName = path }

        let kind: TarEntry.Kind
        switch type {
        case UInt8(ascii: "0"), 0, UInt8(ascii: "7"): kind = name.hasSuffix("/") ? .directory : .regular
        case UInt8(ascii: "1"): kind = .hardLink
        case UInt8(ascii: "2"): kind = .symlink
        case UInt8(ascii: "3"): kind = .characterDevice
        case UInt8(ascii: "4"): kind = .blockDevice
        case UInt8(ascii: "5"): kind = .directory
        case UInt8(ascii: "6"): kind = .fifo
        default:
            throw SkiffError(
                .invalidArgument,
                "layer entry \"\(name)\" has the unsupported tar type '\(Character(Unicode.Scalar(type)))'"
            )
        }
        var size = headerSize
        if let paxSize = pax["size"] {
            guard let parsed = Int64(paxSize), parsed >= 0, parsed <= Self.maxEntrySize else {
                throw SkiffError(.invalidArgument, "layer entry \"\(name)\" has a bad pax size")
            }
            size = parsed
        }
        var uid = try Self.number(block[108..<116], field: "uid")
        var gid = try Self.number(block[116..<124], field: "gid")
        if let value = pax["uid"].flatMap(Int64.init) { uid = value }
        if let value = pax["gid"].flatMap(Int64.init) { gid = value }
        guard (0...Int64(UInt32.max - 1)).contains(uid), (0...Int64(UInt32.max - 1)).contains(gid) else {
            throw SkiffError(.invalidArgument, "layer entry \"\(name)\" has an out-of-range owner \(uid):\(gid)")
        }
        var seconds = try Self.number(block[136..<148], field: "mtime")
        var nanoseconds: Int64 = 0
        if let mtime = pax["mtime"] {
            let parts = mtime.split(separator: ".", maxSplits: 1)
            if let whole = parts.first.flatMap({ Int64($0) }) { seconds = whole }
            if parts.count == 2 {
                // Digits only: Int64 would take "-5" or "+5", and a timespec's nanoseconds must be 0...999999999.
                let fraction = String(parts[1].prefix(9))
                if fraction.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
                    nanoseconds = (Int64(fraction) ?? 0) * Int64(pow10(9 - fraction.count))
                }
            }
        }
        return TarEntry(
            path: name,
            kind: kind,
            size: size,
            mode: UInt32(truncatingIfNeeded: try Self.number(block[100..<108], field: "mode")) & 0o7777,
            uid: UInt32(uid),
            gid: UInt32(gid),
            modificationSeconds: seconds,
            modificationNanoseconds: nanoseconds,
            linkName: linkName,
            deviceMajor: UInt32(truncatingIfNeeded: isUstar ? try Self.number(block[329..<337], field: "devmajor") : 0),
            deviceMinor: UInt32(truncatingIfNeeded: isUstar ? try Self.number(block[337..<345], field: "devminor") : 0),
            xattrs: paxXattrs
        )
    }

    private mutating func handleExtended(_ type: UInt8) throws(SkiffError) {
        switch type {
        case UInt8(ascii: "L"): longName = Self.string(extended[...])
        case UInt8(ascii: "K"): longLink = Self.string(extended[...])
        case UInt8(ascii: "x"): try parsePax(global: false)
        default: try parsePax(global: true)
        }
        extended.removeAll(keepingCapacity: true)
    }

    /// pax records: "LENGTH KEY=VALUE\n", LENGTH counting the whole record.
    private mutating func parsePax(global: Bool) throws(SkiffError) {
        var index = 0
        let bytes = extended
        while index < bytes.count {
            guard let space = bytes[index...].firstIndex(of: UInt8(ascii: " ")),
                let length = Int(String(decoding: bytes[index..<space], as: UTF8.self)), length > 0,
                length <= bytes.count - index, bytes[index + length - 1] == UInt8(ascii: "\n"),
                let equals = bytes[(space + 1)..<(index + length)].firstIndex(of: UInt8(ascii: "="))
            else {
                throw SkiffError(.invalidArgument, "the layer has a malformed pax extended header")
            }
            let key = String(decoding: bytes[(space + 1)..<equals], as: UTF8.self)
            let value = Array(bytes[(equals + 1)..<(index + length - 1)])
            index += length
            if global { continue }  // global headers carry nothing a runtime needs
            if key.hasPrefix("SCHILY.xattr.") {
                paxXattrs.append((String(key.dropFirst("SCHILY.xattr.".count)), value))
            } else if key.hasPrefix("LIBARCHIVE.xattr.") {
                if let decoded = Base64.decode(String(decoding: value, as: UTF8.self)) {
                    paxXattrs.append((String(key.dropFirst("LIBARCHIVE.xattr.".count)), decoded))
                }
            } else {
                pax[key] = String(decoding: value, as: UTF8.self)
            }
        }
    }

    static func checksumMatches(_ block: [UInt8]) -> Bool {
        // try?: an unreadable checksum field is a checksum that does not match, which the caller reports.
        guard let stored = try? number(block[148..<156], field: "checksum") else { return false }
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for (index, byte) in block.enumerated() {
            let value = (148..<156).contains(index) ? UInt8(ascii: " ") : byte
            unsigned += Int64(value)
            signed += Int64(Int8(bitPattern: value))
        }
        return stored == unsigned || stored == signed
    }

    /// An octal field, or GNU base-256 when the high bit of the first byte is set.
    static func number(_ field: ArraySlice<UInt8>, field name: String) throws(SkiffError) -> Int64 {
        guard let first = field.first else { return 0 }
        if first & 0x80 != 0 {
            var value: Int64 = Int64(first & 0x3F)
            let negative = first & 0x40 != 0
            for byte in field.dropFirst() {
                guard value < (Int64.max >> 8) else {
                    throw SkiffError(.invalidArgument, "a tar \(name) field overflows")
                }
                value = value << 8 | Int64(byte)
            }
            return negative ? -value : value
        }
        let text = field.prefix { $0 != 0 }.drop { $0 == UInt8(ascii: " ") }.prefix { $0 != UInt8(ascii: " ") }
        if text.isEmpty { return 0 }
        guard let value = Int64(String(decoding: text, as: UTF8.self), radix: 8) else {
            throw SkiffError(.invalidArgument, "a tar \(name) field is not an octal number")
        }
        return value
    }

    static func string(_ field: ArraySlice<UInt8>) -> String {
        String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
    }
}

private func pow10(_ exponent: Int) -> Int {
    (0..<max(0, exponent)).reduce(1) { value, _ in value * 10 }
}
