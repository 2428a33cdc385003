import CRIAPI
import RuntimeCore

/// `userns_options` and `Mount.uidMappings`/`gidMappings` in domain terms.
enum UserNamespaceConversions {
    /// nil when the request has no userns_options (the node's user namespace). An unrecognized
    /// mode is refused by the unrecognized-enum check before this value is read.
    static func option(_ options: Runtime_V1_NamespaceOption) -> UserNamespaceOption? {
        guard options.hasUsernsOptions else { return nil }
        let userns = options.usernsOptions
        let mode: UserNamespaceOption.Mode
        switch userns.mode {
        case .pod: mode = .pod
        case .container: mode = .container
        case .target: mode = .target
        case .node, .UNRECOGNIZED: mode = .node
        }
        return UserNamespaceOption(mode: mode, mapping: mapping(uids: userns.uids, gids: userns.gids))
    }

    /// A mount's ID mappings; nil when it has none.
    static func mapping(of mount: Runtime_V1_Mount) -> UserNamespaceMapping? {
        guard !mount.uidMappings.isEmpty || !mount.gidMappings.isEmpty else { return nil }
        return mapping(uids: mount.uidMappings, gids: mount.gidMappings)
    }

    static func mapping(uids: [Runtime_V1_IDMapping], gids: [Runtime_V1_IDMapping]) -> UserNamespaceMapping {
        UserNamespaceMapping(uids: uids.map(range), gids: gids.map(range))
    }

    static func range(_ mapping: Runtime_V1_IDMapping) -> IDMapRange {
        IDMapRange(containerID: mapping.containerID, hostID: mapping.hostID, length: mapping.length)
    }

    static func proto(_ ranges: [IDMapRange]) -> [Runtime_V1_IDMapping] {
        ranges.map {
            var mapping = Runtime_V1_IDMapping()
            mapping.containerID = $0.containerID
            mapping.hostID = $0.hostID
            mapping.length = $0.length
            return mapping
        }
    }
}
