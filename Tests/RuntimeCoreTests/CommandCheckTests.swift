import Foundation
import SkiffCommon
import Testing

@testable import RuntimeCore

/// A command certainly missing from the image is refused; one the runtime might still find (a
/// mount provides it, through a symlink too; a relative PATH entry; another runtime) is not.
struct CommandCheckTests {
    /// A root filesystem: usr/bin/tool (executable), usr/bin/data (not executable), a merged-usr
    /// `bin -> usr/bin`, and `usr/local/bin/provided -> /tools/provided` (into a volume).
    static func withRootfs(_ body: (String) throws -> Void) throws {
        let root = "/tmp/skiff-cmdcheck-\(UUID().uuidString.prefix(8).lowercased())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let files = FileManager.default
        try files.createDirectory(atPath: root + "/usr/bin", withIntermediateDirectories: true)
        try files.createDirectory(atPath: root + "/usr/local/bin", withIntermediateDirectories: true)
        try "#!/bin/sh\n".write(toFile: root + "/usr/bin/tool", atomically: true, encoding: .utf8)
        try files.setAttributes([.posixPermissions: 0o755], ofItemAtPath: root + "/usr/bin/tool")
        try "data\n".write(toFile: root + "/usr/bin/data", atomically: true, encoding: .utf8)
        try files.createSymbolicLink(atPath: root + "/bin", withDestinationPath: "usr/bin")
        try files.createSymbolicLink(atPath: root + "/usr/local/bin/provided", withDestinationPath: "/tools/provided")
        try body(root)
    }

    static func spec(
        _ args: [String],
        root: String,
        path: String = "/usr/local/bin:/usr/bin:/bin",
        mounts: [String] = []
    ) -> RuntimeSpec {
        var spec = RuntimeSpec.basic(args: args, env: ["PATH=" + path], rootfs: root)
        spec.mounts += mounts.map { RuntimeSpec.Mount(destination: $0, type: "bind", source: "/srv") }
        return spec
    }

    static func refusal(_ spec: RuntimeSpec, runtime: String = "/usr/sbin/runc") -> String? {
        do throws(SkiffError) {
            try CommandCheck.check(spec, runtimePath: runtime)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func commandsInTheImageAreFound() throws {
        try Self.withRootfs { root in
            #expect(Self.refusal(Self.spec(["/usr/bin/tool"], root: root)) == nil)
            #expect(Self.refusal(Self.spec(["/bin/tool"], root: root)) == nil, "through the merged-usr symlink")
            #expect(Self.refusal(Self.spec(["tool", "-x"], root: root)) == nil, "found on PATH")
        }
    }

    @Test func missingCommandsAreRefusedByName() throws {
        try Self.withRootfs { root in
            #expect(
                Self.refusal(Self.spec(["/usr/bin/nope"], root: root))?.contains(
                    "\"/usr/bin/nope\" is not an executable file"
                ) == true
            )
            #expect(Self.refusal(Self.spec(["/usr/bin/data"], root: root)) != nil, "not executable")
            #expect(
                Self.refusal(Self.spec(["nope"], root: root))?.contains("looked in PATH: /usr/local/bin:/usr/bin:/bin")
                    == true
            )
            #expect(
                Self.refusal(Self.spec(["/usr/local/bin/provided"], root: root)) != nil,
                "a dangling symlink, no volume"
            )
        }
    }

    @Test func whatTheRuntimeMightStillFindIsLeftToIt() throws {
        try Self.withRootfs { root in
            #expect(
                Self.refusal(Self.spec(["/opt/tools/run"], root: root, mounts: ["/opt/tools"])) == nil,
                "under a mount"
            )
            #expect(
                Self.refusal(Self.spec(["/usr/local/bin/provided"], root: root, mounts: ["/tools"])) == nil,
                "a symlink into a mount"
            )
            #expect(
                Self.refusal(Self.spec(["provided"], root: root, mounts: ["/tools"])) == nil,
                "on PATH, through a symlink into a mount"
            )
            #expect(Self.refusal(Self.spec(["nope"], root: root, path: ".:/usr/bin")) == nil, "a relative PATH entry")
            #expect(
                Self.refusal(Self.spec(["nope"], root: root), runtime: "/usr/bin/nvidia-container-runtime") == nil,
                "another runtime"
            )
        }
    }
}
