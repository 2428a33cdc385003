import LinuxSys
import SkiffCommon

extension SandboxService {
    /// Checks that a pod can be port-forwarded to: it exists and is ready.
    public func validatePortForward(_ id: String) async throws(SkiffError) -> PodSandbox {
        let sandbox = try await self.sandbox(id)
        guard sandbox.state == .ready else {
            throw SkiffError(.failedPrecondition, "pod sandbox \(sandbox.id) is not ready; cannot forward ports to it")
        }
        return sandbox
    }

    /// A connection to `port` on the pod's loopback address, made inside the pod's network
    /// namespace (the node's for a host-network pod), as the kubelet's port-forward expects.
    public func connectToPod(_ id: String, port: UInt16) async throws(SkiffError) -> Int32 {
        let sandbox = try await validatePortForward(id)
        let namespace: String?
        if sandbox.hostNetwork {
            namespace = nil
        } else {
            guard let pinned = sandbox.namespaces?.network else {
                throw SkiffError(.failedPrecondition, "pod sandbox \(sandbox.id) has no network namespace pinned")
            }
            namespace = pinned
        }
        do {
            return try await LoopbackDialer.connect(port: port, networkNamespace: namespace)
        } catch {
            throw SkiffError(
                .unavailable,
                "cannot connect to port \(port) in pod sandbox \(sandbox.id): \(error)",
                cause: error
            )
        }
    }
}
