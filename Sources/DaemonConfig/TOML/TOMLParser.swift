/// A TOML 1.0 parser that records the line of every key.
///
/// It covers the whole language that a configuration file meets — strings of all four kinds,
/// integers in every radix, floats, booleans, arrays, inline tables, tables, arrays of tables and
/// dotted keys — and keeps date-times as text. Errors name the line and column.
public enum TOMLParser {
    public static func parse(_ text: String) throws(TOMLSyntaxError) -> TOMLTable {
        var parser = Parser(bytes: Array(text.utf8))
        return try parser.parseDocument()
    }
}

private struct Parser {
    let bytes: [UInt8]
    var position = 0
    var line = 1
    var lineStart = 0
    var root = TOMLTable()
    var currentTable: [String] = []

    init(bytes: [UInt8]) { self.bytes = bytes }

    // MARK: Document structure

    mutating func parseDocument() throws(TOMLSyntaxError) -> TOMLTable {
        while true {
            skipBlankLinesAndComments()
            guard let byte = peek() else { break }
            if byte == UInt8(ascii: "[") {
                try parseHeader()
            } else {
                let keyLine = line
                let keys = try parseDottedKey()
                try expectEquals()
                let value = try parseValue()
                let path = currentTable
                let table = root
                root = try insert(value, at: keys, line: keyLine, below: path, in: table)
            }
            try expectEndOfLine()
        }
        return root
    }

    mutating func parseHeader() throws(TOMLSyntaxError) {
        let headerLine = line
        advance()
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { advance() }
        skipSpaces()
        let keys = try parseDottedKey()
        skipSpaces()
        try expect("]")
        if isArray { try expect("]") }
        var table = root
        try defineHeader(keys[...], isArray: isArray, line: headerLine, in: &table)
        root = table
        currentTable = keys
    }

    /// Walks to the parent of the header's last key, creating implicit tables, then defines it.
    func defineHeader(
        _ keys: ArraySlice<String>,
        isArray: Bool,
        line: Int,
        in table: inout TOMLTable
    ) throws(TOMLSyntaxError) {
        let key = keys.first!
        if keys.count == 1 {
            if let existing = table.entry(key) {
                if isArray {
                    guard table.arrayOfTablesKeys.contains(key), case .array(var items) = existing.value else {
                        throw error(
                            "cannot define array of tables '\(key)': the key already holds a \(existing.value.typeName)",
                            line: line
                        )
                    }
                    items.append(.table(TOMLTable(line: line, definedByHeader: true)))
                    table.replace(key, .array(items))
                    return
                }
                guard case .table(var inner) = existing.value, !table.arrayOfTablesKeys.contains(key) else {
                    throw error(
                        "cannot define table '\(key)': the key already holds a \(existing.value.typeName)",
                        line: line
                    )
                }
                if inner.definedByHeader || inner.isInline || inner.definedByDottedKey {
                    throw error("table '\(key)' is defined twice", line: line)
                }
                inner.definedByHeader = true
                inner.line = line
                table.replace(key, .table(inner))
                return
            }
            if isArray {
                table.insert(key, .array([.table(TOMLTable(line: line, definedByHeader: true))]), line: line)
                table.arrayOfTablesKeys.insert(key)
            } else {
                table.insert(key, .table(TOMLTable(line: line, definedByHeader: true)), line: line)
            }
            return
        }
        try descend(into: key, of: &table, line: line, viaDottedKey: false) {
            (inner: inout TOMLTable) throws(TOMLSyntaxError) in
            try defineHeader(keys.dropFirst(), isArray: isArray, line: line, in: &inner)
        }
    }

    /// Inserts `value` at the dotted `keys` below the table at `path`.
    func insert(
        _ value: TOMLValue,
        at keys: [String],
        line: Int,
        below path: [String],
        in root: TOMLTable
    ) throws(TOMLSyntaxError) -> TOMLTable {
        var table = root
        try withTable(at: path[...], in: &table, line: line) { (target: inout TOMLTable) throws(TOMLSyntaxError) in
            try insertDotted(value, keys[...], line: line, in: &target)
        }
        return table
    }

    func insertDotted(
        _ value: TOMLValue,
        _ keys: ArraySlice<String>,
        line: Int,
        in table: inout TOMLTable
    ) throws(TOMLSyntaxError) {
        let key = keys.first!
        if keys.count == 1 {
            if table.entry(key) != nil {
                throw error("key '\(key)' is defined twice", line: line)
            }
            table.insert(key, value, line: line)
            return
        }
        try descend(into: key, of: &table, line: line, viaDottedKey: true) {
            (inner: inout TOMLTable) throws(TOMLSyntaxError) in
            try insertDotted(value, keys.dropFirst(), line: line, in: &inner)
        }
    }

    func withTable(
        at path: ArraySlice<String>,
        in table: inout TOMLTable,
        line: Int,
        body: (inout TOMLTable) throws(TOMLSyntaxError) -> Void
    ) throws(TOMLSyntaxError) {
        guard let key = path.first else { return try body(&table) }
        try descend(into: key, of: &table, line: line, viaDottedKey: false) {
            (inner: inout TOMLTable) throws(TOMLSyntaxError) in
            try withTable(at: path.dropFirst(), in: &inner, line: line, body: body)
        }
    }

    /// Runs `body` on the sub-table `key` (the last element for an array of tables), creating an
    /// implicit table when the key is new.
    func descend(
        into key: String,
        of table: inout TOMLTable,
        line: Int,
        viaDottedKey: Bool,
        body: (inout TOMLTable) throws(TOMLSyntaxError) -> Void
    ) throws(TOMLSyntaxError) {
        guard let existing = table.entry(key) else {
            var inner = TOMLTable(line: line)
            inner.definedByDottedKey = viaDottedKey
            try body(&inner)
            table.insert(key, .table(inner), line: line)
            return
        }
        switch existing.value {
        case .table(var inner):
            if inner.isInline {
                throw error("inline table '\(key)' cannot be extended", line: line)
            }
            if viaDottedKey && inner.definedByHeader {
                throw error(
                    "table '\(key)' was defined by a header and cannot be extended with a dotted key",
                    line: line
                )
            }
            try body(&inner)
            table.replace(key, .table(inner))
        case .array(var items) where table.arrayOfTablesKeys.contains(key) && !viaDottedKey:
            guard case .table(var last) = items.last else {
                throw error("key '\(key)' holds an array, not a table", line: line)
            }
            try body(&last)
            items[items.count - 1] = .table(last)
            table.replace(key, .array(items))
        default:
            throw error("key '\(key)' holds a \(existing.value.typeName), not a table", line: line)
        }
    }

    // MARK: Keys

    mutating func parseDottedKey() throws(TOMLSyntaxError) -> [String] {
        var keys = [try parseSimpleKey()]
        while true {
            skipSpaces()
            guard peek() == UInt8(ascii: ".") else { return keys }
            advance()
            skipSpaces()
            keys.append(try parseSimpleKey())
        }
    }

    mutating func parseSimpleKey() throws(TOMLSyntaxError) -> String {
        switch peek() {
        case UInt8(ascii: "\""): return try parseBasicString()
        case UInt8(ascii: "'"): return try parseLiteralString()
        default:
            let start = position
            while let byte = peek(), isBareKeyByte(byte) { advance() }
            guard position > start else { throw error("expected a key") }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }
    }

    mutating func expectEquals() throws(TOMLSyntaxError) {
        skipSpaces()
        try expect("=")
        skipSpaces()
    }

    // MARK: Values

    mutating func parseValue() throws(TOMLSyntaxError) -> TOMLValue {
        guard let byte = peek() else { throw error("expected a value") }
        switch byte {
        case UInt8(ascii: "\""):
            return .string(starts(with: "\"\"\"") ? try parseMultilineBasicString() : try parseBasicString())
        case UInt8(ascii: "'"):
            return .string(starts(with: "'''") ? try parseMultilineLiteralString() : try parseLiteralString())
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "{"): return try parseInlineTable()
        default: return try parseScalar()
        }
    }

    mutating func parseArray() throws(TOMLSyntaxError) -> TOMLValue {
        advance()
        var items: [TOMLValue] = []
        while true {
            skipBlankLinesAndComments()
            if peek() == UInt8(ascii: "]") {
                advance()
                return .array(items)
            }
            items.append(try parseValue())
            skipBlankLinesAndComments()
            switch peek() {
            case UInt8(ascii: ","): advance()
            case UInt8(ascii: "]"):
                advance()
                return .array(items)
            default: throw error("expected ',' or ']' in array")
            }
        }
    }

    mutating func parseInlineTable() throws(TOMLSyntaxError) -> TOMLValue {
        let tableLine = line
        advance()
        var table = TOMLTable(line: tableLine)
        skipSpaces()
        if peek() == UInt8(ascii: "}") {
            advance()
            table.isInline = true
            return .table(table)
        }
        while true {
            skipSpaces()
            let keyLine = line
            let keys = try parseDottedKey()
            try expectEquals()
            let value = try parseValue()
            try insertDotted(value, keys[...], line: keyLine, in: &table)
            skipSpaces()
            switch peek() {
            case UInt8(ascii: ","): advance()
            case UInt8(ascii: "}"):
                advance()
                table.isInline = true
                return .table(table)
            default: throw error("expected ',' or '}' in inline table")
            }
        }
    }

    mutating func parseScalar() throws(TOMLSyntaxError) -> TOMLValue {
        let start = position
        while let byte = peek(), isScalarByte(byte) { advance() }
        // A date and a time may be separated by one space: "1979-05-27 07:32:00".
        if position - start == 10, peek() == UInt8(ascii: " "), position + 1 < bytes.count,
            isDigit(bytes[position + 1]), bytes[start + 4] == UInt8(ascii: "-")
        {
            advance()
            while let byte = peek(), isScalarByte(byte) { advance() }
        }
        let token = String(decoding: bytes[start..<position], as: UTF8.self)
        guard !token.isEmpty else { throw error("expected a value") }
        if let value = ScalarClassifier.classify(token) { return value }
        throw error("'\(token)' is not a valid TOML value", column: start - lineStart + 1)
    }

    // MARK: Strings

    mutating func parseBasicString() throws(TOMLSyntaxError) -> String {
        advance()
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        while true {
            guard let byte = peek() else { throw error("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                advance()
                flush(&raw, into: &scalars)
                return String(scalars)
            case UInt8(ascii: "\\"):
                flush(&raw, into: &scalars)
                scalars.append(try parseEscape())
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw error("newline in a single-line string")
            default:
                try checkControl(byte)
                raw.append(byte)
                advance()
            }
        }
    }

    mutating func parseMultilineBasicString() throws(TOMLSyntaxError) -> String {
        advance(3)
        skipNewlineOnce()
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        while true {
            guard let byte = peek() else { throw error("unterminated multi-line string") }
            if starts(with: "\"\"\"") {
                var quotes = 3
                while quotes < 5, position + quotes < bytes.count, bytes[position + quotes] == UInt8(ascii: "\"") {
                    quotes += 1
                }
                raw.append(contentsOf: repeatElement(UInt8(ascii: "\""), count: quotes - 3))
                advance(quotes)
                flush(&raw, into: &scalars)
                return String(scalars)
            }
            if byte == UInt8(ascii: "\\") {
                flush(&raw, into: &scalars)
                if lineEndingBackslashFollows() {
                    advance()
                    while let next = peek(),
                        next == UInt8(ascii: " ") || next == UInt8(ascii: "\t") || next == UInt8(ascii: "\n")
                            || next == UInt8(ascii: "\r")
                    { advance() }
                } else {
                    scalars.append(try parseEscape())
                }
                continue
            }
            if byte != UInt8(ascii: "\n") && byte != UInt8(ascii: "\r") { try checkControl(byte) }
            raw.append(byte)
            advance()
        }
    }

    mutating func parseLiteralString() throws(TOMLSyntaxError) -> String {
        advance()
        let start = position
        while let byte = peek(), byte != UInt8(ascii: "'") {
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                throw error("newline in a single-line string")
            }
            try checkControl(byte)
            advance()
        }
        guard peek() != nil else { throw error("unterminated string") }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        advance()
        return text
    }

    mutating func parseMultilineLiteralString() throws(TOMLSyntaxError) -> String {
        advance(3)
        skipNewlineOnce()
        let start = position
        while position < bytes.count {
            if starts(with: "'''") {
                var quotes = 3
                while quotes < 5, position + quotes < bytes.count, bytes[position + quotes] == UInt8(ascii: "'") {
                    quotes += 1
                }
                let text = String(decoding: bytes[start..<(position + quotes - 3)], as: UTF8.self)
                advance(quotes)
                return text
            }
            advance()
        }
        throw error("unterminated multi-line string")
    }

    mutating func parseEscape() throws(TOMLSyntaxError) -> Unicode.Scalar {
        advance()
        guard let byte = peek() else { throw error("unterminated escape") }
        advance()
        switch byte {
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "e"): return "\u{1B}"
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = byte == UInt8(ascii: "u") ? 4 : 8
            guard position + count <= bytes.count,
                let code = UInt32(String(decoding: bytes[position..<(position + count)], as: UTF8.self), radix: 16),
                let scalar = Unicode.Scalar(code)
            else {
                throw error("invalid unicode escape")
            }
            advance(count)
            return scalar
        default:
            throw error("invalid escape '\\\(Character(Unicode.Scalar(byte)))'")
        }
    }

    func flush(_ raw: inout [UInt8], into scalars: inout String.UnicodeScalarView) {
        guard !raw.isEmpty else { return }
        scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
        raw.removeAll(keepingCapacity: true)
    }

    func lineEndingBackslashFollows() -> Bool {
        var index = position + 1
        while index < bytes.count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") {
            index += 1
        }
        return index < bytes.count && (bytes[index] == UInt8(ascii: "\n") || bytes[index] == UInt8(ascii: "\r"))
    }

    func checkControl(_ byte: UInt8) throws(TOMLSyntaxError) {
        if (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F {
            throw error("control character in a string")
        }
    }

    // MARK: Lexing helpers

    func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    func starts(with text: StaticString) -> Bool {
        text.withUTF8Buffer { prefix in
            position + prefix.count <= bytes.count && prefix.elementsEqual(bytes[position..<(position + prefix.count)])
        }
    }

    mutating func advance(_ count: Int = 1) {
        for _ in 0..<count where position < bytes.count {
            if bytes[position] == UInt8(ascii: "\n") {
                line += 1
                lineStart = position + 1
            }
            position += 1
        }
    }

    mutating func skipSpaces() {
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { advance() }
    }

    mutating func skipComment() {
        guard peek() == UInt8(ascii: "#") else { return }
        while let byte = peek(), byte != UInt8(ascii: "\n") { advance() }
    }

    mutating func skipBlankLinesAndComments() {
        while true {
            skipSpaces()
            skipComment()
            guard let byte = peek(), byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") else { return }
            advance()
        }
    }

    mutating func skipNewlineOnce() {
        if starts(with: "\r\n") { advance(2) } else if peek() == UInt8(ascii: "\n") { advance() }
    }

    mutating func expect(_ character: Character) throws(TOMLSyntaxError) {
        guard let byte = peek(), byte == character.asciiValue else { throw error("expected '\(character)'") }
        advance()
    }

    mutating func expectEndOfLine() throws(TOMLSyntaxError) {
        skipSpaces()
        skipComment()
        if starts(with: "\r\n") {
            advance(2)
            return
        }
        guard let byte = peek() else { return }
        guard byte == UInt8(ascii: "\n") else { throw error("expected the end of the line") }
        advance()
    }

    func error(_ reason: String, line: Int? = nil, column: Int? = nil) -> TOMLSyntaxError {
        if let line, line != self.line {
            return TOMLSyntaxError(line: line, column: 1, reason: reason)
        }
        return TOMLSyntaxError(line: self.line, column: column ?? (position - lineStart + 1), reason: reason)
    }

    func isBareKeyByte(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    func isScalarByte(_ byte: UInt8) -> Bool {
        isBareKeyByte(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
    }

    func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}
