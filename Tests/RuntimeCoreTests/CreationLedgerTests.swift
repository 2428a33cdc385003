import SkiffCommon
import Testing

@testable import RuntimeCore

/// Retried creations: one creation per key and spec, its result for every caller that waits,
/// and for the first retry after a caller that gave up.
@Suite struct CreationLedgerTests {
    /// Counts how often the work ran; each run answers the next number.
    actor Counter {
        var runs = 0
        func next() -> Int {
            runs += 1
            return runs
        }
    }

    /// Holds the work until the test opens it: what happens while a creation runs is set up
    /// by events, never by sleeping.
    actor Gate {
        private var isOpen = false
        private var waiting: [CheckedContinuation<Void, Never>] = []

        func pass() async {
            guard !isOpen else { return }
            await withCheckedContinuation { waiting.append($0) }
        }

        func open() {
            isOpen = true
            for continuation in waiting { continuation.resume() }
            waiting = []
        }
    }

    /// A creation's work and the events of it: `begun` once per run, then it waits at `gate`.
    struct Script {
        let counter = Counter()
        let gate = Gate()
        let begun: AsyncStream<Void>
        let signal: AsyncStream<Void>.Continuation

        init() { (begun, signal) = AsyncStream<Void>.makeStream() }

        var work: CreationLedger<String, Int>.Work {
            { [counter, gate, signal] in
                signal.yield()
                await gate.pass()
                return .success(await counter.next())
            }
        }

        /// Returns once a run of the work has begun.
        func waitUntilBegun() async {
            var iterator = begun.makeAsyncIterator()
            _ = await iterator.next()
        }
    }

    static func create(
        _ ledger: CreationLedger<String, Int>,
        _ script: Script,
        spec: String = "spec",
        exists: Bool = true
    ) async throws(SkiffError) -> Int {
        try await ledger.create(
            key: "pod/name/0",
            spec: spec,
            what: "thing",
            stillExists: { _ in exists },
            work: script.work
        )
    }

    @Test func aRetryWhileTheCreationRunsGetsItsResult() async throws {
        let ledger = CreationLedger<String, Int>()
        let script = Script()
        async let first = Self.create(ledger, script)
        await script.waitUntilBegun()
        let second = Task { try await Self.create(ledger, script) }
        while await ledger.joinedCount == 0 { await Task.yield() }
        await script.gate.open()
        #expect(try await first == second.value)
        #expect(await script.counter.runs == 1)
        #expect(await ledger.unclaimedCount == 0)
    }

    @Test func aDifferentSpecWhileTheCreationRunsIsRefused() async throws {
        let ledger = CreationLedger<String, Int>()
        let script = Script()
        async let first = Self.create(ledger, script)
        await script.waitUntilBegun()
        let refused = await #expect(throws: SkiffError.self) { try await Self.create(ledger, script, spec: "other") }
        #expect(refused?.code == .alreadyExists)
        #expect(refused?.message.contains("different configuration") == true)
        await script.gate.open()
        _ = try await first
    }

    @Test func aCreationWhoseCallerGaveUpFinishesAndGoesToTheNextRetryOnce() async throws {
        let ledger = CreationLedger<String, Int>()
        let script = Script()
        let abandoned = Task { try await Self.create(ledger, script) }
        await script.waitUntilBegun()
        abandoned.cancel()
        await script.gate.open()
        // The work is not cancelled with its caller.
        #expect(try await abandoned.value == 1)
        #expect(await ledger.unclaimedCount == 1)
        #expect(try await Self.create(ledger, script) == 1)
        #expect(await script.counter.runs == 1)
        // Claimed: the next identical request runs again (where the store refuses a duplicate).
        #expect(try await Self.create(ledger, script) == 2)
        #expect(await ledger.unclaimedCount == 0)
    }

    @Test func anUnclaimedObjectThatWasRemovedIsNotHandedOut() async throws {
        let ledger = CreationLedger<String, Int>()
        let script = Script()
        let abandoned = Task { try await Self.create(ledger, script) }
        await script.waitUntilBegun()
        abandoned.cancel()
        await script.gate.open()
        _ = try await abandoned.value
        #expect(try await Self.create(ledger, script, exists: false) == 2)
    }

    @Test func failuresAreNotKept() async throws {
        let ledger = CreationLedger<String, Int>()
        let failing: CreationLedger<String, Int>.Work = { .failure(SkiffError(.internalError, "no")) }
        for _ in 0..<2 {
            await #expect(throws: SkiffError.self) {
                try await ledger.create(key: "k", spec: "s", what: "thing", stillExists: { _ in true }, work: failing)
            }
        }
        #expect(await ledger.unclaimedCount == 0)
    }
}
