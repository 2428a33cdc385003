import Foundation
import LinuxSys
import Logging
import SkiffCommon
import Testing

@testable import RuntimeCore

/// Resolution of requested CDI devices against real spec directories: priority, conflicts,
/// broken files, spec-level edits, and device nodes completed from the node.
@Suite struct CDIRegistryTests {
    /// Two spec directories (low, high priority) under a fresh temporary directory.
    final class SpecDirectories {
        let root = "/tmp/skiff-cdi-unit-\(UUID().uuidString.prefix(8).lowercased())"
        var low: String { root + "/etc-cdi" }
        var high: String { root + "/run-cdi" }

        init() throws {
            try FileSystem.makeDirectories(low, mode: 0o755)
            try FileSystem.makeDirectories(high, mode: 0o755)
        }

        deinit {
            // try?: a leftover is caught by the next run's fresh name; nothing else is at stake.
            try? FileManager.default.removeItem(atPath: root)
        }

        func write(_ path: String, _ text: String) throws {
            try FileSystem.writeAtomically(path, Array(text.utf8))
        }

        func edits(_ names: [String]) throws(SkiffError) -> CDIEdits {
            var devices: [CDIDeviceName] = []
            for name in names { devices.append(try CDIDeviceName(parsing: name)) }
            return try CDIRegistry.edits(
                for: devices,
                in: CDISpecDirectories(directories: [low, root + "/missing", high]),
                hostDevice: CDIEdits.hostDevice(at:)
            )
        }

        func failure(_ names: [String]) -> String {
            do {
                _ = try edits(names)
                return "resolved"
            } catch {
                #expect(error.code == .invalidArgument)
                return error.message
            }
        }
    }

    static func spec(kind: String = "vendor.example/null", devices: [String: String], specEnv: String? = nil) -> String
    {
        let list = devices.sorted { $0.key < $1.key }.map {
            #"{"name": "\#($0.key)", "containerEdits": {"env": ["\#($0.value)"]}}"#
        }
        let specEdits = specEnv.map { #", "containerEdits": {"env": ["\#($0)"]}"# } ?? ""
        return
            #"{"cdiVersion": "0.6.0", "kind": "\#(kind)", "devices": [\#(list.joined(separator: ", "))]\#(specEdits)}"#
    }

    @Test func aLaterDirectoryOverridesAnEarlierOne() throws {
        let dirs = try SpecDirectories()
        try dirs.write(dirs.low + "/null.json", Self.spec(devices: ["0": "FROM=etc", "1": "ONLY=etc"]))
        try dirs.write(
            dirs.high + "/null.yaml",
            "cdiVersion: 0.6.0\nkind: vendor.example/null\ndevices:\n- name: '0'\n  containerEdits: {env: [FROM=run]}\n"
        )
        #expect(try dirs.edits(["vendor.example/null=0"]).env == ["FROM=run"])
        #expect(try dirs.edits(["vendor.example/null=1"]).env == ["ONLY=etc"])
    }

    @Test func twoDefinitionsInOneDirectoryAreAConflictNamingBothFiles() throws {
        let dirs = try SpecDirectories()
        try dirs.write(dirs.high + "/a.json", Self.spec(devices: ["0": "A=1"]))
        try dirs.write(dirs.high + "/b.json", Self.spec(devices: ["0": "B=1", "1": "C=1"]))
        let message = dirs.failure(["vendor.example/null=0"])
        #expect(message.contains("vendor.example/null=0"), "\(message)")
        #expect(message.contains(dirs.high + "/a.json") && message.contains(dirs.high + "/b.json"), "\(message)")
        // The other device of the same file is not in conflict.
        #expect(try dirs.edits(["vendor.example/null=1"]).env == ["C=1"])
    }

    @Test func aConflictInAnEarlierDirectoryIsOverriddenByALaterOne() throws {
        let dirs = try SpecDirectories()
        try dirs.write(dirs.low + "/a.json", Self.spec(devices: ["0": "A=1"]))
        try dirs.write(dirs.low + "/b.json", Self.spec(devices: ["0": "B=1"]))
        try dirs.write(dirs.high + "/c.json", Self.spec(devices: ["0": "C=1"]))
        #expect(try dirs.edits(["vendor.example/null=0"]).env == ["C=1"])
    }

    @Test func anUnknownDeviceIsNamedWithTheDirectories() throws {
        let dirs = try SpecDirectories()
        try dirs.write(dirs.low + "/null.json", Self.spec(devices: ["0": "A=1"]))
        let message = dirs.failure(["vendor.example/null=7"])
        #expect(message.contains("vendor.example/null=7") && message.contains(dirs.low), "\(message)")
    }

    @Test func aBrokenUnrelatedFileBreaksNothingElse() throws {
        let dirs = try SpecDirectories()
        try dirs.write(dirs.low + "/null.json", Self.spec(devices: ["0": "A=1"]))
        try dirs.write(dirs.low + "/broken.json", "{not json")
        try dirs.write(
            dirs.low + "/other.yaml",
            "cdiVersion: 9.0.0\nkind: other.example/x\ndevices: [{name: a, containerEdits: {env: [X=1]}}]\n"
        )
        try dirs.write(dirs.low + "/ignored.txt", "not a spec")
        #expect(try dirs.edits(["vendor.example/null=0"]).env == ["A=1"])
        // An unknown device lists the files that could not even be outlined.
        let message = dirs.failure(["vendor.example/null=9"])
        #expect(message.contains("broken.json") && !message.contains("other.yaml"), "\(message)")
    }

    @Test func aBrokenFileThatDefinesTheDeviceIsNamed() throws {
        let dirs = try SpecDirectories()
        try dirs.write(
            dirs.low + "/other.yaml",
            "cdiVersion: 9.0.0\nkind: other.example/x\ndevices: [{name: a, containerEdits: {env: [X=1]}}]\n"
        )
        let message = dirs.failure(["other.example/x=a"])
        #expect(message.contains("other.example/x=a") && message.contains(dirs.low + "/other.yaml"), "\(message)")
        #expect(message.contains("9.0.0"), "\(message)")
        // A broken file in a later directory defining the device refuses it even when an
        // earlier directory defines it well.
        try dirs.write(dirs.low + "/good.json", Self.spec(devices: ["0": "A=1"]))
        try dirs.write(
            dirs.high + "/bad.json",
            #"{"cdiVersion": "0.6.0", "kind": "vendor.example/null", "devices": [{"name": "0", "containerEdits": {"mounts": [{"hostPath": "/x", "containerPath": "rel"}]}}]}"#
        )
        let refused = dirs.failure(["vendor.example/null=0"])
        #expect(refused.contains(dirs.high + "/bad.json") && refused.contains("containerPath"), "\(refused)")
    }

    @Test func specLevelEditsApplyOnceForAnyOfItsDevices() throws {
        let dirs = try SpecDirectories()
        try dirs.write(dirs.low + "/null.json", Self.spec(devices: ["0": "D0=1", "1": "D1=1"], specEnv: "SPEC=1"))
        let edits = try dirs.edits(["vendor.example/null=0", "vendor.example/null=1"])
        #expect(edits.env == ["SPEC=1", "D0=1", "D1=1"])
        #expect(edits.devices.map(\.description) == ["vendor.example/null=0", "vendor.example/null=1"])
    }

    @Test func deviceNodesAreCompletedFromTheNode() throws {
        let dirs = try SpecDirectories()
        try dirs.write(
            dirs.low + "/null.json",
            #"""
            {"cdiVersion": "0.6.0", "kind": "vendor.example/null", "devices": [
              {"name": "0", "containerEdits": {"deviceNodes": [{"path": "/dev/cdi-null", "hostPath": "/dev/null"}]}},
              {"name": "given", "containerEdits": {"deviceNodes": [{"path": "/dev/fake", "type": "c", "major": 240, "minor": 7, "permissions": "none"}]}},
              {"name": "missing", "containerEdits": {"deviceNodes": [{"path": "/dev/skiff-no-such-device"}]}},
              {"name": "wrongtype", "containerEdits": {"deviceNodes": [{"path": "/dev/null", "type": "b"}]}}
            ]}
            """#
        )
        let null = try #require(try dirs.edits(["vendor.example/null=0"]).deviceNodes.first)
        #expect(null.node.path == "/dev/cdi-null")
        #expect(null.node.type == "c" && null.node.major == 1 && null.node.minor == 3)
        #expect(null.node.fileMode == 0o666)
        #expect(null.cgroupAccess == "rwm")
        let given = try #require(try dirs.edits(["vendor.example/null=given"]).deviceNodes.first)
        #expect(given.node.major == 240 && given.node.minor == 7 && given.cgroupAccess == "")
        let missing = dirs.failure(["vendor.example/null=missing"])
        #expect(missing.contains("vendor.example/null=missing") && missing.contains("/dev/skiff-no-such-device"))
        #expect(dirs.failure(["vendor.example/null=wrongtype"]).contains("type b"))
    }

    @Test func theRegistryReadsTheDirectoriesAtEachRequest() async throws {
        let dirs = try SpecDirectories()
        let registry = CDIRegistry(directories: [dirs.low, dirs.high], logger: Logger(label: "test"))
        let name = try CDIDeviceName(parsing: "vendor.example/null=0")
        await #expect(throws: SkiffError.self) { try await registry.edits(for: [name]) }
        try dirs.write(dirs.high + "/null.json", Self.spec(devices: ["0": "LATE=1"]))
        #expect(try await registry.edits(for: [name]).env == ["LATE=1"])
        #expect(try await registry.edits(for: []).isEmpty)
    }
}
