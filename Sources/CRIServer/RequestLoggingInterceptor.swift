import GRPCCore
import Logging

/// Logs every call once it ends — method, duration, status — so no handler logs by hand.
/// Successful calls go to debug (the kubelet polls several rpcs every second); failures to
/// info, or error for internal failures.
public struct RequestLoggingInterceptor: ServerInterceptor {
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let method = context.descriptor.method
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            if case .failure(let error) = response.accepted {
                log(method: method, start: start, code: error.code, message: error.message)
            } else {
                logger.debug("rpc done", metadata: ["rpc": "\(method)", "ms": "\(milliseconds(since: start))"])
            }
            return response
        } catch {
            if let rpcError = error as? RPCError {
                log(method: method, start: start, code: rpcError.code, message: rpcError.message)
            } else if let convertible = error as? any RPCErrorConvertible {
                log(method: method, start: start, code: convertible.rpcErrorCode, message: convertible.rpcErrorMessage)
            } else {
                log(method: method, start: start, code: .unknown, message: "\(error)")
            }
            throw error
        }
    }

    private func log(method: String, start: ContinuousClock.Instant, code: RPCError.Code, message: String) {
        let metadata: Logger.Metadata = [
            "rpc": "\(method)", "code": "\(code)", "ms": "\(milliseconds(since: start))", "error": "\(message)",
        ]
        switch code {
        case .internalError, .unknown, .dataLoss: logger.error("rpc failed", metadata: metadata)
        case .unimplemented: logger.debug("rpc failed", metadata: metadata)
        default: logger.info("rpc failed", metadata: metadata)
        }
    }

    private func milliseconds(since start: ContinuousClock.Instant) -> String {
        let elapsed = ContinuousClock.now - start
        let (seconds, attoseconds) = elapsed.components
        let ms = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        return String(Int(ms.rounded()))
    }
}
