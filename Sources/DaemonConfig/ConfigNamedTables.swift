/// A table of named entries, such as `[runtime.handlers.<name>]` or `[images.registries."<host>"]`:
/// the names are the operator's, the fields of every entry come from a fixed list of options.
public struct ConfigNamedTables: Sendable {
    public struct Field: Sendable {
        public let key: String
        public let typeDescription: String
        public let defaultValue: TOMLValue
        public let doc: String
    }

    public let key: String
    /// What one name stands for, e.g. "RuntimeClass handler name".
    public let nameDescription: String
    public let doc: String
    public let fields: [Field]
    /// Entries the daemon has when the file has no table at `key` at all, as field values.
    public let defaultEntries: [(name: String, values: [(key: String, value: TOMLValue)])]
    /// Decodes the whole table at `key` into the configuration.
    let decode: @Sendable (inout DaemonConfiguration, TOMLTable) throws(ConfigIssue) -> Void
    /// Applies ``defaultEntries``.
    let applyDefaults: @Sendable (inout DaemonConfiguration) -> Void

    static func make<Entry: Sendable>(
        _ key: String,
        nameDescription: String,
        doc: String,
        blank: Entry,
        fields: [ConfigOption<Entry>],
        defaults: [(name: String, values: [(key: String, value: TOMLValue)])],
        validateName: @escaping @Sendable (String) -> String? = { _ in nil },
        set: @escaping @Sendable (inout DaemonConfiguration, [String: Entry]) -> Void
    ) -> ConfigNamedTables {
        let decodeEntries = { @Sendable (table: TOMLTable) throws(ConfigIssue) -> [String: Entry] in
            var entries: [String: Entry] = [:]
            for item in table.entries {
                let entryKey = "\(key).\(ConfigKey.quoted(item.key))"
                if let reason = validateName(item.key) {
                    throw ConfigIssue(line: item.line, key: entryKey, reason: reason)
                }
                guard case .table(let entryTable) = item.value else {
                    throw ConfigIssue(
                        line: item.line,
                        key: entryKey,
                        reason:
                            "must be a table of \(fields.map(\.key).joined(separator: ", ")), got a \(item.value.typeName)"
                    )
                }
                var entry = blank
                // try?: a default its type refuses ("" for a required runtime_path) leaves the blank entry's value.
                for field in fields { try? field.apply(&entry, field.defaultValue) }
                try ConfigWalker.apply(entryTable, prefix: entryKey, options: fields, to: &entry)
                entries[item.key] = entry
            }
            return entries
        }
        return ConfigNamedTables(
            key: key,
            nameDescription: nameDescription,
            doc: doc,
            fields: fields.map {
                Field(key: $0.key, typeDescription: $0.typeDescription, defaultValue: $0.defaultValue, doc: $0.doc)
            },
            defaultEntries: defaults,
            decode: { configuration, table throws(ConfigIssue) in set(&configuration, try decodeEntries(table)) },
            applyDefaults: { configuration in
                var table = TOMLTable()
                for entry in defaults {
                    var entryTable = TOMLTable()
                    for value in entry.values { entryTable.insert(value.key, value.value, line: 0) }
                    table.insert(entry.name, .table(entryTable), line: 0)
                }
                // The default entries are part of the schema: one refused is a bug in Skiff.
                do throws(ConfigIssue) {
                    set(&configuration, try decodeEntries(table))
                } catch {
                    preconditionFailure("the default entries of \(key) are refused: \(error.key): \(error.reason)")
                }
            }
        )
    }
}

/// A refused key: where it is and why. ``ConfigLoader`` adds the file name.
public struct ConfigIssue: Error, Sendable, Equatable {
    public var line: Int
    public var key: String
    public var reason: String
}

/// Writes keys the way TOML needs them: bare when possible, quoted otherwise.
enum ConfigKey {
    static func quoted(_ key: String) -> String {
        let bare =
            !key.isEmpty
            && key.utf8.allSatisfy { byte in
                (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte == 95
                    || byte == 45
            }
        return bare ? key : TOMLValue.string(key).tomlText
    }
}
