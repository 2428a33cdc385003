import CRIAPI
import Foundation
import GRPCCore
import Testing

/// CheckpointContainer's refusals: what the caller got wrong, and what the node lacks (CRIU
/// fails `criu check` on these machines' kernels), each with its own code and a message naming it.
@Suite(.serialized) struct CheckpointTests {
    @Test func aCheckpointIsRefusedWithWhatIsMissing() async throws {
        try await ContainerHarness.with { harness in
            func checkpoint(_ id: String, to location: String) async throws {
                var request = Runtime_V1_CheckpointContainerRequest()
                request.containerID = id
                request.location = location
                _ = try await harness.daemon.runtime { try await $0.checkpointContainer(request) }
            }
            let archive = harness.daemon.directory + "/checkpoint.tar"
            let exited = try await harness.run(harness.config("done", ["/bin/true"]))
            _ = try await harness.waitForExit(exited)
            await expectCode(.failedPrecondition, containing: "not running") {
                try await checkpoint(exited, to: archive)
            }
            await expectCode(.notFound, containing: "no-such-container") {
                try await checkpoint("no-such-container", to: archive)
            }
            let running = try await harness.run(harness.config("busy", ["/bin/sleep", "600"]))
            await expectCode(.invalidArgument, containing: "location") {
                try await checkpoint(running, to: "relative/archive.tar")
            }
            await expectCode(.invalidArgument, containing: "is a directory") {
                try await checkpoint(running, to: harness.daemon.directory)
            }
            await expectCode(.failedPrecondition, containing: "CRIU") {
                try await checkpoint(running, to: archive)
            }
            #expect(!FileManager.default.fileExists(atPath: archive), "nothing is written")
            #expect(try await harness.status(running).status.state == .containerRunning, "the container keeps running")
        }
    }
}
