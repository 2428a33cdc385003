import GRPCCore

/// grpc-swift 2 does not cancel a handler's task when its rpc is cancelled — by the client's
/// deadline (grpc-timeout), a reset stream or a closed connection — it only flags the rpc's
/// `ServerContext.cancellation`. The domain learns of a caller that went away through ordinary
/// task cancellation, so the few rpcs whose work depends on it run their body in a task that is
/// cancelled with the rpc:
/// - ExecSync: a probe whose caller gave up must not leave its command running;
/// - RunPodSandbox, CreateContainer: the creation itself is never cancelled (`CreationLedger`
///   shields it) but must know that its result was not delivered, so a retry gets it.
func cancelledWithRPC<Result: Sendable>(_ body: @escaping @Sendable () async throws -> Result) async throws -> Result {
    let task = Task { try await body() }
    return try await withRPCCancellationHandler {
        try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
    } onCancelRPC: {
        task.cancel()
    }
}
