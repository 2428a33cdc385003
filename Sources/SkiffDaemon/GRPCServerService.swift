import GRPCCore
import GRPCNIOTransportHTTP2Posix
import ServiceLifecycle

/// Runs the gRPC server as a Service: on graceful shutdown it stops accepting calls and lets the
/// running ones finish; the ServiceGroup cancels it when `grpc.shutdown_timeout` runs out.
struct GRPCServerService: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await server.serve()
        } onGracefulShutdown: {
            server.beginGracefulShutdown()
        }
    }
}
