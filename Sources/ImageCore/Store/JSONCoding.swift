import FoundationEssentials

/// Shared JSON decoding for OCI documents.
enum JSONCoding {
    struct Decoder: Sendable {
        func decode<Value: Decodable>(_ type: Value.Type, from bytes: [UInt8]) throws -> Value {
            try JSONDecoder().decode(type, from: Data(bytes))
        }
    }

    static let decoder = Decoder()
}
