import GRPCCore
import SkiffCommon

/// The single place where domain errors become gRPC statuses: handlers just `throw`.
extension SkiffError: RPCErrorConvertible {
    public var rpcErrorCode: RPCError.Code {
        switch code {
        case .invalidArgument: .invalidArgument
        case .notFound: .notFound
        case .alreadyExists: .alreadyExists
        case .failedPrecondition: .failedPrecondition
        case .deadlineExceeded: .deadlineExceeded
        case .unimplemented: .unimplemented
        case .unavailable: .unavailable
        case .resourceExhausted: .resourceExhausted
        case .permissionDenied: .permissionDenied
        case .cancelled: .cancelled
        case .aborted: .aborted
        default: .internalError
        }
    }

    /// The operator's message; the cause is appended because gRPC clients (crictl, the kubelet's
    /// events) show only the status message.
    public var rpcErrorMessage: String { description }

    public var rpcErrorCause: (any Error)? { cause }
}

extension SkiffError {
    /// The answer of every rpc that this build of Skiff does not serve yet.
    static func notImplemented(_ rpc: String, _ area: String) -> SkiffError {
        .unimplemented("\(rpc) is not implemented yet: skiff \(SkiffVersion.current) does not serve \(area)")
    }
}
