import CRIAPI
import GRPCCore
import Testing

/// Calls that carry a long `grpc-timeout` (the kubelet's 2 minutes, critest's 5) leave nothing
/// behind in skiffd once answered: before `RequestDeadlineHandler`, grpc-swift's per-call
/// `Task.sleep` kept ~1.7 KiB per call until its deadline (+5 MiB for the 3,000 calls here).
@Suite(.serialized) struct RequestDeadlineTests {
    @Test func answeredCallsWithALongTimeoutDoNotHoldMemoryUntilTheirDeadline() async throws {
        try await withDaemon { daemon in
            var options = CallOptions.defaults
            options.timeout = .seconds(600)
            let before = try await daemon.runtime { client in
                for _ in 0..<200 { _ = try await client.version(.init(), options: options) }  // warm up
                return daemon.residentKiB(field: "RssAnon:")
            }
            let after = try await daemon.runtime { client in
                for _ in 0..<3000 {
                    let version = try await client.version(.init(), options: options)
                    #expect(version.runtimeName == "skiff")
                }
                return daemon.residentKiB(field: "RssAnon:")
            }
            #expect(
                after - before < 512,
                "skiffd's RssAnon grew from \(before) KiB to \(after) KiB over 3,000 answered calls"
            )
        }
    }
}
