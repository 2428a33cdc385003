/// Walks a parsed TOML table against a list of options, refusing unknown keys and bad values
/// with the line they are on.
enum ConfigWalker {
    typealias NamedTableDecoder<Target> = @Sendable (inout Target, TOMLTable) throws(ConfigIssue) -> Void

    /// Applies every key of `table` to `target`. Option keys (and `namedTables` keys) are dotted
    /// paths relative to `table`; `displayPrefix` is the table's own name, for error messages.
    static func apply<Target>(
        _ table: TOMLTable,
        prefix displayPrefix: String,
        options: [ConfigOption<Target>],
        namedTables: [String: NamedTableDecoder<Target>] = [:],
        to target: inout Target
    ) throws(ConfigIssue) {
        try walk(table, path: "", shownPath: displayPrefix, options: options, namedTables: namedTables, to: &target)
    }

    private static func walk<Target>(
        _ table: TOMLTable,
        path: String,
        shownPath: String,
        options: [ConfigOption<Target>],
        namedTables: [String: NamedTableDecoder<Target>],
        to target: inout Target
    ) throws(ConfigIssue) {
        for entry in table.entries {
            let key = join(path, entry.key)
            let shown = join(shownPath, ConfigKey.quoted(entry.key))
            if let option = options.first(where: { $0.key == key }) {
                do {
                    try option.apply(&target, entry.value)
                } catch {
                    throw ConfigIssue(line: entry.line, key: shown, reason: error.reason)
                }
                continue
            }
            let decodeNamed = namedTables[key]
            let isSection =
                options.contains { $0.key.hasPrefix(key + ".") }
                || namedTables.keys.contains { $0.hasPrefix(key + ".") }
            guard decodeNamed != nil || isSection else {
                throw ConfigIssue(line: entry.line, key: shown, reason: "unknown key")
            }
            guard case .table(let inner) = entry.value else {
                throw ConfigIssue(
                    line: entry.line,
                    key: shown,
                    reason: "must be a table, got a \(entry.value.typeName)"
                )
            }
            if let decodeNamed {
                try decodeNamed(&target, inner)
            } else {
                try walk(inner, path: key, shownPath: shown, options: options, namedTables: namedTables, to: &target)
            }
        }
    }

    private static func join(_ prefix: String, _ key: String) -> String {
        prefix.isEmpty ? key : "\(prefix).\(key)"
    }
}
