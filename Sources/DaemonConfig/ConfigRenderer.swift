import SkiffCommon

/// Produces the two human-facing forms of ``ConfigSchema``: the commented default file that
/// `skiff config default` prints, and the reference page docs/config.md.
public enum ConfigRenderer {
    /// The full default configuration as TOML, every key present and explained.
    public static func defaultFile() -> String {
        var lines = [
            "# skiffd configuration (\(ConfigLoader.defaultPath)).",
            "# Every key is shown with its default value; delete what you do not change.",
            "# Unknown keys and bad values stop skiffd at start with the file, line and key.",
            "# Reference: docs/config.md, or `skiff config docs`.",
        ]
        for section in ConfigSchema.sections {
            lines.append("")
            if !section.name.isEmpty { lines.append("[\(section.name)]") }
            lines.append(contentsOf: comment(section.doc))
            for option in ConfigSchema.options where sectionName(of: option.key) == section.name {
                lines.append("")
                lines.append(contentsOf: comment(option.doc + " (\(option.typeDescription))"))
                lines.append("\(leafName(of: option.key)) = \(option.defaultValue.tomlText)")
            }
            for table in ConfigSchema.namedTables where sectionName(of: table.key) == section.name {
                lines.append("")
                lines.append(contentsOf: comment(table.doc))
                lines.append(
                    contentsOf: comment(
                        "Fields: " + table.fields.map { "\($0.key) — \($0.doc)" }.joined(separator: " ")
                    )
                )
                if table.defaultEntries.isEmpty {
                    lines.append(contentsOf: exampleEntry(table).map { "# " + $0 })
                }
                for entry in table.defaultEntries {
                    lines.append("[\(table.key).\(ConfigKey.quoted(entry.name))]")
                    for value in entry.values { lines.append("\(value.key) = \(value.value.tomlText)") }
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// docs/config.md.
    public static func markdown() -> String {
        var out = """
            # Configuration reference

            skiffd reads one TOML file: `\(ConfigLoader.defaultPath)`, or the file given with `--config`. \
            A missing default file means every default below; a key the table does not list, or a value of \
            the wrong type or range, stops skiffd at start with `FILE:LINE: key 'KEY': reason`.

            `skiff config default` prints the whole file with every default and these explanations. \
            This page is generated from the same table (`swift run skiff config docs > docs/config.md`); \
            a unit test fails when it is stale.

            Durations are written as Go and Kubernetes write them: `500ms`, `30s`, `5m`, `1h30m`.

            """
        for section in ConfigSchema.sections {
            out += "\n## \(section.name.isEmpty ? "Top level" : "[\(section.name)]")\n\n\(section.doc)\n\n"
            let options = ConfigSchema.options.filter { sectionName(of: $0.key) == section.name }
            if !options.isEmpty {
                out += "| key | type | default | meaning |\n|---|---|---|---|\n"
                for option in options {
                    out +=
                        "| `\(option.key)` | \(option.typeDescription) | `\(option.defaultValue.tomlText)` | \(option.doc) |\n"
                }
            }
            for table in ConfigSchema.namedTables where sectionName(of: table.key) == section.name {
                out += "\n### [\(table.key).<\(table.nameDescription)>]\n\n\(table.doc)\n\n"
                out += "| field | type | default | meaning |\n|---|---|---|---|\n"
                for field in table.fields {
                    out +=
                        "| `\(field.key)` | \(field.typeDescription) | `\(field.defaultValue.tomlText)` | \(field.doc) |\n"
                }
                out += "\n```toml\n"
                if table.defaultEntries.isEmpty {
                    out += exampleEntry(table).joined(separator: "\n") + "\n"
                } else {
                    out += "# the defaults\n"
                    for entry in table.defaultEntries {
                        out += "[\(table.key).\(ConfigKey.quoted(entry.name))]\n"
                        for value in entry.values { out += "\(value.key) = \(value.value.tomlText)\n" }
                    }
                }
                out += "```\n"
            }
        }
        return out
    }

    static func exampleEntry(_ table: ConfigNamedTables) -> [String] {
        ["[\(table.key).\"registry.example.com:5000\"]"]
            + table.fields.map { "\($0.key) = \($0.defaultValue.tomlText)" }
    }

    static func sectionName(of key: String) -> String {
        guard let dot = key.lastIndex(of: ".") else { return "" }
        return String(key[..<dot])
    }

    static func leafName(of key: String) -> String {
        guard let dot = key.lastIndex(of: ".") else { return key }
        return String(key[key.index(after: dot)...])
    }

    static func comment(_ text: String) -> [String] {
        var lines: [String] = []
        var current = "#"
        for word in text.split(separator: " ") {
            if current.count + word.count + 1 > 100 && current != "#" {
                lines.append(current)
                current = "#"
            }
            current += " " + word
        }
        lines.append(current)
        return lines
    }
}

extension TOMLValue {
    /// The value written as TOML source.
    public var tomlText: String {
        switch self {
        case .string(let text):
            return doubleQuotedLiteral(text)
        case .integer(let number): return String(number)
        case .float(let number):
            if number.isNaN { return "nan" }
            if number.isInfinite { return number > 0 ? "inf" : "-inf" }
            return String(number)
        case .boolean(let flag): return flag ? "true" : "false"
        case .dateTime(let text): return text
        case .array(let items): return "[" + items.map(\.tomlText).joined(separator: ", ") + "]"
        case .table(let table):
            return "{ "
                + table.entries.map { "\(ConfigKey.quoted($0.key)) = \($0.value.tomlText)" }.joined(separator: ", ")
                + " }"
        }
    }
}
