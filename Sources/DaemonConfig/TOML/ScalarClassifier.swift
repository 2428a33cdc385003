/// Turns a bare TOML token (`42`, `0x1F`, `-3.5e2`, `inf`, `true`, `1979-05-27T07:32:00Z`) into a value.
enum ScalarClassifier {
    static func classify(_ token: String) -> TOMLValue? {
        switch token {
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        if looksLikeDateTime(token) { return .dateTime(token) }
        if let integer = integer(token) { return .integer(integer) }
        if let float = float(token) { return .float(float) }
        return nil
    }

    static func looksLikeDateTime(_ token: String) -> Bool {
        let bytes = Array(token.utf8)
        let digits = { (range: Range<Int>) in
            range.allSatisfy { $0 < bytes.count && bytes[$0] >= 48 && bytes[$0] <= 57 }
        }
        if bytes.count >= 10, digits(0..<4), bytes[4] == UInt8(ascii: "-"), digits(5..<7),
            bytes[7] == UInt8(ascii: "-"), digits(8..<10)
        {
            return true
        }
        return bytes.count >= 8 && digits(0..<2) && bytes[2] == UInt8(ascii: ":") && digits(3..<5)
            && bytes[5] == UInt8(ascii: ":")
    }

    static func integer(_ token: String) -> Int64? {
        var text = Substring(token)
        var negative = false
        if let sign = text.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            text = text.dropFirst()
        }
        var radix = 10
        if text.hasPrefix("0x") || text.hasPrefix("0o") || text.hasPrefix("0b") {
            guard token.first != "+" && token.first != "-" else { return nil }
            radix = text.hasPrefix("0x") ? 16 : text.hasPrefix("0o") ? 8 : 2
            text = text.dropFirst(2)
        } else if text.count > 1 && text.first == "0" {
            return nil  // leading zeros are not allowed
        }
        guard let digits = stripUnderscores(text) else { return nil }
        guard let magnitude = UInt64(digits, radix: radix) else { return nil }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    static func float(_ token: String) -> Double? {
        var text = Substring(token)
        if let sign = text.first, sign == "+" || sign == "-" { text = text.dropFirst() }
        guard let first = text.first, first.isASCII, first.isNumber else { return nil }
        // An integer part may not have leading zeros; the fraction needs digits on both sides of '.'.
        let integerPart = text.prefix { $0 != "." && $0 != "e" && $0 != "E" }
        if integerPart.count > 1 && integerPart.first == "0" { return nil }
        if let dot = text.firstIndex(of: ".") {
            let after = text[text.index(after: dot)...]
            guard let next = after.first, next.isASCII, next.isNumber else { return nil }
        }
        guard let cleaned = stripUnderscores(Substring(token)) else { return nil }
        return Double(cleaned)
    }

    /// Removes `_` separators, which TOML allows only between two digits.
    static func stripUnderscores(_ text: Substring) -> String? {
        guard !text.isEmpty, text.first != "_", text.last != "_", !text.contains("__") else { return nil }
        let characters = Array(text)
        for (index, character) in characters.enumerated() where character == "_" {
            guard characters[index - 1].isHexDigit, characters[index + 1].isHexDigit else { return nil }
        }
        return String(text.filter { $0 != "_" })
    }
}
