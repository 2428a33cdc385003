import Testing

@testable import RuntimeCore

/// The YAML side of CDI spec files (libyaml events read into a tree, decoded by the YAML 1.2
/// core schema): what YAML allows beyond JSON, and what is refused by name.
@Suite struct CDISpecYAMLTests {
    static func parse(_ text: String) throws(CDISpecParser.Failure) -> CDISpec {
        try CDISpecParser.parse(Array(text.utf8), format: .yaml).spec
    }

    static func failure(_ text: String) -> String {
        do {
            _ = try parse(text)
            return "parsed"
        } catch {
            return error.description
        }
    }

    /// A 0.7.0 spec of kind a/b whose one device "d" has `edits` (YAML flow mapping).
    static func spec(_ edits: String, device: String = "d") -> String {
        "cdiVersion: 0.7.0\nkind: a/b\ndevices:\n  - name: \(device)\n    containerEdits: \(edits)\n"
    }

    @Test func plainScalarsAreTypedByTheCoreSchema() throws {
        let spec = try Self.parse(
            Self.spec(
                "{additionalGids: [5, 0x10, 0o17, +3], hooks: [{hookName: poststop, path: /bin/true, timeout: 7}], env: [A=1]}"
            )
        )
        let edits = try #require(spec.devices.first?.containerEdits)
        #expect(edits.additionalGids == [5, 16, 15, 3])
        #expect(edits.hooks?.first?.timeout == 7)
    }

    @Test func aStringFieldTakesAnyScalarsText() throws {
        let spec = try Self.parse(Self.spec("{env: [A=1]}", device: "0"))
        #expect(spec.devices.map(\.name) == ["0"])
        let tagged = try Self.parse(Self.spec("{env: [!!str A=1, 'B=2', \"C=3\"]}"))
        #expect(tagged.devices.first?.containerEdits.env == ["A=1", "B=2", "C=3"])
    }

    @Test func aQuotedNumberOrAWrongTypeIsRefusedByField() {
        let quoted = Self.failure(Self.spec(#"{env: [A=1], additionalGids: ["5"]}"#))
        #expect(quoted.contains("additionalGids") && quoted.contains("UInt32"), "\(quoted)")
        let negative = Self.failure(Self.spec("{env: [A=1], additionalGids: [-1]}"))
        #expect(negative.contains("additionalGids"), "\(negative)")
        let mapping = Self.failure(Self.spec("{env: {A: 1}}"))
        #expect(mapping.contains("env") && mapping.contains("a mapping"), "\(mapping)")
    }

    @Test func nullsAreAbsentOptionalFields() throws {
        let spec = try Self.parse(
            "cdiVersion: 0.6.0\nkind: a/b\nannotations: ~\ncontainerEdits: null\ndevices:\n"
                + "  - name: d\n    annotations:\n    containerEdits: {env: [A=1], mounts: ~}\n"
        )
        #expect(spec.annotations == nil && spec.containerEdits == nil)
        #expect(spec.devices.first?.annotations == nil && spec.devices.first?.containerEdits.mounts == nil)
    }

    @Test func anchorsAndAliasesShareEdits() throws {
        let spec = try Self.parse(
            "cdiVersion: 0.6.0\nkind: a/b\ndevices:\n  - name: x\n    containerEdits: &edits {env: [A=1]}\n"
                + "  - name: y\n    containerEdits: *edits\n"
        )
        #expect(spec.devices.map(\.containerEdits) == Array(repeating: spec.devices[0].containerEdits, count: 2))
        #expect(Self.failure(Self.spec("*nowhere")).contains("alias *nowhere has no anchor"))
    }

    @Test func oneDocumentPerFile() {
        let two = Self.spec("{env: [A=1]}") + "---\n" + Self.spec("{env: [B=1]}")
        #expect(Self.failure(two).contains("second YAML document"), "\(Self.failure(two))")
        #expect(Self.failure("---\n" + Self.spec("{env: [A=1]}") + "...\n") == "parsed")
    }

    @Test func duplicateKeysAreRefused() {
        let message = Self.failure("cdiVersion: 0.6.0\nkind: a/b\nkind: c/d\ndevices: []\n")
        #expect(message.contains("duplicate key \"kind\""), "\(message)")
    }

    @Test func syntaxErrorsNameTheirLine() {
        let message = Self.failure("cdiVersion: 0.6.0\nkind: [unclosed\n")
        #expect(message.contains("line 3") || message.contains("line 2"), "\(message)")
        #expect(Self.failure("a: b\n\tc: d\n").contains("line"), "\(Self.failure("a: b\n\tc: d\n"))")
    }

    @Test func nestingIsLimited() {
        let depth = YAMLReader.maximumDepth
        let deep = String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1)
        #expect(Self.failure("devices: \(deep)").contains("nested deeper than \(depth) levels"))
        // Within the limit the tree is built; decoding then refuses the shape, not the depth.
        let nested = String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1)
        let shallower = Self.failure("devices: \(nested)")
        #expect(shallower != "parsed" && !shallower.contains("nested deeper"), "\(shallower)")
    }
}
