import Synchronization
import Testing

@testable import StreamingServer

@Suite struct StreamTokenCacheTests {
    final class FakeClock: Sendable {
        let instant = Mutex(ContinuousClock.now)
        func advance(_ duration: Duration) { instant.withLock { $0 += duration } }
        var now: ContinuousClock.Instant { instant.withLock { $0 } }
    }

    @Test func tokensAreRandomSingleUseAndExpire() async {
        let clock = FakeClock()
        let cache = StreamTokenCache<String>(lifetime: .seconds(60), now: { clock.now })
        let token = await cache.insert("exec-1")!
        #expect(token.count == 32)
        #expect(token.allSatisfy { $0.isHexDigit })
        #expect(await cache.insert("exec-2") != token)
        #expect(await cache.consume(token) == "exec-1")
        #expect(await cache.consume(token) == nil, "a token works once")

        let late = await cache.insert("exec-3")!
        clock.advance(.seconds(61))
        #expect(await cache.consume(late) == nil, "expired")
        #expect(await cache.consume("unknown") == nil)
    }

    @Test func capacityBoundsOutstandingTokens() async {
        let clock = FakeClock()
        let cache = StreamTokenCache<Int>(lifetime: .seconds(1), capacity: 2, now: { clock.now })
        #expect(await cache.insert(1) != nil)
        #expect(await cache.insert(2) != nil)
        #expect(await cache.insert(3) == nil)
        clock.advance(.seconds(2))
        #expect(await cache.insert(4) != nil, "expired tokens free their slots")
        #expect(await cache.count == 1)
    }
}
