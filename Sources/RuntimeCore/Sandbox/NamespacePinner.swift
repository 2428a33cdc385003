import LinuxSys
import SkiffCommon

/// The namespaces a pod owns, each pinned to a file so it lives without any process in it.
public struct PinnedNamespaces: Codable, Sendable, Equatable {
    public var directory: String
    /// The pod's user namespace (pods with userns_options mode POD); the others are owned by it.
    public var user: String?
    public var network: String?
    public var ipc: String?
    public var uts: String?
}

/// What to create for a pod.
public struct NamespaceRequest: Sendable, Equatable {
    public var network = true
    public var ipc = true
    public var uts = true
    public var hostname: String?
    /// Namespaced sysctls (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*) to set inside.
    public var sysctls: [String: String] = [:]
    /// A user namespace with these mappings, owning the others (nil: the node's).
    public var userNamespace: UserNamespaceMapping?

    public init(
        network: Bool = true,
        ipc: Bool = true,
        uts: Bool = true,
        hostname: String? = nil,
        sysctls: [String: String] = [:],
        userNamespace: UserNamespaceMapping? = nil
    ) {
        self.userNamespace = userNamespace
        self.network = network
        self.ipc = ipc
        self.uts = uts
        self.hostname = hostname
        self.sysctls = sysctls
    }
}

/// Creates and removes pinned namespaces; a seam so sandbox logic can be tested without root.
public protocol NamespacePinning: Sendable {
    func pin(_ request: NamespaceRequest, in directory: String) async throws(SkiffError) -> PinnedNamespaces
    func unpin(_ namespaces: PinnedNamespaces) throws(SkiffError)
}

/// Pins namespaces with the `skiff-pinns` helper installed beside skiffd.
public struct PinnsNamespacePinner: NamespacePinning {
    public let helper: String
    public let timeout: Duration

    public init(helper: String, timeout: Duration = .seconds(30)) {
        self.helper = helper
        self.timeout = timeout
    }

    /// `skiff-pinns` next to the running executable (skiffd, or the test runner).
    public static func besideExecutable() -> PinnsNamespacePinner {
        PinnsNamespacePinner(helper: FileSystem.besideExecutable("skiff-pinns"))
    }

    public func pin(_ request: NamespaceRequest, in directory: String) async throws(SkiffError) -> PinnedNamespaces {
        var arguments = ["--dir", directory]
        if request.network { arguments.append("--net") }
        if request.ipc { arguments.append("--ipc") }
        if request.uts { arguments.append("--uts") }
        if let hostname = request.hostname, request.uts { arguments += ["--hostname", hostname] }
        for (key, value) in request.sysctls.sorted(by: { $0.key < $1.key }) {
            arguments += ["--sysctl", "\(key)=\(value)"]
        }
        if let mapping = request.userNamespace {
            arguments += mapping.uids.flatMap { ["--uid-map", $0.argument] }
            arguments += mapping.gids.flatMap { ["--gid-map", $0.argument] }
        }
        let result: ChildProcess.Result
        do {
            result = try await ChildProcess.run(helper, arguments: arguments, timeout: timeout)
        } catch {
            throw error.skiffError(
                "cannot run \(helper) to create the pod's namespaces",
                ifMissing: .failedPrecondition
            )
        }
        guard result.status == 0, !result.timedOut else {
            let reason = result.timedOut ? "timed out" : result.stderrText.trimmingNewline
            throw SkiffError(.internalError, "cannot create the pod's namespaces: \(reason)")
        }
        return PinnedNamespaces(
            directory: directory,
            user: request.userNamespace != nil ? directory + "/user" : nil,
            network: request.network ? directory + "/net" : nil,
            ipc: request.ipc ? directory + "/ipc" : nil,
            uts: request.uts ? directory + "/uts" : nil
        )
    }

    public func unpin(_ namespaces: PinnedNamespaces) throws(SkiffError) {
        // The user namespace last: the others belong to it (a pin holds either alive regardless).
        for path in [namespaces.network, namespaces.ipc, namespaces.uts, namespaces.user].compactMap({ $0 }) {
            do {
                try FileSystem.unmount(path)
                try FileSystem.removeIfPresent(path)
            } catch {
                throw error.skiffError("cannot release the pinned namespace \(path)")
            }
        }
        // try?: the directory is inside the pod's, which goes with the pod; only the mounts matter.
        try? FileSystem.removeIfPresent(namespaces.directory)
    }
}

extension String {
    var trimmingNewline: String {
        var copy = self
        while copy.last == "\n" { copy.removeLast() }
        return copy
    }
}
