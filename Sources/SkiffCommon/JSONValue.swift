import FoundationEssentials

/// Any JSON value, for documents skiffd passes on without knowing all of them (a CNI plugin's
/// own settings, a plugin's result handed to the next one as prevResult). Typed structs read the
/// parts skiffd uses; this keeps the rest intact. Integers stay integers (a rate in bits per
/// second must not come back as 1e+10), other numbers are doubles.
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = Self.decode(Bool.self, from: container) {
            self = .bool(value)
        } else if let value = Self.decode(Int64.self, from: container) {
            self = .integer(value)
        } else if let value = Self.decode(Double.self, from: container) {
            self = .number(value)
        } else if let value = Self.decode(String.self, from: container) {
            self = .string(value)
        } else if let value = Self.decode([JSONValue].self, from: container) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// The value as `type`, if it is a JSON value of that type.
    private static func decode<Value: Decodable>(
        _ type: Value.Type,
        from container: any SingleValueDecodingContainer
    ) -> Value? {
        // try?: a type mismatch only means the value is of another JSON type, tried next; a
        // value that is none of them fails the last attempt (an object), which throws.
        try? container.decode(type)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value):
            // JSON has no NaN or infinity (parsing never yields them); null keeps encoding total.
            if value.isFinite { try container.encode(value) } else { try container.encodeNil() }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The JSON document `bytes` holds; throws when it is not JSON.
    public static func parse(_ bytes: Data) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: bytes)
    }

    /// A typed value as JSON (through its Codable encoding).
    public init(encoding value: some Encodable) throws {
        self = try JSONValue.parse(JSONEncoder().encode(value))
    }

    /// The document as compact JSON with sorted keys (stable bytes for logs and tests).
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // try!: every case encodes (non-finite numbers become null), so a failure is a bug.
        return try! encoder.encode(self)
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }
}
