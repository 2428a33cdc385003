import Foundation
import Testing

@testable import LinuxSys

@Suite struct MountTableTests {
    static let hybrid = """
        22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
        30 22 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
        31 30 0:27 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw,nsdelegate
        33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw shared:13 - cgroup cgroup rw,cpu,cpuacct
        34 30 0:30 / /sys/fs/cgroup/memory rw shared:14 - cgroup cgroup rw,memory
        40 22 0:40 / /mnt/with\\040space rw - overlay overlay rw,lowerdir=/a
        """

    @Test func parsesFieldsAndEscapes() {
        let table = MountTable(mountinfo: Self.hybrid)
        #expect(table.entries.count == 6)
        #expect(table.entries[5].mountPoint == "/mnt/with space")
        #expect(table.entries[5].fileSystemType == "overlay")
        #expect(table.entries[3].superOptions == ["rw", "cpu", "cpuacct"])
        #expect(table.isMountPoint("/sys/fs/cgroup/memory"))
    }

    @Test func detectsCgroupLayouts() {
        #expect(CgroupLayout.detect(in: MountTable(mountinfo: Self.hybrid)) == .hybrid)
        #expect(CgroupLayout.v1Controllers(in: MountTable(mountinfo: Self.hybrid)) == ["cpu", "cpuacct", "memory"])
        let unified = MountTable(mountinfo: "25 1 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw")
        #expect(CgroupLayout.detect(in: unified) == .unified)
        let legacy = MountTable(mountinfo: "34 30 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory")
        #expect(CgroupLayout.detect(in: legacy) == .legacy)
        #expect(CgroupLayout.detect(in: MountTable(entries: [])) == nil)
    }

    @Test func readsThisProcessMounts() throws {
        let table = try MountTable.current()
        #expect(table.isMountPoint("/"))
    }
}

@Suite struct FileSystemTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-fs-\(UUID().uuidString)").path
        try FileSystem.makeDirectories(directory, mode: 0o700)
    }

    @Test func makeDirectoriesAppliesTheModeDespiteUmask() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let nested = directory + "/a/b/c"
        try FileSystem.makeDirectories(nested, mode: 0o755)
        let mode = try FileManager.default.attributesOfItem(atPath: nested)[.posixPermissions] as? Int
        #expect(mode == 0o755)
        try FileSystem.makeDirectories(nested, mode: 0o755)  // existing: fine
        FileManager.default.createFile(atPath: directory + "/file", contents: Data())
        #expect(throws: SystemCallError.self) { try FileSystem.makeDirectories(directory + "/file/x", mode: 0o755) }
    }

    @Test func atomicWriteReplacesAndLeavesNoTemporaryFile() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/state.json"
        try FileSystem.writeAtomically(path, Array("one".utf8))
        try FileSystem.writeAtomically(path, Array("two".utf8), mode: 0o600)
        #expect(try FileSystem.readText(path) == "two")
        #expect(FileSystem.directoryEntries(directory) == ["state.json"])
        #expect(try FileSystem.type(of: path) == .regular)
        #expect(try FileSystem.type(of: directory + "/missing") == nil)
    }

    /// Two pods preparing the shared pause root at once wrote the same path together; with one
    /// temporary name per process, one rename took the other's file away (ENOENT).
    @Test func concurrentAtomicWritesOfOnePathAllSucceed() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileSystem.makeDirectories(directory, mode: 0o755)
        let path = directory + "/shared"
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    for _ in 0..<50 { try FileSystem.writeAtomically(path, Array("writer \(writer)".utf8)) }
                }
            }
            try await group.waitForAll()
        }
        #expect(try FileSystem.readText(path).hasPrefix("writer "))
        #expect(FileSystem.directoryEntries(directory) == ["shared"], "no temporary file is left")
    }

    @Test func removeIfPresentIgnoresMissingFiles() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileSystem.removeIfPresent(directory + "/missing")
        let error = #expect(throws: SystemCallError.self) { try FileSystem.readText(directory + "/missing") }
        #expect(error?.errno == ENOENT)
        // A missing file is skiffd's own failure unless the caller says what it means (SystemCallErrorTests).
        #expect(error?.skiffError("reading").code == .internalError)
        #expect(error?.skiffError("reading", ifMissing: .notFound).code == .notFound)
    }

    @Test func executableLookupFindsProgramsOnThePath() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tool = directory + "/my-tool"
        FileManager.default.createFile(
            atPath: tool,
            contents: Data("#!/bin/sh\n".utf8),
            attributes: [.posixPermissions: 0o755]
        )
        FileManager.default.createFile(
            atPath: directory + "/not-exec",
            contents: Data(),
            attributes: [.posixPermissions: 0o644]
        )
        #expect(ExecutableLookup.resolve("my-tool", searchPath: directory) == tool)
        #expect(ExecutableLookup.resolve("not-exec", searchPath: directory) == nil)
        #expect(ExecutableLookup.resolve(tool) == tool)
        #expect(ExecutableLookup.resolve("sh", searchPath: "") != nil, "the fallback path has sh")
    }
}

@Suite struct DaemonLockTests {
    @Test func aSecondLockNamesTheHolderAndTheLockIsReleasedOnDeinit() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-lock-\(UUID().uuidString)").path
        defer { unlink(path) }
        var first: DaemonLock? = try DaemonLock(path: path)
        do {
            _ = try DaemonLock(path: path)
            Issue.record("a second lock was granted")
        } catch {
            guard case .heldBy(let pid, let heldPath) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(pid == getpid())
            #expect(heldPath == path)
            #expect(error.description.contains("pid \(getpid())"))
        }
        withExtendedLifetime(first) {}
        first = nil
        // Another test's child, forked but not yet exec'd, may hold a copy of the fd (and so the
        // flock) for a moment: the lock is free once that copy goes.
        var second: DaemonLock?
        for _ in 0..<100 where second == nil {
            second = try? DaemonLock(path: path)
            if second == nil { usleep(10_000) }
        }
        #expect(second != nil, "the lock was released")
    }
}

@Suite struct UnixListeningSocketTests {
    @Test func socketGetsItsModeAndAStaleSocketIsReplaced() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-sock-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/run/test.sock"
        let first = try UnixListeningSocket.listen(path: path, mode: 0o660, group: nil)
        close(first)  // leaves the socket file behind, as a killed daemon does
        let second = try UnixListeningSocket.listen(path: path, mode: 0o660, group: 0)
        defer { close(second) }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect(attributes[.posixPermissions] as? Int == 0o660)
        let parent = try FileManager.default.attributesOfItem(atPath: directory + "/run")
        #expect(parent[.posixPermissions] as? Int == 0o755)
        FileManager.default.createFile(atPath: directory + "/plain", contents: Data())
        #expect(throws: SystemCallError.self) {
            try UnixListeningSocket.listen(path: directory + "/plain", mode: 0o660, group: nil)
        }
        #expect(UnixListeningSocket.groupID("root") == 0)
        #expect(UnixListeningSocket.groupID("no-such-group-skiff") == nil)
    }
}
