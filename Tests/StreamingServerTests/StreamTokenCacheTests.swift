import Clocks
import Testing

@testable import StreamingServer

@Suite struct StreamTokenCacheTests {
    @Test func tokensAreRandomSingleUseAndExpire() async {
        let clock = TestClock()
        let cache = StreamTokenCache<String>(lifetime: .seconds(60), clock: StreamingClock(clock))
        let token = await cache.insert("exec-1")!
        #expect(token.count == 32)
        #expect(token.allSatisfy { $0.isHexDigit })
        #expect(await cache.insert("exec-2") != token)
        #expect(await cache.consume(token) == "exec-1")
        #expect(await cache.consume(token) == nil, "a token works once")

        let late = await cache.insert("exec-3")!
        let onTime = await cache.insert("exec-4")!
        await clock.advance(by: .seconds(59))
        #expect(await cache.consume(onTime) == "exec-4")
        await clock.advance(by: .seconds(2))
        #expect(await cache.consume(late) == nil, "expired")
        #expect(await cache.consume("unknown") == nil)
    }

    @Test func capacityBoundsOutstandingTokens() async {
        let clock = TestClock()
        let cache = StreamTokenCache<Int>(lifetime: .seconds(1), capacity: 2, clock: StreamingClock(clock))
        #expect(await cache.insert(1) != nil)
        #expect(await cache.insert(2) != nil)
        #expect(await cache.insert(3) == nil)
        await clock.advance(by: .seconds(2))
        #expect(await cache.insert(4) != nil, "expired tokens free their slots")
        #expect(await cache.count == 1)
    }
}
