/// One documented configuration key: its type, default, documentation and how it sets a value.
///
/// `Target` is the struct the key fills: ``DaemonConfiguration`` for top-level keys (with their
/// full dotted name) or an entry type such as ``DaemonConfiguration/RuntimeHandler`` for the
/// fields of a named table.
public struct ConfigOption<Target>: Sendable {
    public let key: String
    /// How the type reads in docs and error messages: "string", "absolute path", "duration" …
    public let typeDescription: String
    public let defaultValue: TOMLValue
    public let doc: String
    let apply: @Sendable (inout Target, TOMLValue) throws(ConfigValueError) -> Void
}

/// Why a value was refused; the loader adds the file, line and key.
struct ConfigValueError: Error {
    var reason: String
}

extension ConfigOption {
    /// Sets a top-level key's default on `target`. The default is part of the schema, written next
    /// to the key's type: one that its own type refuses is a bug in Skiff, stopped here rather than
    /// left as a silently missing default. (Fields of named tables may have a placeholder default
    /// that only says "must be given"; they are not set through this.)
    func applyDefault(to target: inout Target) {
        do {
            try apply(&target, defaultValue)
        } catch {
            preconditionFailure("the default of \(key) is refused by its own type: \(error.reason)")
        }
    }
}

extension ConfigOption {
    static func string(
        _ key: String,
        default value: String,
        doc: String,
        set: @escaping @Sendable (inout Target, String) -> Void
    ) -> ConfigOption {
        ConfigOption(key: key, typeDescription: "string", defaultValue: .string(value), doc: doc) {
            target,
            toml throws(ConfigValueError) in
            set(&target, try expectString(toml))
        }
    }

    /// An absolute path; `allowEmpty` lets "" mean "not set" where the doc says what that does.
    static func path(
        _ key: String,
        default value: String,
        allowEmpty: Bool = false,
        doc: String,
        set: @escaping @Sendable (inout Target, String) -> Void
    ) -> ConfigOption {
        ConfigOption(key: key, typeDescription: "absolute path", defaultValue: .string(value), doc: doc) {
            target,
            toml throws(ConfigValueError) in
            let path = try expectString(toml)
            if path.isEmpty && allowEmpty { return set(&target, path) }
            guard path.hasPrefix("/") else {
                throw ConfigValueError(reason: "must be an absolute path, got \"\(path)\"")
            }
            guard !path.contains("\0") else { throw ConfigValueError(reason: "must not contain a NUL byte") }
            set(&target, path)
        }
    }

    /// A path that may also be a bare program name, looked up on $PATH.
    static func program(
        _ key: String,
        default value: String,
        doc: String,
        set: @escaping @Sendable (inout Target, String) -> Void
    ) -> ConfigOption {
        ConfigOption(key: key, typeDescription: "program path or name", defaultValue: .string(value), doc: doc) {
            target,
            toml throws(ConfigValueError) in
            let program = try expectString(toml)
            guard !program.isEmpty else { throw ConfigValueError(reason: "must name a program") }
            guard program.hasPrefix("/") || !program.contains("/") else {
                throw ConfigValueError(
                    reason: "must be an absolute path or a bare name looked up on $PATH, got \"\(program)\""
                )
            }
            set(&target, program)
        }
    }

    static func choice<Choice: RawRepresentable & CaseIterable & Sendable>(
        _ key: String,
        default value: Choice,
        doc: String,
        set: @escaping @Sendable (inout Target, Choice) -> Void
    ) -> ConfigOption where Choice.RawValue == String {
        let names = Choice.allCases.map(\.rawValue)
        return ConfigOption(
            key: key,
            typeDescription: "one of " + names.map { "\"\($0)\"" }.joined(separator: ", "),
            defaultValue: .string(value.rawValue),
            doc: doc
        ) { target, toml throws(ConfigValueError) in
            let text = try expectString(toml)
            guard let choice = Choice(rawValue: text) else {
                throw ConfigValueError(reason: "must be one of \(names.joined(separator: ", ")), got \"\(text)\"")
            }
            set(&target, choice)
        }
    }

    static func integer(
        _ key: String,
        default value: Int,
        range: ClosedRange<Int>,
        doc: String,
        set: @escaping @Sendable (inout Target, Int) -> Void
    ) -> ConfigOption {
        ConfigOption(
            key: key,
            typeDescription: "integer (\(range.lowerBound)–\(range.upperBound))",
            defaultValue: .integer(Int64(value)),
            doc: doc
        ) { target, toml throws(ConfigValueError) in
            guard case .integer(let number) = toml else { throw typeMismatch("an integer", toml) }
            guard let int = Int(exactly: number), range.contains(int) else {
                throw ConfigValueError(
                    reason: "must be between \(range.lowerBound) and \(range.upperBound), got \(number)"
                )
            }
            set(&target, int)
        }
    }

    static func boolean(
        _ key: String,
        default value: Bool,
        doc: String,
        set: @escaping @Sendable (inout Target, Bool) -> Void
    ) -> ConfigOption {
        ConfigOption(key: key, typeDescription: "boolean", defaultValue: .boolean(value), doc: doc) {
            target,
            toml throws(ConfigValueError) in
            guard case .boolean(let flag) = toml else { throw typeMismatch("true or false", toml) }
            set(&target, flag)
        }
    }

    static func stringList(
        _ key: String,
        default value: [String],
        absolutePaths: Bool = false,
        doc: String,
        set: @escaping @Sendable (inout Target, [String]) -> Void
    ) -> ConfigOption {
        ConfigOption(
            key: key,
            typeDescription: absolutePaths ? "list of absolute paths" : "list of strings",
            defaultValue: .array(value.map(TOMLValue.string)),
            doc: doc
        ) { target, toml throws(ConfigValueError) in
            guard case .array(let items) = toml else { throw typeMismatch("a list of strings", toml) }
            var strings: [String] = []
            for item in items {
                guard case .string(let text) = item else { throw typeMismatch("a list of strings", item) }
                if absolutePaths && !text.hasPrefix("/") {
                    throw ConfigValueError(reason: "entries must be absolute paths, got \"\(text)\"")
                }
                strings.append(text)
            }
            set(&target, strings)
        }
    }

    /// A duration written as Go and Kubernetes write them: "500ms", "30s", "1m30s", "4h".
    static func duration(
        _ key: String,
        default value: String,
        doc: String,
        set: @escaping @Sendable (inout Target, Duration) -> Void
    ) -> ConfigOption {
        ConfigOption(key: key, typeDescription: "duration", defaultValue: .string(value), doc: doc) {
            target,
            toml throws(ConfigValueError) in
            let text = try expectString(toml)
            guard let duration = DurationText.parse(text) else {
                throw ConfigValueError(
                    reason: "must be a duration such as \"30s\", \"5m\" or \"1h30m\", got \"\(text)\""
                )
            }
            set(&target, duration)
        }
    }
}

private func expectString(_ value: TOMLValue) throws(ConfigValueError) -> String {
    guard case .string(let text) = value else { throw typeMismatch("a string", value) }
    return text
}

private func typeMismatch(_ expected: String, _ value: TOMLValue) -> ConfigValueError {
    ConfigValueError(reason: "must be \(expected), got a \(value.typeName)")
}
