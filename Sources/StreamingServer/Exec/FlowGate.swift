import LinuxSys

/// Back-pressure for a reader thread that hands data to an event loop (attach reads conmon's
/// SOCK_SEQPACKET socket on a thread): the thread waits while the client's connection is not
/// writable or while more than `limit` bytes it handed over are not yet sent on.
final class FlowGate: @unchecked Sendable {
    // @unchecked: every field is guarded by `condition`.
    private let condition = ThreadCondition()
    private var writable = true
    private var inFlight = 0
    private var stopped = false
    let limit: Int

    init(limit: Int = 1 << 20) {
        self.limit = limit
    }

    /// Blocks until `count` more bytes may be handed over; false once the gate is stopped.
    func waitToHandOver(_ count: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !stopped && (!writable || inFlight >= limit) { condition.wait() }
        guard !stopped else { return false }
        inFlight += count
        return true
    }

    /// The event loop has passed `count` bytes to the client's connection.
    func handedOn(_ count: Int, writable: Bool) {
        update {
            $0.inFlight -= count
            $0.writable = writable
        }
    }

    func setWritable(_ writable: Bool) {
        update { $0.writable = writable }
    }

    /// Releases the reader for good (the session ended).
    func stop() {
        update { $0.stopped = true }
    }

    private func update(_ change: (FlowGate) -> Void) {
        condition.lock()
        change(self)
        condition.broadcast()
        condition.unlock()
    }
}
