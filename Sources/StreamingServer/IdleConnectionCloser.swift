import NIOCore

/// When a connection has been idle (no traffic either way) for the timeout, without I/O:
/// traffic moves the deadline, the timer asks whether the deadline has passed. One timer at a
/// time, re-armed for the deadline traffic moved, rather than a timer per read.
struct IdleTimeoutStateMachine: Equatable {
    enum Action: Equatable {
        case armTimer(at: StreamingClock.Instant)
        case close
    }

    let timeout: Duration
    private(set) var lastTraffic: StreamingClock.Instant

    init(timeout: Duration, now: StreamingClock.Instant) {
        self.timeout = timeout
        self.lastTraffic = now
    }

    /// The first timer, when the connection becomes active.
    func started() -> Action { .armTimer(at: lastTraffic.advanced(by: timeout)) }

    mutating func traffic(at now: StreamingClock.Instant) {
        lastTraffic = max(lastTraffic, now)
    }

    func timerFired(at now: StreamingClock.Instant) -> Action {
        let deadline = lastTraffic.advanced(by: timeout)
        return now >= deadline ? .close : .armTimer(at: deadline)
    }
}

/// Closes a connection with no traffic either way for `streaming.idle_timeout`, measured on the
/// server's clock. Traffic is a read or a flushed write.
final class IdleConnectionCloser: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny

    let clock: StreamingClock
    private var stateMachine: IdleTimeoutStateMachine
    private var timer: Task<Void, Never>?

    init(timeout: Duration, clock: StreamingClock) {
        self.clock = clock
        self.stateMachine = IdleTimeoutStateMachine(timeout: timeout, now: clock.now)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        stateMachine.traffic(at: clock.now)
        context.fireChannelRead(data)
    }

    func flush(context: ChannelHandlerContext) {
        stateMachine.traffic(at: clock.now)
        context.flush()
    }

    private func start(context: ChannelHandlerContext) {
        guard timer == nil else { return }
        stateMachine.traffic(at: clock.now)
        perform(stateMachine.started(), context: context)
    }

    private func perform(_ action: IdleTimeoutStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .close:
            timer = nil
            context.close(promise: nil)
        case .armTimer(let deadline):
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            timer = clock.schedule(at: deadline, on: context.eventLoop) {
                let (handler, context) = bound.value
                guard handler.timer != nil else { return }
                handler.perform(handler.stateMachine.timerFired(at: handler.clock.now), context: context)
            }
        }
    }
}
