import CRIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix

extension SkiffBench {
    /// Pulls `image` and runs one pod for a benchmark's containers (their own PID namespaces);
    /// returns the image reference and the pod's id.
    static func pullAndRunPod(
        _ client: GRPCClient<HTTP2ClientTransport.Posix>,
        image: String,
        name: String,
        logDirectory: String,
        hostNetwork: Bool
    ) async throws -> (imageID: String, podID: String) {
        var pull = Runtime_V1_PullImageRequest()
        pull.image.image = image
        let imageID = try await Runtime_V1_ImageService.Client(wrapping: client).pullImage(pull).imageRef
        var pod = Runtime_V1_RunPodSandboxRequest()
        pod.config.metadata.name = name
        pod.config.metadata.namespace = "bench"
        pod.config.metadata.uid = "uid-\(UUID().uuidString.prefix(8))"
        if hostNetwork { pod.config.linux.securityContext.namespaceOptions.network = .node }
        pod.config.linux.securityContext.namespaceOptions.pid = .container
        pod.config.logDirectory = logDirectory
        let podID = try await Runtime_V1_RuntimeService.Client(wrapping: client).runPodSandbox(pod).podSandboxID
        return (imageID, podID)
    }
}
