/// A parsed TOML document that remembers, for every key, the line it was written on.
///
/// Skiff refuses a configuration with an unknown key or a bad value and tells the operator the
/// file and line, so the tree keeps positions next to values (the general-purpose TOML libraries
/// at hand drop them).
public struct TOMLTable: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: TOMLValue
        /// 1-based line of the key (or of the `[table]` header for tables).
        public var line: Int
    }

    public private(set) var entries: [Entry] = []
    /// Line of the `[header]` that opened this table (or of the first key that implied it).
    public var line: Int

    // Parser bookkeeping for TOML's redefinition rules; not part of the value.
    var isInline = false
    var definedByHeader = false
    var definedByDottedKey = false
    var arrayOfTablesKeys: Set<String> = []

    public init(line: Int = 0) { self.line = line }

    init(line: Int, definedByHeader: Bool) {
        self.line = line
        self.definedByHeader = definedByHeader
    }

    public static func == (lhs: TOMLTable, rhs: TOMLTable) -> Bool {
        lhs.entries == rhs.entries
    }

    public subscript(key: String) -> TOMLValue? {
        entries.first { $0.key == key }?.value
    }

    public func entry(_ key: String) -> Entry? {
        entries.first { $0.key == key }
    }

    mutating func insert(_ key: String, _ value: TOMLValue, line: Int) {
        entries.append(Entry(key: key, value: value, line: line))
    }

    mutating func replace(_ key: String, _ value: TOMLValue) {
        if let index = entries.firstIndex(where: { $0.key == key }) {
            entries[index].value = value
        }
    }
}

/// One TOML value. Date-times are kept as their text: Skiff's configuration has none.
public indirect enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case dateTime(String)
    case array([TOMLValue])
    case table(TOMLTable)

    /// The TOML type name, for error messages.
    public var typeName: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .float: "float"
        case .boolean: "boolean"
        case .dateTime: "date-time"
        case .array: "array"
        case .table: "table"
        }
    }
}

/// A syntax error with the line and column where the parser gave up.
public struct TOMLSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var reason: String
    public var description: String { "line \(line), column \(column): \(reason)" }
}
