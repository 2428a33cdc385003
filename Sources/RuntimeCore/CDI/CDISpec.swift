/// A CDI spec file (Container Device Interface, cncf-tags/container-device-interface SPEC.md):
/// a vendor's device class, its devices, and the edits each makes to a container's OCI spec.
/// Field names are the spec's JSON keys. Decoding refuses keys the spec does not define (as the
/// CDI library does), so a field Skiff would silently skip — `netDevices` of 1.1.0 — is an error.
public struct CDISpec: Decodable, Sendable, Equatable {
    public var cdiVersion: String
    /// `vendor/class`.
    public var kind: String
    public var annotations: [String: String]?
    public var devices: [Device]
    /// Applied once to a container that uses any device of this spec.
    public var containerEdits: ContainerEdits?

    public struct Device: Decodable, Sendable, Equatable {
        public var name: String
        public var annotations: [String: String]?
        public var containerEdits: ContainerEdits

        public init(from decoder: any Decoder) throws {
            let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations)
            containerEdits = try container.decode(ContainerEdits.self, forKey: .containerEdits)
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case name, annotations, containerEdits }
    }

    public struct ContainerEdits: Decodable, Sendable, Equatable {
        public var env: [String]?
        public var deviceNodes: [DeviceNode]?
        public var mounts: [Mount]?
        public var hooks: [Hook]?
        public var additionalGids: [UInt32]?
        public var intelRdt: IntelRdt?

        public init(from decoder: any Decoder) throws {
            let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
            env = try container.decodeIfPresent([String].self, forKey: .env)
            deviceNodes = try container.decodeIfPresent([DeviceNode].self, forKey: .deviceNodes)
            mounts = try container.decodeIfPresent([Mount].self, forKey: .mounts)
            hooks = try container.decodeIfPresent([Hook].self, forKey: .hooks)
            additionalGids = try container.decodeIfPresent([UInt32].self, forKey: .additionalGids)
            intelRdt = try container.decodeIfPresent(IntelRdt.self, forKey: .intelRdt)
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case env, deviceNodes, mounts, hooks, additionalGids, intelRdt
        }

        /// Whether these edits change nothing (a device must change something).
        var isEmpty: Bool {
            (env ?? []).isEmpty && (deviceNodes ?? []).isEmpty && (mounts ?? []).isEmpty && (hooks ?? []).isEmpty
                && (additionalGids ?? []).isEmpty && intelRdt == nil
        }
    }

    public struct DeviceNode: Decodable, Sendable, Equatable {
        /// Inside the container.
        public var path: String
        /// On the node; `path` when absent (0.5.0).
        public var hostPath: String?
        /// b, c, u or p; read from the node when absent.
        public var type: String?
        public var major: Int64?
        public var minor: Int64?
        public var fileMode: UInt32?
        /// Any of r, w, m; empty for rwm, `none` for no access rule.
        public var permissions: String?
        public var uid: UInt32?
        public var gid: UInt32?

        public init(from decoder: any Decoder) throws {
            let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
            path = try container.decode(String.self, forKey: .path)
            hostPath = try container.decodeIfPresent(String.self, forKey: .hostPath)
            type = try container.decodeIfPresent(String.self, forKey: .type)
            major = try container.decodeIfPresent(Int64.self, forKey: .major)
            minor = try container.decodeIfPresent(Int64.self, forKey: .minor)
            fileMode = try container.decodeIfPresent(UInt32.self, forKey: .fileMode)
            permissions = try container.decodeIfPresent(String.self, forKey: .permissions)
            uid = try container.decodeIfPresent(UInt32.self, forKey: .uid)
            gid = try container.decodeIfPresent(UInt32.self, forKey: .gid)
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case path, hostPath, type, major, minor, fileMode, permissions, uid, gid
        }
    }

    public struct Mount: Decodable, Sendable, Equatable {
        public var hostPath: String
        public var containerPath: String
        public var options: [String]?
        /// 0.4.0.
        public var type: String?

        public init(from decoder: any Decoder) throws {
            let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
            hostPath = try container.decode(String.self, forKey: .hostPath)
            containerPath = try container.decode(String.self, forKey: .containerPath)
            options = try container.decodeIfPresent([String].self, forKey: .options)
            type = try container.decodeIfPresent(String.self, forKey: .type)
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case hostPath, containerPath, options, type }
    }

    public struct Hook: Decodable, Sendable, Equatable {
        /// An OCI hook stage: prestart, createRuntime, createContainer, startContainer,
        /// poststart or poststop.
        public var hookName: String
        public var path: String
        public var args: [String]?
        public var env: [String]?
        /// Seconds; greater than zero when set.
        public var timeout: Int?

        public init(from decoder: any Decoder) throws {
            let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
            hookName = try container.decode(String.self, forKey: .hookName)
            path = try container.decode(String.self, forKey: .path)
            args = try container.decodeIfPresent([String].self, forKey: .args)
            env = try container.decodeIfPresent([String].self, forKey: .env)
            timeout = try container.decodeIfPresent(Int.self, forKey: .timeout)
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case hookName, path, args, env, timeout }
    }

    /// Resource control (resctrl) class of the container (0.7.0).
    public struct IntelRdt: Decodable, Sendable, Equatable {
        public var closID: String?
        public var l3CacheSchema: String?
        public var memBwSchema: String?

        public init(from decoder: any Decoder) throws {
            let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
            closID = try container.decodeIfPresent(String.self, forKey: .closID)
            l3CacheSchema = try container.decodeIfPresent(String.self, forKey: .l3CacheSchema)
            memBwSchema = try container.decodeIfPresent(String.self, forKey: .memBwSchema)
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case closID, l3CacheSchema, memBwSchema }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        cdiVersion = try container.decode(String.self, forKey: .cdiVersion)
        kind = try container.decode(String.self, forKey: .kind)
        annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations)
        devices = try container.decode([Device].self, forKey: .devices)
        containerEdits = try container.decodeIfPresent(ContainerEdits.self, forKey: .containerEdits)
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case cdiVersion, kind, annotations, devices, containerEdits }
}

/// A key the decoder found, whatever its name.
private struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Decoder {
    /// A keyed container that first refuses any key `Key` does not name.
    func strictContainer<Key: CodingKey & CaseIterable>(
        keyedBy type: Key.Type
    ) throws -> KeyedDecodingContainer<Key> {
        let known = Set(Key.allCases.map(\.stringValue))
        let all = try container(keyedBy: AnyCodingKey.self)
        if let unknown = all.allKeys.first(where: { !known.contains($0.stringValue) }) {
            throw DecodingError.dataCorrupted(
                .init(codingPath: codingPath, debugDescription: "unknown field \"\(unknown.stringValue)\"")
            )
        }
        return try container(keyedBy: type)
    }
}
