import NIOCore
import NIOHTTP2

/// Enforces a request's `grpc-timeout` on one HTTP/2 stream of the gRPC socket with an event-loop
/// timer, and hides the header from grpc-swift.
///
/// Why: grpc-swift 2's server (`ServerRPCExecutor._processRPCWithTimeout`) races every RPC that
/// carries a timeout against `Task.sleep(for: timeout)` and cancels the sleep when the RPC ends.
/// A cancelled `Task.sleep` returns at once, but the Swift runtime (6.3) keeps its timer — a
/// dispatch source, a job and the task's 1 KiB allocator slab, ~1.7 KiB in all — until the
/// deadline passes (swiftlang/swift#60441, open). The kubelet sends a 2-minute timeout with every
/// call and critest 5 minutes, so skiffd held ~1.7 KiB per RPC for minutes (+4 MiB per
/// `critest -benchmark`, ~2,400 RPCs, still there after its pods were gone). An NIO scheduled
/// task is freed when it is cancelled.
///
/// At the deadline the stream is closed, which resets it (RST_STREAM) and makes grpc-swift cancel
/// the RPC, as its own timeout would; a client such as grpc-go has already given up by then.
/// A header that does not parse is passed on untouched (grpc-swift ignores it too).
final class RequestDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload

    static let headerName = "grpc-timeout"

    /// The stream's deadline timer, once the request's headers named one.
    private(set) var deadline: Scheduled<Void>?
    private var sawRequestHeaders = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !sawRequestHeaders, case .headers(var headers) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        sawRequestHeaders = true
        guard let value = headers.headers.first(name: Self.headerName),
            let timeout = Self.parse(value)
        else {
            context.fireChannelRead(data)
            return
        }
        headers.headers.remove(name: Self.headerName)
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            channel.close(promise: nil)
        }
        context.fireChannelRead(wrapInboundOut(.headers(headers)))
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelDeadline()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelDeadline()
    }

    private func cancelDeadline() {
        deadline?.cancel()
        deadline = nil
    }

    /// A `grpc-timeout` value (gRPC over HTTP/2: 1 to 8 digits, then H, M, S, m, u or n) as a
    /// duration; nil when it is not one.
    static func parse(_ value: String) -> TimeAmount? {
        let bytes = Array(value.utf8)
        guard bytes.count >= 2, bytes.count <= 9, let unit = bytes.last else { return nil }
        var amount: Int64 = 0
        for byte in bytes.dropLast() {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            amount = amount * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        let nanoseconds: Int64
        switch unit {
        case UInt8(ascii: "H"): nanoseconds = 3_600_000_000_000
        case UInt8(ascii: "M"): nanoseconds = 60_000_000_000
        case UInt8(ascii: "S"): nanoseconds = 1_000_000_000
        case UInt8(ascii: "m"): nanoseconds = 1_000_000
        case UInt8(ascii: "u"): nanoseconds = 1_000
        case UInt8(ascii: "n"): nanoseconds = 1
        default: return nil
        }
        // 99,999,999 hours is 3.6e20 ns: past Int64, and past any deadline that matters.
        let (product, overflow) = amount.multipliedReportingOverflow(by: nanoseconds)
        return .nanoseconds(overflow ? Int64.max : product)
    }
}
