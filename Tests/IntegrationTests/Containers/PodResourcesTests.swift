import CRIAPI
import Foundation
import GRPCCore
import Testing

/// UpdatePodSandboxResources: the kubelet resizes the pod-level cgroup itself, then tells the
/// runtime; Skiff checks and records the values and leaves its containers' limits alone.
@Suite(.serialized) struct PodResourcesTests {
    @Test func podResourcesAreRecordedAndTheContainersLimitsAreUntouched() async throws {
        try await ContainerHarness.with { harness in
            func update(
                _ pod: String,
                _ configure: (inout Runtime_V1_UpdatePodSandboxResourcesRequest) -> Void
            )
                async throws
            {
                var request = Runtime_V1_UpdatePodSandboxResourcesRequest()
                request.podSandboxID = pod
                configure(&request)
                _ = try await harness.daemon.runtime { try await $0.updatePodSandboxResources(request) }
            }
            let id = try await harness.run(
                harness.config("sized", ["/bin/sleep", "600"]) { $0.linux.resources.memoryLimitInBytes = 64 << 20 }
            )
            try await update(harness.podID) {
                $0.resources.memoryLimitInBytes = 512 << 20
                $0.resources.cpuShares = 1024
                $0.overhead.memoryLimitInBytes = 32 << 20
            }
            var statusRequest = Runtime_V1_PodSandboxStatusRequest()
            statusRequest.podSandboxID = harness.podID
            statusRequest.verbose = true
            let info = try #require(
                try await harness.daemon.runtime { try await $0.podSandboxStatus(statusRequest) }.info["info"]
            )
            let record = try #require(try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any])
            let resources = try #require(record["resources"] as? [String: Any])
            #expect((resources["resources"] as? [String: Any])?["memoryLimitBytes"] as? Int == 512 << 20)
            #expect((resources["overhead"] as? [String: Any])?["memoryLimitBytes"] as? Int == 32 << 20)
            #expect(try await harness.status(id).status.resources.linux.memoryLimitInBytes == 64 << 20)

            await expectCode(.invalidArgument, containing: "resources") {
                try await update(harness.podID) { $0.resources.cpuShares = 1 }
            }
            await expectCode(.notFound, containing: "no-such-pod") {
                try await update("no-such-pod") { $0.resources.cpuShares = 1024 }
            }
            try await PodSandboxTests.stop(harness.daemon, harness.podID)
            await expectCode(.failedPrecondition, containing: "not ready") {
                try await update(harness.podID) { $0.resources.cpuShares = 1024 }
            }
        }
    }
}
