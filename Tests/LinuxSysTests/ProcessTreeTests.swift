import Foundation
import Testing
@testable import LinuxSys

@Suite struct ProcessTreeTests {
    @Test func killsAProcessAndEverythingItStarted() async throws {
        let marker = "40.\(Int.random(in: 1000...9999))"
        let child = try RunningChild.start("/bin/sh", arguments: ["-c", "sleep \(marker) & sleep \(marker) & wait"], environment: [])
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
        // The sleeps were re-parented (to the test runner's reaper or init) and killed.
        for pid in members.dropFirst() {
            let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)).map { $0.contains(") Z") } ?? true
            #expect(state, "\(pid) is neither gone nor dead")
        }
        #expect(ProcessTree.members(of: child.pid).isEmpty)
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
