import NIOCore

/// The time every timeout of the streaming server is measured on: token expiry, the wait for a
/// port-forward pair or a remotecommand stream set, the idle timeout. skiffd runs on
/// `ContinuousClock`; tests hand in a test clock they advance themselves, so no test sleeps.
///
/// A wrapper, not `any Clock<Duration>`: an existential clock's instants have no type the
/// server could store, so instants here are durations since the clock was wrapped.
public struct StreamingClock: Sendable {
    /// A point in time on this clock.
    public struct Instant: Comparable, Sendable {
        var sinceOrigin: Duration

        public func advanced(by duration: Duration) -> Instant { Instant(sinceOrigin: sinceOrigin + duration) }

        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.sinceOrigin < rhs.sinceOrigin }
    }

    private let elapsed: @Sendable () -> Duration
    private let sleepUntilElapsed: @Sendable (Duration) async throws -> Void

    public init<WrappedClock: Clock>(_ clock: WrappedClock) where WrappedClock.Duration == Duration {
        let origin = clock.now
        elapsed = { origin.duration(to: clock.now) }
        sleepUntilElapsed = { try await clock.sleep(until: origin.advanced(by: $0), tolerance: nil) }
    }

    /// The clock skiffd runs on.
    public static let continuous = StreamingClock(ContinuousClock())

    public var now: Instant { Instant(sinceOrigin: elapsed()) }

    /// Returns at `deadline` (at once for a deadline that has passed); throws when cancelled.
    public func sleep(until deadline: Instant) async throws {
        try await sleepUntilElapsed(deadline.sinceOrigin)
    }

    /// Runs `body` on `loop` once `timeout` from now has passed, unless the task is cancelled
    /// first. The deadline is taken now, on the caller's thread, so a test that advances its
    /// clock right after scheduling cannot race the timer task's start.
    func schedule(
        after timeout: Duration,
        on loop: any EventLoop,
        _ body: @escaping @Sendable () -> Void
    ) -> Task<Void, Never> {
        schedule(at: now.advanced(by: timeout), on: loop, body)
    }

    /// Runs `body` on `loop` at `deadline` (at once if it has passed), unless the task is
    /// cancelled first. A cancellation that comes after the deadline may not stop `body`: the
    /// state machines ignore timeouts they no longer wait for.
    func schedule(
        at deadline: Instant,
        on loop: any EventLoop,
        _ body: @escaping @Sendable () -> Void
    ) -> Task<Void, Never> {
        Task {
            do {
                try await sleep(until: deadline)
            } catch {
                return  // cancelled: the wait ended before its timeout
            }
            loop.execute(body)
        }
    }
}
