import SkiffCommon
import Testing

@testable import RuntimeCore

/// Retried creations: one creation per key and spec, its result for every caller that waits,
/// and for the first retry after a caller that gave up.
@Suite struct CreationLedgerTests {
    /// Counts how often the work ran; each run answers the next number after `delay`.
    actor Counter {
        var runs = 0
        func next() -> Int {
            runs += 1
            return runs
        }
    }

    static func work(_ counter: Counter, delay: Duration = .milliseconds(200)) -> CreationLedger<String, Int>.Work {
        {
            try? await Task.sleep(for: delay)
            return .success(await counter.next())
        }
    }

    static func create(
        _ ledger: CreationLedger<String, Int>,
        _ counter: Counter,
        spec: String = "spec",
        exists: Bool = true,
        delay: Duration = .milliseconds(200)
    ) async throws(SkiffError) -> Int {
        try await ledger.create(
            key: "pod/name/0",
            spec: spec,
            what: "thing",
            stillExists: { _ in exists },
            work: work(counter, delay: delay)
        )
    }

    @Test func aRetryWhileTheCreationRunsGetsItsResult() async throws {
        let ledger = CreationLedger<String, Int>()
        let counter = Counter()
        async let first = Self.create(ledger, counter)
        try await Task.sleep(for: .milliseconds(50))
        let second = try await Self.create(ledger, counter)
        #expect(try await first == second)
        #expect(await counter.runs == 1)
        #expect(await ledger.unclaimedCount == 0)
    }

    @Test func aDifferentSpecWhileTheCreationRunsIsRefused() async throws {
        let ledger = CreationLedger<String, Int>()
        let counter = Counter()
        async let first = Self.create(ledger, counter)
        try await Task.sleep(for: .milliseconds(50))
        let refused = await #expect(throws: SkiffError.self) { try await Self.create(ledger, counter, spec: "other") }
        #expect(refused?.code == .alreadyExists)
        #expect(refused?.message.contains("different configuration") == true)
        _ = try await first
    }

    @Test func aCreationWhoseCallerGaveUpFinishesAndGoesToTheNextRetryOnce() async throws {
        let ledger = CreationLedger<String, Int>()
        let counter = Counter()
        let abandoned = Task { try await Self.create(ledger, counter) }
        try await Task.sleep(for: .milliseconds(50))
        abandoned.cancel()
        // The work is not cancelled with its caller.
        #expect(try await abandoned.value == 1)
        #expect(await ledger.unclaimedCount == 1)
        #expect(try await Self.create(ledger, counter, delay: .zero) == 1)
        #expect(await counter.runs == 1)
        // Claimed: the next identical request runs again (where the store refuses a duplicate).
        #expect(try await Self.create(ledger, counter, delay: .zero) == 2)
        #expect(await ledger.unclaimedCount == 0)
    }

    @Test func anUnclaimedObjectThatWasRemovedIsNotHandedOut() async throws {
        let ledger = CreationLedger<String, Int>()
        let counter = Counter()
        let abandoned = Task { try await Self.create(ledger, counter) }
        try await Task.sleep(for: .milliseconds(50))
        abandoned.cancel()
        _ = try await abandoned.value
        #expect(try await Self.create(ledger, counter, exists: false, delay: .zero) == 2)
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
