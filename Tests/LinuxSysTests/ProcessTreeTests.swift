import Foundation
import Testing

@testable import LinuxSys

@Suite struct ProcessTreeTests {
    @Test func killsAProcessAndEverythingItStarted() async throws {
        let marker = "40.\(Int.random(in: 1000...9999))"
        let child = try RunningChild.start(
            "/bin/sh",
            arguments: ["-c", "sleep \(marker) & sleep \(marker) & wait"],
            environment: []
        )
        var members: [pid_t] = []
        for _ in 0..<200 {
            members = ProcessTree.members(of: child.pid)
            if members.count == 3 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(members.count == 3, "sh and its two sleeps: \(members)")
        #expect(members.first == child.pid)
        let killed = ProcessTree.kill(child.pid)
        #expect(Set(killed) == Set(members))
        #expect(await child.exitStatus() == 128 + SIGKILL)
        // The sleeps were re-parented (to the test runner's reaper or init) and killed; a SIGKILL
        // is delivered asynchronously, so their end is awaited.
        for pid in members.dropFirst() {
            #expect(ProcessTree.waitForExit(pid, milliseconds: 5000), "\(pid) is neither gone nor dead")
        }
        #expect(ProcessTree.members(of: child.pid).isEmpty)
    }
}

@Suite struct StrangerProcessTests {
    /// A process carrying a marker in its environment is found unless it descends from the
    /// owner named (a shell and the sleep it started here), and its exit wakes a waiter.
    @Test func aProcessOutsideTheOwnersTreeIsFoundByItsEnvironmentAndItsExitAwaited() async throws {
        let entry = "SKIFF_TEST_MARK=\(UUID().uuidString)"
        let owner = try RunningChild.start("/bin/sh", arguments: ["-c", "sleep 30 & wait"], environment: [entry])
        let stranger = try RunningChild.start("/bin/sleep", arguments: ["30"], environment: [entry])
        defer {
            ProcessTree.kill(owner.pid)
            ProcessTree.kill(stranger.pid)
        }
        var members: [pid_t] = []
        for _ in 0..<500 where members.count < 2 {
            members = ProcessTree.members(of: owner.pid)
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(members.count == 2, "sh and its sleep: \(members)")
        #expect(ProcessTree.strangers(withEnvironmentEntry: entry, notDescendingFrom: owner.pid) == [stranger.pid])
        #expect(
            Set(ProcessTree.strangers(withEnvironmentEntry: entry, notDescendingFrom: stranger.pid)) == Set(members)
        )
        #expect(ProcessTree.strangers(withEnvironmentEntry: entry + "0", notDescendingFrom: owner.pid).isEmpty)
        #expect(!ProcessTree.waitForExit(stranger.pid, milliseconds: 50))
        #expect(ProcessTree.environment(of: stranger.pid)?.contains(entry) == true)
        let handle = try #require(ProcessHandle(stranger.pid))
        handle.kill()
        #expect(handle.waitForExit(milliseconds: 5000))
        #expect(ProcessTree.waitForExit(stranger.pid, milliseconds: 5000))
        #expect(ProcessTree.environment(of: stranger.pid) == nil, "a zombie has no environment")
        #expect(await stranger.exitStatus() == 128 + SIGKILL)
        #expect(ProcessTree.strangers(withEnvironmentEntry: entry, notDescendingFrom: owner.pid).isEmpty)
    }
}

@Suite struct DirectoryWatcherTests {
    @Test func reportsFilesWrittenOrMovedIntoTheDirectory() async throws {
        let directory = "/tmp/skiff-watch-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let watcher = try DirectoryWatcher(directory: directory)
        var events = watcher.events.makeAsyncIterator()
        try "0\n".write(toFile: directory + "/written", atomically: false, encoding: .utf8)
        #expect(await events.next() == .file("written"))
        try FileSystem.writeAtomically(directory + "/renamed", Array("137\n".utf8), mode: 0o644)
        // writeAtomically closes a temporary file, then renames it in.
        var seen: [DirectoryWatcher.Event] = []
        while let event = await events.next() {
            seen.append(event)
            if event == .file("renamed") { break }
        }
        #expect(seen.last == .file("renamed"))
    }

    @Test func droppingTheWatcherEndsItsEvents() async throws {
        let directory = "/tmp/skiff-watch-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var watcher: DirectoryWatcher? = try DirectoryWatcher(directory: directory)
        let events = watcher!.events
        watcher = nil
        var count = 0
        for await _ in events { count += 1 }
        #expect(count == 0)
    }
}
