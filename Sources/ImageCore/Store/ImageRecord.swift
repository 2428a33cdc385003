/// What Skiff knows of one pulled image; the image's ID is its config digest.
public struct ImageRecord: Codable, Sendable, Equatable {
    public var id: Digest
    /// Fully qualified tags pointing at it, e.g. `docker.io/library/busybox:latest`.
    public var repoTags: [String]
    /// `name@digest` of what each pulled reference resolved to (an index or a manifest).
    public var repoDigests: [String]
    /// The platform manifest the image was made from.
    public var manifestDigest: Digest
    public var layers: [Descriptor]
    /// Snapshot keys, bottom layer first.
    public var chainIDs: [Digest]
    /// Every blob this image holds in the content store (indexes, manifest, config, layers).
    public var blobs: [Digest]
    /// Bytes of its blobs as pulled (config and compressed layers), as CRI reports sizes.
    public var size: Int64
    /// `User` from the image config.
    public var user: String
    public var pinned: Bool
    /// Manifest annotations, reported in ImageStatus's spec.
    public var annotations: [String: String]

    /// The uid when the config's user is numeric (`1000` or `1000:1000`), else nil.
    public var uid: Int64? {
        let userPart = user.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
        return Int64(userPart)
    }

    /// The user name when the config's user is a name.
    public var username: String {
        let userPart = user.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
        return Int64(userPart) == nil ? userPart : ""
    }
}
