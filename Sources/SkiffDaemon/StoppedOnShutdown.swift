import ServiceLifecycle

/// A long-lived part of skiffd that runs on its own (the streaming server's event loops, the
/// watch on conmon's exit files, the image manager's HTTP client) and only has to be stopped. It
/// joins the one ServiceGroup, so every part ends on the same shutdown path: the group stops its
/// services in the reverse of the order it lists them, the gRPC server first (no new calls while
/// the parts they use stop).
struct StoppedOnShutdown: Service {
    let stop: @Sendable () async -> Void

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            // Cancelled: the group is being torn down after an error; stop all the same.
        }
        await stop()
    }
}
