import Crypto
import SkiffCommon

/// A content digest, `sha256:<64 hex>`: the identity of every blob, config and layer.
public struct Digest: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public let hex: String
    public var algorithm: String { "sha256" }
    public var description: String { "sha256:\(hex)" }

    /// Parses `sha256:<hex>`. Other algorithms are refused: registries and images use sha256.
    public init(parsing text: String) throws(SkiffError) {
        guard text.hasPrefix("sha256:") else {
            throw .invalidArgument("digest \"\(text)\" is not a sha256 digest")
        }
        let hex = String(text.dropFirst(7))
        guard hex.count == 64, hex.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
            throw .invalidArgument("digest \"\(text)\" must be sha256: followed by 64 lowercase hex digits")
        }
        self.hex = hex
    }

    init(hex: String) { self.hex = hex }

    public static func of<Bytes: Sequence>(_ bytes: Bytes) -> Digest where Bytes.Element == UInt8 {
        var hasher = Digester()
        hasher.update(Array(bytes))
        return hasher.finalize()
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try Digest(parsing: text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.hex < rhs.hex }
}

/// Incremental sha256, fed as bytes stream in.
public struct Digester: Sendable {
    private var hasher = SHA256()
    public private(set) var count: Int64 = 0

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
        count += Int64(bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public func finalize() -> Digest {
        let hex = hasher.finalize().map { byte in
            let text = String(byte, radix: 16)
            return byte < 16 ? "0" + text : text
        }.joined()
        return Digest(hex: hex)
    }
}

extension Digest {
    /// The chain ID of a layer stack (OCI image spec): the first layer's diff ID, then
    /// sha256(parent chain ID + " " + diff ID) for each next one. It names a snapshot: the same
    /// stack of layers is unpacked once, whatever image it came in.
    public static func chainIDs(of diffIDs: [Digest]) -> [Digest] {
        var chain: [Digest] = []
        for diffID in diffIDs {
            if let parent = chain.last {
                chain.append(.of(Array("\(parent) \(diffID)".utf8)))
            } else {
                chain.append(diffID)
            }
        }
        return chain
    }
}
