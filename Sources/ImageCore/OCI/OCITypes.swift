/// The OCI image-spec and Docker schema 2 documents Skiff reads, as Codable values.
public enum MediaType {
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let ociLayer = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let ociLayerNonDistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

    public static let indexes: Set<String> = [ociIndex, dockerManifestList]
    public static let manifests: Set<String> = [ociManifest, dockerManifest]
    /// What Skiff sends in `Accept` when it asks for a manifest.
    public static let acceptedManifests = [ociIndex, dockerManifestList, ociManifest, dockerManifest]
}

public struct Platform: Codable, Sendable, Hashable {
    public var architecture: String
    public var os: String
    public var variant: String?

    public init(architecture: String, os: String, variant: String? = nil) {
        self.architecture = architecture
        self.os = os
        self.variant = variant
    }

    enum CodingKeys: String, CodingKey { case architecture, os, variant }
}

public struct Descriptor: Codable, Sendable, Hashable {
    public var mediaType: String
    public var digest: Digest
    public var size: Int64
    public var urls: [String]?
    public var annotations: [String: String]?
    public var platform: Platform?

    public init(
        mediaType: String,
        digest: Digest,
        size: Int64,
        annotations: [String: String]? = nil,
        platform: Platform? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
        self.platform = platform
    }
}

public struct ImageIndex: Codable, Sendable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var manifests: [Descriptor]
    public var annotations: [String: String]?

    public init(manifests: [Descriptor], mediaType: String = MediaType.ociIndex) {
        schemaVersion = 2
        self.mediaType = mediaType
        self.manifests = manifests
    }
}

public struct ImageManifest: Codable, Sendable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var config: Descriptor
    public var layers: [Descriptor]
    public var annotations: [String: String]?

    public init(
        config: Descriptor,
        layers: [Descriptor],
        mediaType: String = MediaType.ociManifest,
        annotations: [String: String]? = nil
    ) {
        schemaVersion = 2
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
        self.annotations = annotations
    }
}

/// The image configuration (OCI image-spec config.md); only what a runtime uses is decoded.
public struct ImageConfiguration: Codable, Sendable {
    public struct RootFS: Codable, Sendable {
        public var type: String
        public var diffIDs: [Digest]

        public init(diffIDs: [Digest]) {
            type = "layers"
            self.diffIDs = diffIDs
        }

        enum CodingKeys: String, CodingKey {
            case type
            case diffIDs = "diff_ids"
        }
    }

    /// The defaults a container of this image runs with.
    public struct Defaults: Codable, Sendable {
        public var user: String?
        public var env: [String]?
        public var entrypoint: [String]?
        public var cmd: [String]?
        public var workingDir: String?
        public var labels: [String: String]?
        public var stopSignal: String?
        public var exposedPorts: [String: EmptyObject]?
        public var volumes: [String: EmptyObject]?

        public init(
            user: String? = nil,
            env: [String]? = nil,
            entrypoint: [String]? = nil,
            cmd: [String]? = nil,
            workingDir: String? = nil
        ) {
            self.user = user
            self.env = env
            self.entrypoint = entrypoint
            self.cmd = cmd
            self.workingDir = workingDir
        }

        enum CodingKeys: String, CodingKey {
            case user = "User"
            case env = "Env"
            case entrypoint = "Entrypoint"
            case cmd = "Cmd"
            case workingDir = "WorkingDir"
            case labels = "Labels"
            case stopSignal = "StopSignal"
            case exposedPorts = "ExposedPorts"
            case volumes = "Volumes"
        }
    }

    public var architecture: String?
    public var os: String?
    public var variant: String?
    public var created: String?
    public var config: Defaults?
    public var rootfs: RootFS

    public init(architecture: String, os: String, config: Defaults?, rootfs: RootFS) {
        self.architecture = architecture
        self.os = os
        self.config = config
        self.rootfs = rootfs
    }
}

/// `{}`: the value type of ExposedPorts and Volumes.
public struct EmptyObject: Codable, Sendable, Hashable {
    public init() {}
}

/// Whichever document a manifest URL answered with.
public enum ManifestDocument: Sendable {
    case index(ImageIndex)
    case manifest(ImageManifest)
}
