/// A container lifecycle change, for the kubelet's evented PLEG (GetContainerEvents).
public struct ContainerEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case created, started, stopped, deleted }

    public var kind: Kind
    public var container: Container
    /// Nanoseconds since the epoch.
    public var timestamp: Int64
}

/// Fans events out to every subscriber in the order they happen. A subscriber that stops
/// reading loses the oldest events beyond `bufferLimit` rather than holding memory forever.
public actor ContainerEventHub {
    private var subscribers: [Int: AsyncStream<ContainerEvent>.Continuation] = [:]
    private var nextID = 0
    let bufferLimit: Int

    public init(bufferLimit: Int = 1000) {
        self.bufferLimit = bufferLimit
    }

    public func subscribe() -> AsyncStream<ContainerEvent> {
        let (stream, continuation) = AsyncStream<ContainerEvent>.makeStream(
            bufferingPolicy: .bufferingNewest(bufferLimit)
        )
        let id = nextID
        nextID += 1
        subscribers[id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(id) }
        }
        return stream
    }

    public func publish(_ event: ContainerEvent) {
        for continuation in subscribers.values { continuation.yield(event) }
    }

    public var subscriberCount: Int { subscribers.count }

    private func unsubscribe(_ id: Int) {
        subscribers[id] = nil
    }
}
