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
    init?(header: String) {
        let trimmed = header.drop { $0 == " " }
        guard !trimmed.isEmpty else { return nil }
        guard let space = trimmed.firstIndex(of: " ") else {
            self.init(scheme: trimmed.lowercased(), parameters: [:])
            return
        }
        var parameters: [String: String] = [:]
        var rest = trimmed[trimmed.index(after: space)...]
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let key = rest[..<equals].trimmingTrailingSpaces().lowercased()
            rest = rest[rest.index(after: equals)...].drop { $0 == " " }
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if escaped { value.append(character); escaped = false; continue }
                    if character == "\\" { escaped = true; continue }
                    if character == "\"" { break }
                    value.append(character)
                }
            } else {
                let token = rest.prefix { $0 != "," }
                value = String(token.trimmingTrailingSpaces())
                rest = rest.dropFirst(token.count)
            }
            parameters[key] = value
        }
        self.init(scheme: trimmed[..<space].lowercased(), parameters: parameters)
    }
}

extension Substring {
    func trimmingTrailingSpaces() -> Substring {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
