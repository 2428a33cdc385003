// libFuzzer target: DaemonConfig's own TOML parser (TOMLParser) and the loader that walks the
// parsed document against the configuration schema (ConfigLoader.parse), on arbitrary text.
//
// Besides not crashing: every line number the parser or the loader reports is a line of the
// text, and a document that parses prints (as TOML with inline tables and escaped strings)
// to text that parses back to the same values.
import DaemonConfig

func lineCount(_ text: String) -> Int {
    text.utf8.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
}

func checkLines(_ table: TOMLTable, lines: Int) {
    for entry in table.entries {
        precondition((1...lines).contains(entry.line), "key \(entry.key) on line \(entry.line) of \(lines)")
        checkLines(entry.value, lines: lines)
    }
}

func checkLines(_ value: TOMLValue, lines: Int) {
    switch value {
    case .table(let table): checkLines(table, lines: lines)
    case .array(let items):
        for item in items { checkLines(item, lines: lines) }
    default: break
    }
}

/// TOML text for a value, on one line: basic strings with every control character escaped,
/// tables as inline tables.
func render(_ value: TOMLValue) -> String {
    switch value {
    case .string(let text): return quote(text)
    case .integer(let number): return String(number)
    case .float(let number):
        if number.isNaN { return "nan" }
        if number.isInfinite { return number < 0 ? "-inf" : "inf" }
        let text = "\(number)"
        // Swift prints 1e+20 and 5e-324; TOML needs a fraction or an exponent, which both have.
        return text
    case .boolean(let flag): return flag ? "true" : "false"
    case .dateTime(let text): return text
    case .array(let items): return "[" + items.map(render).joined(separator: ", ") + "]"
    case .table(let table):
        return "{" + table.entries.map { "\(quote($0.key)) = \(render($0.value))" }.joined(separator: ", ") + "}"
    }
}

func quote(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// A value's meaning without line numbers, for comparing two parses.
func canonical(_ value: TOMLValue) -> String {
    switch value {
    case .float(let number) where number.isNaN: return "float(nan)"
    case .float(let number): return "float(\(number.bitPattern))"
    case .array(let items): return "[" + items.map(canonical).joined(separator: ",") + "]"
    case .table(let table):
        return "{" + table.entries.map { "\($0.key.debugDescription)=\(canonical($0.value))" }.joined(separator: ",")
            + "}"
    default: return "\(value)"
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let lines = lineCount(text)
    do {
        let document = try TOMLParser.parse(text)
        checkLines(document, lines: lines)
        let printed = document.entries.map { "\(quote($0.key)) = \(render($0.value))" }.joined(separator: "\n")
        do {
            let again = try TOMLParser.parse(printed)
            precondition(
                canonical(.table(again)) == canonical(.table(document)),
                "printing and parsing changes the document:\n\(text.debugDescription)\n\(printed.debugDescription)"
            )
        } catch {
            preconditionFailure(
                "the printed document does not parse (\(error)):\n\(text.debugDescription)\n\(printed.debugDescription)"
            )
        }
    } catch {
        precondition(
            (1...lines).contains(error.line) && error.column >= 1,
            "error at \(error.line):\(error.column) in \(lines) lines: \(error.reason)"
        )
    }
    do {
        _ = try ConfigLoader.parse(text, file: "fuzz.toml")
    } catch {
        precondition((0...lines).contains(error.line), "config error on line \(error.line) of \(lines): \(error)")
    }
    return 0
}
