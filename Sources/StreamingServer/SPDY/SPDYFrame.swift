/// SPDY/3.1 frames (SPDY draft 3.1, §2.2), as client-go's spdystream speaks them for
/// remotecommand and port-forward. Header blocks stay compressed here; `SPDYHeaderInflater` and
/// `SPDYHeaderDeflater` handle them, since their zlib state spans the connection. Public so
/// that skiff-bench's clients speak the same frames.
public enum SPDYFrame: Equatable, Sendable {
    public static let version: UInt16 = 3
    public static let flagFin: UInt8 = 0x01
    public static let flagUnidirectional: UInt8 = 0x02

    case data(streamID: UInt32, flags: UInt8, payload: [UInt8])
    case synStream(streamID: UInt32, associatedTo: UInt32, priority: UInt8, flags: UInt8, headerBlock: [UInt8])
    case synReply(streamID: UInt32, flags: UInt8, headerBlock: [UInt8])
    case rstStream(streamID: UInt32, status: UInt32)
    case settings(flags: UInt8, entries: [(flags: UInt8, id: UInt32, value: UInt32)])
    case ping(id: UInt32)
    case goAway(lastGoodStreamID: UInt32, status: UInt32)
    case headers(streamID: UInt32, flags: UInt8, headerBlock: [UInt8])
    case windowUpdate(streamID: UInt32, delta: UInt32)
    /// A control frame of a type or version this codec does not know (to be ignored, per spec).
    case unknown(type: UInt16, flags: UInt8, payload: [UInt8])

    public enum ParseError: Error, Equatable {
        case tooLarge(Int)
        case malformed(String)
    }

    /// The largest frame this server accepts (a DATA frame may carry up to 2^24 - 1 bytes).
    public static let maximumLength = 1 << 24 - 1

    /// Reads one frame from the front of `buffer` and removes it; nil when more bytes are needed.
    public static func parse(_ buffer: inout [UInt8]) throws(ParseError) -> SPDYFrame? {
        guard buffer.count >= 8 else { return nil }
        let length = Int(buffer[5]) << 16 | Int(buffer[6]) << 8 | Int(buffer[7])
        guard buffer.count >= 8 + length else { return nil }
        let payload = Array(buffer[8..<8 + length])
        let flags = buffer[4]
        let control = buffer[0] & 0x80 != 0
        let first =
            UInt32(buffer[0] & 0x7F) << 24 | UInt32(buffer[1]) << 16 | UInt32(buffer[2]) << 8 | UInt32(buffer[3])
        buffer.removeFirst(8 + length)
        guard control else { return .data(streamID: first, flags: flags, payload: payload) }
        let version = UInt16(first >> 16)
        let type = UInt16(first & 0xFFFF)
        func word(_ offset: Int) throws(ParseError) -> UInt32 {
            guard offset + 4 <= payload.count else { throw .malformed("control frame type \(type) is too short") }
            return UInt32(payload[offset]) << 24 | UInt32(payload[offset + 1]) << 16 | UInt32(payload[offset + 2]) << 8
                | UInt32(payload[offset + 3])
        }
        guard version == Self.version else { return .unknown(type: type, flags: flags, payload: payload) }
        switch type {
        case 1:
            guard payload.count >= 10 else { throw .malformed("SYN_STREAM is too short") }
            return .synStream(
                streamID: try word(0) & 0x7FFF_FFFF,
                associatedTo: try word(4) & 0x7FFF_FFFF,
                priority: payload[8] >> 5,
                flags: flags,
                headerBlock: Array(payload[10...])
            )
        case 2:
            return .synReply(
                streamID: try word(0) & 0x7FFF_FFFF,
                flags: flags,
                headerBlock: Array(payload.dropFirst(4))
            )
        case 3:
            return .rstStream(streamID: try word(0) & 0x7FFF_FFFF, status: try word(4))
        case 4:
            let count = Int(try word(0))
            guard count <= 64, payload.count >= 4 + count * 8 else {
                throw .malformed("SETTINGS has \(count) entries in \(payload.count) bytes")
            }
            var entries: [(flags: UInt8, id: UInt32, value: UInt32)] = []
            for index in 0..<count {
                let offset = 4 + index * 8
                entries.append((payload[offset], try word(offset) & 0x00FF_FFFF, try word(offset + 4)))
            }
            return .settings(flags: flags, entries: entries)
        case 6:
            return .ping(id: try word(0))
        case 7:
            return .goAway(lastGoodStreamID: try word(0) & 0x7FFF_FFFF, status: payload.count >= 8 ? try word(4) : 0)
        case 8:
            return .headers(streamID: try word(0) & 0x7FFF_FFFF, flags: flags, headerBlock: Array(payload.dropFirst(4)))
        case 9:
            return .windowUpdate(streamID: try word(0) & 0x7FFF_FFFF, delta: try word(4) & 0x7FFF_FFFF)
        default:
            return .unknown(type: type, flags: flags, payload: payload)
        }
    }

    /// The frame's wire bytes.
    public var bytes: [UInt8] {
        func word(_ value: UInt32) -> [UInt8] {
            [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }
        func control(_ type: UInt16, _ flags: UInt8, _ payload: [UInt8]) -> [UInt8] {
            [
                0x80 | UInt8(Self.version >> 8), UInt8(Self.version & 0xFF), UInt8(type >> 8), UInt8(type & 0xFF),
                flags,
                UInt8(payload.count >> 16 & 0xFF), UInt8(payload.count >> 8 & 0xFF), UInt8(payload.count & 0xFF),
            ] + payload
        }
        switch self {
        case .data(let streamID, let flags, let payload):
            return Self.dataHeader(streamID: streamID, flags: flags, length: payload.count) + payload
        case .synStream(let streamID, let associatedTo, let priority, let flags, let block):
            return control(1, flags, word(streamID) + word(associatedTo) + [priority << 5, 0] + block)
        case .synReply(let streamID, let flags, let block):
            return control(2, flags, word(streamID) + block)
        case .rstStream(let streamID, let status):
            return control(3, 0, word(streamID) + word(status))
        case .settings(let flags, let entries):
            return control(
                4,
                flags,
                word(UInt32(entries.count)) + entries.flatMap { [$0.flags] + word($0.id).dropFirst() + word($0.value) }
            )
        case .ping(let id):
            return control(6, 0, word(id))
        case .goAway(let lastGood, let status):
            return control(7, 0, word(lastGood) + word(status))
        case .headers(let streamID, let flags, let block):
            return control(8, flags, word(streamID) + block)
        case .windowUpdate(let streamID, let delta):
            return control(9, 0, word(streamID) + word(delta))
        case .unknown(let type, let flags, let payload):
            return control(type, flags, payload)
        }
    }

    public static func == (lhs: SPDYFrame, rhs: SPDYFrame) -> Bool { lhs.bytes == rhs.bytes }
}
