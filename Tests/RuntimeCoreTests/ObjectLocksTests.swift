import Testing

@testable import RuntimeCore

/// Operations on one object run one at a time, in arrival order; other objects are not held up.
struct ObjectLocksTests {
    actor Journal {
        var entries: [String] = []
        var running = 0
        var mostAtOnce = 0
        func enter(_ name: String) {
            entries.append("+" + name)
            running += 1
            mostAtOnce = max(mostAtOnce, running)
        }
        func leave(_ name: String) {
            entries.append("-" + name)
            running -= 1
        }
    }

    @Test func oneObjectIsHeldByOneOperationAtATime() async {
        let locks = ObjectLocks()
        let journal = Journal()
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                group.addTask {
                    await locks.withLock("pod/a") {
                        await journal.enter("\(index)")
                        try? await Task.sleep(for: .milliseconds(2))
                        await journal.leave("\(index)")
                    }
                }
            }
        }
        #expect(await journal.mostAtOnce == 1)
        #expect(await journal.entries.count == 40)
        #expect(locks.activeKeys == 0, "nothing is left behind")
    }

    @Test func differentObjectsDoNotWaitForEachOther() async throws {
        let locks = ObjectLocks()
        let journal = Journal()
        await withTaskGroup(of: Void.self) { group in
            for key in ["pod/a", "pod/b", "container/c"] {
                group.addTask {
                    await locks.withLock(key) {
                        await journal.enter(key)
                        try? await Task.sleep(for: .milliseconds(50))
                        await journal.leave(key)
                    }
                }
            }
        }
        #expect(await journal.mostAtOnce == 3)
    }

    @Test func anErrorReleasesTheLock() async {
        struct Refused: Error {}
        let locks = ObjectLocks()
        do {
            try await locks.withLock("x") { () async throws(Refused) in throw Refused() }
        } catch {}
        let value = await locks.withLock("x") { 7 }
        #expect(value == 7)
        #expect(locks.activeKeys == 0)
    }
}
