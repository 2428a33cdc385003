import Foundation
import Testing

@testable import RuntimeCore

/// The CDI spec file format as Skiff reads it: both encodings, the versions, and the checks
/// that treat a spec file as hostile input.
@Suite struct CDISpecParserTests {
    static let json = """
        {
          "cdiVersion": "0.6.0",
          "kind": "vendor.example/null",
          "annotations": {"note": "test"},
          "containerEdits": {"env": ["SPEC_LEVEL=1"]},
          "devices": [
            {
              "name": "0",
              "containerEdits": {
                "env": ["NULL_DEVICE=0"],
                "deviceNodes": [{"path": "/dev/null0", "hostPath": "/dev/null", "permissions": "rw"}],
                "mounts": [{"hostPath": "/tmp", "containerPath": "/cdi", "options": ["rbind", "ro"], "type": "bind"}],
                "hooks": [{"hookName": "createContainer", "path": "/bin/true", "args": ["true"], "timeout": 5}]
              }
            }
          ]
        }
        """

    static let yaml = """
        cdiVersion: 0.6.0
        kind: vendor.example/null
        annotations:
          note: test
        containerEdits:
          env: [SPEC_LEVEL=1]
        devices:
          - name: "0"
            containerEdits:
              env:
                - NULL_DEVICE=0
              deviceNodes:
                - path: /dev/null0
                  hostPath: /dev/null
                  permissions: rw
              mounts:
                - hostPath: /tmp
                  containerPath: /cdi
                  options: [rbind, ro]
                  type: bind
              hooks:
                - hookName: createContainer
                  path: /bin/true
                  args: ["true"]
                  timeout: 5
        """

    static func parse(_ text: String, _ format: CDISpecParser.Format = .json) throws(CDISpecParser.Failure) -> CDISpec {
        try CDISpecParser.parse(Array(text.utf8), format: format).spec
    }

    static func failure(_ text: String, _ format: CDISpecParser.Format = .json) -> String {
        do {
            _ = try parse(text, format)
            return "parsed"
        } catch {
            return error.description
        }
    }

    /// A spec of `version` with one device whose edits are `edits` (JSON).
    static func spec(version: String = "0.7.0", kind: String = "vendor.example/null", edits: String) -> String {
        """
        {"cdiVersion": "\(version)", "kind": "\(kind)", "devices": [{"name": "d0", "containerEdits": \(edits)}]}
        """
    }

    @Test func jsonAndYAMLDecodeToTheSameSpec() throws {
        let fromJSON = try Self.parse(Self.json)
        let fromYAML = try Self.parse(Self.yaml, .yaml)
        #expect(fromJSON == fromYAML)
        #expect(fromJSON.kind == "vendor.example/null")
        let edits = try #require(fromJSON.devices.first?.containerEdits)
        #expect(edits.deviceNodes?.first?.hostPath == "/dev/null")
        #expect(edits.mounts?.first?.options == ["rbind", "ro"])
        #expect(edits.hooks?.first?.timeout == 5)
        #expect(fromJSON.containerEdits?.env == ["SPEC_LEVEL=1"])
        let parsed = try CDISpecParser.parse(Array(Self.json.utf8), format: .json)
        #expect(parsed.vendor == "vendor.example" && parsed.class == "null")
    }

    @Test(arguments: ["0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0", "v0.8.0", "1.0.0"])
    func supportedVersionsAreRead(version: String) throws {
        let spec = try Self.parse(Self.spec(version: version, edits: #"{"env": ["A=1"]}"#))
        #expect(spec.cdiVersion == version)
    }

    @Test(
        arguments: [
            ("2.0.0", "major version"), ("10.1.0", "major version"), ("0.2.0", "not supported"),
            ("1.1.0", "not supported"), ("latest", "not a version"),
        ]
    )
    func otherVersionsAreRefusedClearly(version: String, expected: String) {
        let message = Self.failure(Self.spec(version: version, edits: #"{"env": ["A=1"]}"#))
        #expect(message.contains(version) && message.contains(expected), "\(message)")
    }

    @Test func aDeviceNameStartingWithADigitNeedsVersion050() {
        let early =
            #"{"cdiVersion": "0.4.0", "kind": "a/b", "devices": [{"name": "0", "containerEdits": {"env": ["A=1"]}}]}"#
        #expect(Self.failure(early).contains("needs cdiVersion 0.5.0"))
        #expect(Self.failure(early.replacingOccurrences(of: "0.4.0", with: "0.5.0")) == "parsed")
    }

    @Test(
        arguments: [
            ("0.4.0", #"{"deviceNodes": [{"path": "/dev/null", "hostPath": "/dev/null"}]}"#, "0.5.0"),
            ("0.3.0", #"{"mounts": [{"hostPath": "/a", "containerPath": "/b", "type": "bind"}]}"#, "0.4.0"),
            ("0.6.0", #"{"additionalGids": [5]}"#, "0.7.0"),
        ]
    )
    func aFieldNewerThanTheDeclaredVersionIsRefused(version: String, edits: String, needed: String) {
        let message = Self.failure(Self.spec(version: version, edits: edits))
        #expect(message.contains("needs cdiVersion \(needed)"), "\(message)")
    }

    @Test func unknownFieldsAreRefusedByName() {
        let message = Self.failure(
            Self.spec(edits: #"{"netDevices": [{"hostInterfaceName": "eth1", "name": "eth1"}]}"#)
        )
        #expect(message.contains("unknown field \"netDevices\""), "\(message)")
        #expect(Self.failure(#"{"cdiVersion": "0.6.0", "kind": "a/b", "devices": [], "extra": 1}"#).contains("extra"))
    }

    @Test(
        arguments: [
            (#"{"mounts": [{"hostPath": "/tmp", "containerPath": "etc/x"}]}"#, "not an absolute path"),
            (#"{"mounts": [{"hostPath": "tmp", "containerPath": "/x"}]}"#, "mounts.hostPath"),
            (#"{"mounts": [{"hostPath": "/tmp", "containerPath": "/x/../../etc"}]}"#, "'..'"),
            (#"{"deviceNodes": [{"path": "dev/null"}]}"#, "deviceNodes.path"),
            (#"{"deviceNodes": [{"path": "/dev/null", "type": "x"}]}"#, "type \"x\""),
            (#"{"deviceNodes": [{"path": "/dev/null", "permissions": "rwx"}]}"#, "permissions"),
            (#"{"hooks": [{"hookName": "prestop", "path": "/bin/true"}]}"#, "not an OCI hook stage"),
            (#"{"hooks": [{"hookName": "poststop", "path": "true"}]}"#, "hooks.path"),
            (#"{"hooks": [{"hookName": "poststop", "path": "/bin/true", "timeout": 0}]}"#, "timeout"),
            (#"{"env": ["=x"]}"#, "NAME=value"),
            (#"{"env": ["NOEQUALS"]}"#, "NAME=value"),
            // A combining mark makes "=" part of another character, not of another byte.
            (#"{"env": ["=\u0301A=b"]}"#, "NAME=value"),
            (#"{"mounts": [{"hostPath": "/tmp", "containerPath": "/x/..\u0000/etc"}]}"#, "NUL"),
            (#"{}"#, "has no edits"),
        ]
    )
    func hostileOrBrokenEditsAreRefused(edits: String, expected: String) {
        let message = Self.failure(Self.spec(edits: edits))
        #expect(message.contains(expected), "\(message)")
    }

    @Test func kindsAndDeviceListsAreChecked() {
        #expect(Self.failure(Self.spec(kind: "vendor.example", edits: #"{"env": ["A=1"]}"#)).contains("vendor/class"))
        #expect(Self.failure(Self.spec(kind: "vendor/cl/ass", edits: #"{"env": ["A=1"]}"#)).contains("vendor/class"))
        #expect(Self.failure(Self.spec(kind: "-v/c", edits: #"{"env": ["A=1"]}"#)).contains("start with a letter"))
        #expect(Self.failure(#"{"cdiVersion": "0.6.0", "kind": "a/b", "devices": []}"#).contains("no devices"))
        let twice = #"""
            {"cdiVersion": "0.6.0", "kind": "a/b", "devices": [
              {"name": "x", "containerEdits": {"env": ["A=1"]}}, {"name": "x", "containerEdits": {"env": ["A=2"]}}]}
            """#
        #expect(Self.failure(twice).contains("defined twice"))
    }

    @Test func malformedDocumentsAreRefusedWithTheirPlace() {
        #expect(Self.failure("{") != "parsed" && !Self.failure("{").isEmpty)
        #expect(Self.failure(#"{"cdiVersion": "0.6.0", "kind": "a/b"}"#).contains("devices"))
        #expect(Self.failure("kind: [unclosed", .yaml) != "parsed")
        #expect(Self.failure("", .yaml).contains("empty"))
    }

    @Test func aYAMLAliasBombIsRefusedBeforeDecoding() {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for level in 1...8 {
            let previous = "*a\(level - 1)"
            lines.append("a\(level): &a\(level) [\(Array(repeating: previous, count: 10).joined(separator: ", "))]")
        }
        lines.append("cdiVersion: 0.6.0\nkind: a/b\ndevices: [{name: x, containerEdits: {env: *a8}}]")
        let message = Self.failure(lines.joined(separator: "\n"), .yaml)
        #expect(message.contains("YAML nodes"), "\(message)")
    }

    @Test func anOversizedFileIsRefusedUnread() {
        let large = Array(repeating: UInt8(ascii: " "), count: CDISpecParser.maximumSize + 1)
        #expect(throws: CDISpecParser.Failure.self) { try CDISpecParser.parse(large, format: .json) }
    }

    @Test func deeplyNestedYAMLFailsWithoutCrashing() async {
        // libyaml stops at its nesting limit; the parse runs on a task's (small) stack.
        let nested = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        let message = await Task { Self.failure("cdiVersion: 0.6.0\nkind: a/b\ndevices: \(nested)", .yaml) }.value
        #expect(message != "parsed")
    }
}
