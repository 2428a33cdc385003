import Logging
import NIOCore
import SkiffCommon

/// The image half of the node: pull, list, inspect, remove, disk usage. Owns the content store,
/// the snapshot store and the image metadata under `<root_dir>`.
public actor ImageManager {
    public struct Options: Sendable {
        public var rootDir: String
        public var registry: RegistrySettings
        /// Tag kept pinned (the configured pause image).
        public var pinnedImage: String
        public var maxConcurrentDownloads: Int
        public var platform: PlatformMatcher

        public init(
            rootDir: String,
            registry: RegistrySettings,
            pinnedImage: String = "",
            maxConcurrentDownloads: Int = 3,
            platform: PlatformMatcher = .host
        ) {
            self.rootDir = rootDir
            self.registry = registry
            self.pinnedImage = pinnedImage
            self.maxConcurrentDownloads = maxConcurrentDownloads
            self.platform = platform
        }
    }

    let options: Options
    let content: ContentStore
    let snapshots: SnapshotStore
    let images: ImageStore
    let registry: RegistryClient
    let layerFlights = SingleFlight<Void>()
    let logger: Logger
    /// `options.pinnedImage` parsed once; nil when none is set or it is no image reference.
    let pinnedReference: ImageReference?
    /// Blobs and snapshots a pull in progress has written but no record names yet: removal
    /// must not collect them.
    var leased: [Digest: Int] = [:]

    public init(options: Options, logger: Logger) throws(SkiffError) {
        self.options = options
        self.logger = logger
        pinnedReference = Self.parsePinnedImage(options.pinnedImage, logger: logger)
        content = try ContentStore(root: options.rootDir + "/content")
        snapshots = try SnapshotStore(root: options.rootDir + "/snapshots")
        images = try ImageStore(directory: options.rootDir + "/images")
        registry = RegistryClient(settings: options.registry, logger: logger)
    }

    public func shutdown() async {
        await registry.shutdown()
    }

    /// The pinned image's reference; one that does not parse is said once, here, and pins nothing.
    private static func parsePinnedImage(_ pinnedImage: String, logger: Logger) -> ImageReference? {
        guard !pinnedImage.isEmpty else { return nil }
        do {
            return try ImageReference(parsing: pinnedImage)
        } catch {
            logger.warning(
                "the pinned image is not an image reference; no image is pinned",
                metadata: ["image": "\(pinnedImage)", "error": "\(error)"]
            )
            return nil
        }
    }

    // MARK: Queries

    public func list(matching reference: String? = nil) async -> [ImageRecord] {
        guard let reference, !reference.isEmpty else { return await images.all }
        if let record = await images.find(reference) { return [record] }
        return []
    }

    public func image(_ reference: String) async -> ImageRecord? {
        await images.find(reference)
    }

    /// The decoded config of an image, for ImageStatus and container creation.
    /// The image's config blob, decoded; nil when the content store no longer has it. A blob
    /// that does not decode is an error: it was verified and decoded when the image was pulled.
    public func configuration(of record: ImageRecord) throws(SkiffError) -> ImageConfiguration? {
        guard let bytes = try content.read(record.id) else { return nil }
        do {
            return try ImageConfigCodec.decode(bytes)
        } catch {
            throw SkiffError(
                .internalError,
                "the config of image \(record.id) in the content store cannot be decoded; remove and pull the image again",
                cause: DescribedError(error)
            )
        }
    }

    public func usage() -> (bytes: Int64, inodes: Int64, mountpoint: String) {
        let blobs = content.usage()
        let layers = snapshots.usage()
        return (blobs.bytes + layers.bytes, blobs.inodes + layers.inodes, options.rootDir)
    }

    // MARK: Removal

    /// Removes an image by ID, tag or digest; blobs and snapshots no other image uses go too.
    /// Removing an image that is not there succeeds (the CRI requires idempotence).
    public func remove(_ reference: String) async throws(SkiffError) {
        guard let record = await images.find(reference) else { return }
        try await images.remove(record.id)
        let remaining = await images.all
        let usedBlobs = Set(remaining.flatMap(\.blobs))
        let usedSnapshots = Set(remaining.flatMap(\.chainIDs))
        for blob in record.blobs where !usedBlobs.contains(blob) && leased[blob] == nil {
            content.delete(blob)
        }
        for chainID in record.chainIDs where !usedSnapshots.contains(chainID) && leased[chainID] == nil {
            try snapshots.remove(chainID)
        }
        logger.info(
            "image removed",
            metadata: ["image": "\(record.id)", "tags": "\(record.repoTags.joined(separator: ","))"]
        )
    }

    // MARK: Container root filesystems

    /// The layer directories of an image for a container's overlay (top layer first), leased so
    /// that removing the image keeps them until the container lets go (`releaseLayers`).
    public func leaseLayers(of record: ImageRecord) throws(SkiffError) -> [String] {
        for chainID in record.chainIDs where !snapshots.contains(chainID) {
            throw SkiffError(
                .failedPrecondition,
                "layer \(chainID) of image \(record.id) is missing from \(snapshots.root); remove and pull the image again"
            )
        }
        lease(record.chainIDs)
        return record.chainIDs.reversed().map { snapshots.path(of: $0) }
    }

    /// Re-takes the leases of containers found at start-up.
    public func leaseLayers(_ chainIDs: [Digest]) {
        lease(chainIDs)
    }

    /// Drops a container's leases; snapshots that no image names any more (their image was
    /// removed while the container existed) are deleted with the last lease.
    public func releaseLayers(_ chainIDs: [Digest]) async {
        release(chainIDs)
        let used = Set(await images.all.flatMap(\.chainIDs))
        for chainID in chainIDs where leased[chainID] == nil && !used.contains(chainID) {
            do {
                try snapshots.remove(chainID)
            } catch {
                logger.warning(
                    "cannot remove an unused snapshot",
                    metadata: ["chainID": "\(chainID)", "error": "\(error)"]
                )
            }
        }
    }

    func lease(_ digests: [Digest]) {
        for digest in digests { leased[digest, default: 0] += 1 }
    }

    func release(_ digests: [Digest]) {
        for digest in digests {
            leased[digest, default: 1] -= 1
            if leased[digest] == 0 { leased[digest] = nil }
        }
    }
}

enum ImageConfigCodec {
    static func decode(_ bytes: [UInt8]) throws -> ImageConfiguration {
        try JSONCoding.decoder.decode(ImageConfiguration.self, from: bytes)
    }

    /// Decodes an image config and checks it lists one diff ID per manifest layer.
    static func decode(_ bytes: [UInt8], layerCount: Int, image: String) throws(SkiffError) -> ImageConfiguration {
        let configuration: ImageConfiguration
        do {
            configuration = try decode(bytes)
        } catch {
            throw SkiffError(
                .invalidArgument,
                "the image config of \(image) is malformed",
                cause: DescribedError(error)
            )
        }
        guard configuration.rootfs.diffIDs.count == layerCount else {
            throw SkiffError(
                .invalidArgument,
                "\(image): the manifest has \(layerCount) layers but the config lists \(configuration.rootfs.diffIDs.count) diff IDs"
            )
        }
        return configuration
    }
}
