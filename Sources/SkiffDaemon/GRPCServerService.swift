import FoundationEssentials
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs the gRPC server as a Service: on graceful shutdown it stops accepting calls and lets the
/// running ones finish; the ServiceGroup cancels it when `grpc.shutdown_timeout` runs out.
///
/// A call that does not end on cancellation (one waiting its turn behind a stop of the same pod,
/// a runtime that hangs) must neither keep skiffd up forever nor crash it (ServiceGroup's own
/// limit ends in a fatal error, a SIGILL): `forcedExitGrace` after the cancellation, skiffd logs
/// what happened and exits 0. Every state change is already durable (the same guarantee that
/// makes a SIGKILL safe), so nothing is lost.
struct GRPCServerService: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let forcedExitGrace: Duration
    let socketPath: String
    let logger: Logger

    func run() async throws {
        let watchdog = ForcedExitWatchdog()
        // Served to the end after all: no forced exit during the rest of a clean shutdown.
        defer { watchdog.disarm() }
        let grace = forcedExitGrace
        let socketPath = socketPath
        let logger = logger
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await server.serve()
            } onGracefulShutdown: {
                server.beginGracefulShutdown()
            }
        } onCancel: {
            watchdog.arm(after: grace) {
                logger.warning(
                    "rpcs still running \(grace) after they were cancelled at the end of the shutdown timeout; exiting without them (their state is on disk)"
                )
                unlink(socketPath)
                exit(0)
            }
        }
    }
}

/// The forced exit of `GRPCServerService`, armed when the server is cancelled and disarmed when
/// serving ends.
final class ForcedExitWatchdog: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let disarmed = Mutex(false)

    func arm(after grace: Duration, _ exitNow: @escaping @Sendable () -> Void) {
        let timer = Task.detached { [self] in
            do {
                try await Task.sleep(for: grace)
            } catch {
                return
            }
            if !disarmed.withLock({ $0 }) { exitNow() }
        }
        task.withLock { $0 = timer }
    }

    func disarm() {
        disarmed.withLock { $0 = true }
        task.withLock { $0?.cancel() }
    }
}
