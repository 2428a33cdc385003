import SkiffCommon

/// One range of a user namespace's ID mapping: IDs `containerID ..< containerID + length` in
/// the pod are `hostID ..< hostID + length` on the node.
public struct IDMapRange: Codable, Sendable, Equatable, CustomStringConvertible {
    public var containerID: UInt32
    public var hostID: UInt32
    public var length: UInt32

    public init(containerID: UInt32, hostID: UInt32, length: UInt32) {
        self.containerID = containerID
        self.hostID = hostID
        self.length = length
    }

    /// `CONTAINER:HOST:LENGTH`, as skiff-pinns takes it.
    public var argument: String { "\(containerID):\(hostID):\(length)" }

    public var description: String {
        "container \(containerID)..\(UInt64(containerID) + UInt64(length) - 1) → node \(hostID)..\(UInt64(hostID) + UInt64(length) - 1)"
    }

    func contains(containerID id: UInt32) -> Bool {
        id >= containerID && UInt64(id) < UInt64(containerID) + UInt64(length)
    }

    func hostID(of id: UInt32) -> UInt32? {
        contains(containerID: id) ? hostID + (id - containerID) : nil
    }
}

/// The ID mappings of a pod's user namespace (CRI userns_options, mode POD), chosen by the
/// kubelet. Every container of the pod runs in that one namespace, and the pod's layers and
/// idmapped volumes are seen through the same mappings.
public struct UserNamespaceMapping: Codable, Sendable, Equatable {
    public var uids: [IDMapRange]
    public var gids: [IDMapRange]

    public init(uids: [IDMapRange], gids: [IDMapRange]) {
        self.uids = uids
        self.gids = gids
    }

    /// The node uid and gid of the pod's root: the owner of a container's writable layer.
    public var hostRoot: (uid: UInt32, gid: UInt32)? {
        guard let uid = hostUID(of: 0), let gid = hostGID(of: 0) else { return nil }
        return (uid, gid)
    }

    public func hostUID(of uid: UInt32) -> UInt32? { uids.lazy.compactMap { $0.hostID(of: uid) }.first }
    public func hostGID(of gid: UInt32) -> UInt32? { gids.lazy.compactMap { $0.hostID(of: gid) }.first }
}

/// What a request's `namespace_options.userns_options` asks for.
public struct UserNamespaceOption: Sendable, Equatable {
    public enum Mode: String, Sendable, Equatable {
        /// The node's user namespace: no mappings.
        case node = "NODE"
        /// One user namespace for the pod, with the given mappings.
        case pod = "POD"
        /// Modes the CRI defines for other namespaces, which a user namespace cannot have.
        case container = "CONTAINER"
        case target = "TARGET"
    }

    public var mode: Mode
    public var mapping: UserNamespaceMapping

    public init(mode: Mode, mapping: UserNamespaceMapping = .init(uids: [], gids: [])) {
        self.mode = mode
        self.mapping = mapping
    }

    static let field = "linux.security_context.namespace_options.userns_options"

    /// The pod's user namespace, checked as RunPodSandbox receives it: nil for the node's.
    ///
    /// Mode POD needs exactly one uid and one gid range, each mapping container ID 0 (the
    /// kubelet sends one range of 65536 IDs per pod), neither reaching the node's root — a
    /// pod that maps node uid 0 would have the node's root inside it.
    public func validatedPodMapping() throws(SkiffError) -> UserNamespaceMapping? {
        switch mode {
        case .node:
            guard mapping.uids.isEmpty && mapping.gids.isEmpty else {
                throw SkiffError.invalidArgument("\(Self.field) has mode NODE with ID mappings; mappings need mode POD")
            }
            return nil
        case .container, .target:
            throw SkiffError.invalidArgument(
                "\(Self.field) mode \(mode.rawValue) is not supported: a user namespace is the pod's (POD) or the node's (NODE)"
            )
        case .pod:
            for (kind, ranges) in [("uids", mapping.uids), ("gids", mapping.gids)] {
                guard ranges.count == 1, let range = ranges.first else {
                    throw SkiffError.invalidArgument(
                        "\(Self.field).\(kind) has \(ranges.count) mappings; mode POD takes exactly one range"
                    )
                }
                guard range.containerID == 0 else {
                    throw SkiffError.invalidArgument(
                        "\(Self.field).\(kind) does not map container ID 0 (\(range)); the pod's root must be mapped"
                    )
                }
                guard range.length > 0, UInt64(range.hostID) + UInt64(range.length) <= UInt64(UInt32.max) else {
                    throw SkiffError.invalidArgument(
                        "\(Self.field).\(kind) range \(range.argument) is empty or overflows"
                    )
                }
                guard range.hostID > 0 else {
                    throw SkiffError.invalidArgument(
                        "\(Self.field).\(kind) maps the node's ID 0 into the pod (\(range)); choose host IDs above 0"
                    )
                }
            }
            return mapping
        }
    }
}
