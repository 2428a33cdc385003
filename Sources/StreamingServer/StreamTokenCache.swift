/// Single-use, expiring tokens for streaming URLs.
///
/// Exec, Attach and PortForward answer with a URL; whoever holds it may open a stream into the
/// container, so the token in it is random (128 bits from the system's CSPRNG), works once, and
/// dies after `lifetime` (a minute by default, as the kubelet expects).
public actor StreamTokenCache<Request: Sendable> {
    private struct Pending {
        var request: Request
        var expires: StreamingClock.Instant
    }

    public let lifetime: Duration
    private let clock: StreamingClock
    private var pending: [String: Pending] = [:]
    /// Bound on outstanding tokens, so a client that requests URLs and never uses them cannot
    /// grow this without limit.
    public let capacity: Int

    public init(
        lifetime: Duration = .seconds(60),
        capacity: Int = 4096,
        clock: StreamingClock = .continuous
    ) {
        self.lifetime = lifetime
        self.capacity = capacity
        self.clock = clock
    }

    /// Stores `request` and returns its new token, or nil when `capacity` live tokens exist.
    public func insert(_ request: Request) -> String? {
        evictExpired()
        guard pending.count < capacity else { return nil }
        var token: String
        repeat { token = Self.randomToken() } while pending[token] != nil
        pending[token] = Pending(request: request, expires: clock.now.advanced(by: lifetime))
        return token
    }

    /// The request for `token` if it is known and unexpired; the token is spent either way.
    public func consume(_ token: String) -> Request? {
        guard let entry = pending.removeValue(forKey: token) else { return nil }
        return entry.expires > clock.now ? entry.request : nil
    }

    public var count: Int { pending.count }

    private func evictExpired() {
        let current = clock.now
        pending = pending.filter { $0.value.expires > current }
    }

    /// 128 random bits as 32 lowercase hex characters (URL-safe).
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let words = [generator.next() as UInt64, generator.next() as UInt64]
        return words.map { word in
            let hex = String(word, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}
