import Synchronization

/// Numbers that tests running at the same time in one `swift test` must not share: two bridges
/// on one subnet send a pod's traffic to the wrong one, and two pods on one host port DNAT each
/// other's connections. Random per run (another run may have left a bridge), distinct within it.
enum RunUnique {
    private static let nextOctet = Mutex(Int.random(in: 1...250))
    private static let nextPort = Mutex(Int32.random(in: 20000...30000))

    /// A third octet for a test bridge's /24 (1…250).
    static func subnetOctet() -> Int {
        nextOctet.withLock { next in
            defer { next = next % 250 + 1 }
            return next
        }
    }

    /// The first of `count` consecutive host ports that no other test of this run is given.
    static func hostPorts(_ count: Int32 = 1) -> Int32 {
        nextPort.withLock { next in
            defer { next += count }
            return next
        }
    }
}
