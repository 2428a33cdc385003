/// A parsed `WWW-Authenticate` header: `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
struct AuthChallenge: Sendable, Equatable {
    var scheme: String
    var parameters: [String: String]

    var realm: String? { parameters["realm"] }

    init(scheme: String, parameters: [String: String]) {
        self.scheme = scheme
        self.parameters = parameters
    }

    /// Parses the first challenge of the header; nil if it is not one.
    ///
    /// Works on Unicode scalars, not Characters: after a combining or prepended mark (U+0301,
    /// U+0601, …) a space, quote or comma would otherwise hide inside one grapheme cluster and be
    /// missed as a delimiter.
    init?(header: String) {
        let trimmed = header.unicodeScalars.drop { $0 == " " }
        guard !trimmed.isEmpty else { return nil }
        guard let space = trimmed.firstIndex(of: " ") else {
            self.init(scheme: String(trimmed).lowercased(), parameters: [:])
            return
        }
        var parameters: [String: String] = [:]
        var rest = trimmed[trimmed.index(after: space)...]
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let key = String(Self.trimmingTrailingSpaces(rest[..<equals])).lowercased()
            rest = rest[rest.index(after: equals)...].drop { $0 == " " }
            var value = String.UnicodeScalarView()
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                while let scalar = rest.first {
                    rest = rest.dropFirst()
                    if escaped {
                        value.append(scalar)
                        escaped = false
                        continue
                    }
                    if scalar == "\\" {
                        escaped = true
                        continue
                    }
                    if scalar == "\"" { break }
                    value.append(scalar)
                }
            } else {
                let token = rest.prefix { $0 != "," }
                value.append(contentsOf: Self.trimmingTrailingSpaces(token))
                rest = rest[token.endIndex...]
            }
            parameters[key] = String(value)
        }
        self.init(scheme: String(trimmed[..<space]).lowercased(), parameters: parameters)
    }

    private static func trimmingTrailingSpaces(_ text: Substring.UnicodeScalarView) -> Substring.UnicodeScalarView {
        var copy = text
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
