import Testing

@testable import LinuxSys

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ProcessExitWatcherTests {
    /// Each watched process's exit is reported once, under its name, as it happens; an unwatched
    /// one is never reported, and one already gone when watched is reported at once.
    @Test func reportsEachWatchedExitOnceByName() async throws {
        let watcher = try ProcessExitWatcher()
        let first = try RunningChild.start("/bin/sleep", arguments: ["30"], environment: [])
        let second = try RunningChild.start("/bin/sleep", arguments: ["30"], environment: [])
        let ignored = try RunningChild.start("/bin/sleep", arguments: ["30"], environment: [])
        defer {
            for child in [first, second, ignored] { ProcessTree.kill(child.pid) }
        }
        try watcher.watch(try #require(ProcessHandle(first.pid)), as: "first")
        try watcher.watch(try #require(ProcessHandle(second.pid)), as: "second")
        try watcher.watch(try #require(ProcessHandle(ignored.pid)), as: "ignored")
        watcher.unwatch("ignored")
        #expect(watcher.names == ["first", "second"])
        var exits = watcher.exits.makeAsyncIterator()

        kill(second.pid, SIGKILL)
        #expect(await exits.next() == "second")
        kill(ignored.pid, SIGKILL)
        kill(first.pid, SIGKILL)
        #expect(await exits.next() == "first")
        #expect(watcher.names.isEmpty)

        // Already exited (not yet reaped) when watched: reported at once.
        let gone = try RunningChild.start("/bin/sh", arguments: ["-c", "exit 0"], environment: [])
        let handle = try #require(ProcessHandle(gone.pid))
        #expect(handle.waitForExit(milliseconds: 5000))
        try watcher.watch(handle, as: "gone")
        #expect(await exits.next() == "gone")
        _ = await gone.exitStatus()
    }

    @Test func aPidAndItsStartTimeNameOneProcess() async throws {
        let child = try RunningChild.start("/bin/sleep", arguments: ["30"], environment: [])
        defer { ProcessTree.kill(child.pid) }
        let started = try #require(ProcessHandle.startTime(of: child.pid))
        #expect(started > 0)
        #expect(ProcessHandle.matching(pid: child.pid, startTime: started) != nil)
        #expect(ProcessHandle.matching(pid: child.pid, startTime: started + 1) == nil, "a reused pid")
        #expect(ProcessHandle.startTime(of: getpid()).map { $0 <= started } == true)
        ProcessTree.kill(child.pid)
        _ = await child.exitStatus()
        #expect(ProcessHandle.matching(pid: child.pid, startTime: started) == nil, "gone")
    }
}
