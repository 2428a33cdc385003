import CRIAPI
import FoundationEssentials
import GRPCCore
import RuntimeCore
import SkiffCommon

/// Version, Status, RuntimeConfig, UpdateRuntimeConfig: what the kubelet asks before anything else.
extension RuntimeService {
    public func version(
        request: Runtime_V1_VersionRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_VersionResponse {
        var response = Runtime_V1_VersionResponse()
        // `version` is the kubelet↔runtime API version (api.proto: "Version of the kubelet runtime API").
        response.version = "0.1.0"
        response.runtimeName = SkiffVersion.runtimeName
        response.runtimeVersion = SkiffVersion.current
        response.runtimeApiVersion = SkiffVersion.criAPIVersion
        return response
    }

    /// api.proto: Status "returns the status of the runtime"; RuntimeReady and NetworkReady are
    /// required conditions, and `verbose` adds free-form info.
    public func status(
        request: Runtime_V1_StatusRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_StatusResponse {
        var response = Runtime_V1_StatusResponse()
        response.status.conditions = statusProbe.conditions().map { condition in
            var proto = Runtime_V1_RuntimeCondition()
            proto.type = condition.type
            proto.status = condition.isTrue
            proto.reason = condition.reason
            proto.message = condition.message
            return proto
        }
        let handlers = statusProbe.handlers()
        response.runtimeHandlers = handlers.handlers.flatMap { handler in
            // The default handler is also announced under the empty name, as the kubelet looks it up so.
            (handler.name == handlers.defaultName ? ["", handler.name] : [handler.name]).map { name in
                var proto = Runtime_V1_RuntimeHandler()
                proto.name = name
                proto.features = Runtime_V1_RuntimeHandlerFeatures()
                // Only what the handler's runtime said it can do (`runtime features`).
                proto.features.recursiveReadOnlyMounts = handler.features.recursiveReadOnlyMounts
                proto.features.userNamespaces = handler.supportsUserNamespaces
                return proto
            }
        }
        response.features = Runtime_V1_RuntimeFeatures()
        // Merge and Strict, on every handler (the groups are resolved by skiffd, not the runtime).
        response.features.supplementalGroupsPolicy = true
        if request.verbose {
            response.info["config"] = try await verboseConfig(handlers: handlers)
        }
        return response
    }

    public func runtimeConfig(
        request: Runtime_V1_RuntimeConfigRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_RuntimeConfigResponse {
        var response = Runtime_V1_RuntimeConfigResponse()
        response.linux.cgroupDriver = cgroupDriver == .systemd ? .systemd : .cgroupfs
        return response
    }

    /// The kubelet sends the node's pod CIDR here; CNI plugins that need it read it from Skiff.
    public func updateRuntimeConfig(
        request: Runtime_V1_UpdateRuntimeConfigRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_UpdateRuntimeConfigResponse {
        try await settings.updatePodCIDR(request.runtimeConfig.networkConfig.podCidr)
        return Runtime_V1_UpdateRuntimeConfigResponse()
    }

    private func verboseConfig(handlers: RuntimeHandlerSet) async throws -> String {
        struct Info: Encodable {
            var runtimeVersion: String
            var defaultHandler: String
            var handlers: [String: String]
            var podCIDR: String
        }
        let info = Info(
            runtimeVersion: SkiffVersion.current,
            defaultHandler: handlers.defaultName,
            handlers: Dictionary(
                uniqueKeysWithValues: handlers.handlers.map {
                    ($0.name, $0.resolvedPath ?? "missing: \($0.configuredPath)")
                }
            ),
            podCIDR: await settings.podCIDR
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(info), as: UTF8.self)
    }
}
