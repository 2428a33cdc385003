import FoundationEssentials
import LinuxSys
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Importing image archives for nodes without registry access.
extension ImageManager {
    /// Imports every image of an OCI image layout tar or a `docker save` archive (optionally
    /// gzip- or zstd-compressed). The archive is unpacked with the same confined extractor as a
    /// layer (it is untrusted input too) into a staging directory, every blob is verified against
    /// its digest on the way into the content store, and the layers are unpacked from there.
    public func importArchive(at path: String) async throws(SkiffError) -> [ImageRecord] {
        guard path.hasPrefix("/") else {
            throw SkiffError.invalidArgument("the archive path \"\(path)\" must be absolute")
        }
        guard FileSystem.exists(path) else { throw SkiffError.notFound("the archive \(path) does not exist") }
        var random = SystemRandomNumberGenerator()
        let staging = "\(options.rootDir)/import-\(String(random.next() as UInt64, radix: 16))"
        defer {
            do {
                try DirectoryTree.remove(staging)
            } catch {
                logger.warning(
                    "cannot remove an import's staging directory",
                    metadata: ["path": "\(staging)", "error": "\(error)"]
                )
            }
        }
        do {
            try FileSystem.makeDirectories(staging + "/fs", mode: 0o700)
        } catch {
            throw error.skiffError("cannot create the import staging directory")
        }
        let unpacker = try LayerUnpacker(name: path, destination: staging + "/fs")
        try Self.stream(fileAt: path) { (bytes) throws(SkiffError) in try unpacker.feed(bytes) }
        _ = try unpacker.finish()

        let root = staging + "/fs"
        let entries: [ArchiveImage]
        if FileSystem.exists(root + "/index.json") {
            entries = try ociLayoutImages(root)
        } else if FileSystem.exists(root + "/manifest.json") {
            entries = try dockerArchiveImages(root)
        } else {
            throw SkiffError.invalidArgument(
                "\(path) is neither an OCI image layout (index.json) nor a docker save archive (manifest.json)"
            )
        }
        guard !entries.isEmpty else { throw SkiffError.invalidArgument("\(path) holds no image for this platform") }
        var records: [ImageRecord] = []
        for entry in entries {
            records.append(try await store(entry))
        }
        return records
    }

    /// One image found in an archive, its blobs already in the content store.
    struct ArchiveImage {
        var tags: [String]
        var manifestDigest: Digest
        var manifest: ImageManifest
        var extraBlobs: [Digest]
    }

    private func store(_ entry: ArchiveImage) async throws(SkiffError) -> ImageRecord {
        guard let configBytes = try content.read(entry.manifest.config.digest) else {
            throw SkiffError.invalidArgument("the archive lacks the config \(entry.manifest.config.digest)")
        }
        let layers = entry.manifest.layers
        let configuration = try ImageConfigCodec.decode(
            configBytes,
            layerCount: layers.count,
            image: "the archived image \(entry.tags.first ?? entry.manifestDigest.description)"
        )
        let chainIDs = Digest.chainIDs(of: configuration.rootfs.diffIDs)
        for (index, layer) in layers.enumerated() where !snapshots.contains(chainIDs[index]) {
            guard content.contains(layer.digest) else {
                throw SkiffError.invalidArgument("the archive lacks the layer \(layer.digest)")
            }
            try LayerJob(
                descriptor: layer,
                diffID: configuration.rootfs.diffIDs[index],
                chainID: chainIDs[index],
                repository: "",
                endpoints: [],
                credentials: nil
            )
            .unpackLocal(content: content, snapshots: snapshots)
        }
        var tags: [String] = []
        var pinned = false
        for tag in entry.tags {
            let reference: ImageReference
            do {
                reference = try ImageReference(parsing: tag)
            } catch {
                logger.warning("a tag in the archive is not an image reference; skipped", metadata: ["tag": "\(tag)"])
                continue
            }
            var tagged = reference
            tagged.digest = nil
            if tagged.tag != nil { tags.append(tagged.description) }
            pinned = pinned || isPinned(reference)
        }
        let record = ImageRecord(
            id: entry.manifest.config.digest,
            repoTags: tags,
            repoDigests: [],
            manifestDigest: entry.manifestDigest,
            layers: layers,
            chainIDs: chainIDs,
            blobs: entry.extraBlobs + [entry.manifestDigest, entry.manifest.config.digest] + layers.map(\.digest),
            size: entry.manifest.config.size + layers.reduce(0) { $0 + $1.size },
            user: configuration.config?.user ?? "",
            pinned: pinned,
            annotations: entry.manifest.annotations ?? [:]
        )
        try await images.store(record)
        logger.info("image imported", metadata: ["id": "\(record.id)", "tags": "\(tags.joined(separator: ","))"])
        return await images.record(record.id) ?? record
    }

    // MARK: OCI image layout

    private func ociLayoutImages(_ root: String) throws(SkiffError) -> [ArchiveImage] {
        let index: ImageIndex = try decodeFile(root + "/index.json")
        var found: [ArchiveImage] = []
        for descriptor in index.manifests {
            let name =
                descriptor.annotations?["io.containerd.image.name"]
                ?? descriptor.annotations?["org.opencontainers.image.ref.name"]
            // A bare tag ("latest") names no repository: such an image is imported untagged.
            let tags = name.flatMap { $0.contains("/") || $0.contains(":") ? [$0] : nil } ?? []
            let bytes = try importBlob(root, descriptor.digest, expectedSize: descriptor.size)
            if MediaType.indexes.contains(descriptor.mediaType) {
                let nested = try decode(ImageIndex.self, bytes, what: "index \(descriptor.digest)")
                guard let chosen = options.platform.select(from: nested.manifests) else { continue }
                let manifestBytes = try importBlob(root, chosen.digest, expectedSize: chosen.size)
                let manifest = try decode(ImageManifest.self, manifestBytes, what: "manifest \(chosen.digest)")
                try importBlobs(root, of: manifest)
                found.append(
                    ArchiveImage(
                        tags: tags,
                        manifestDigest: chosen.digest,
                        manifest: manifest,
                        extraBlobs: [descriptor.digest]
                    )
                )
            } else {
                if let platform = descriptor.platform, !options.platform.matches(platform) { continue }
                let manifest = try decode(ImageManifest.self, bytes, what: "manifest \(descriptor.digest)")
                try importBlobs(root, of: manifest)
                found.append(
                    ArchiveImage(tags: tags, manifestDigest: descriptor.digest, manifest: manifest, extraBlobs: [])
                )
            }
        }
        return found
    }

    private func importBlobs(_ root: String, of manifest: ImageManifest) throws(SkiffError) {
        _ = try importBlob(root, manifest.config.digest, expectedSize: manifest.config.size, keepBytes: false)
        for layer in manifest.layers {
            _ = try importBlob(root, layer.digest, expectedSize: layer.size, keepBytes: false)
        }
    }

    /// Copies `blobs/sha256/<hex>` of the layout into the content store, verifying its digest.
    private func importBlob(
        _ root: String,
        _ digest: Digest,
        expectedSize: Int64,
        keepBytes: Bool = true
    ) throws(SkiffError) -> [UInt8] {
        let path = "\(root)/blobs/sha256/\(digest.hex)"
        try copyIntoStore(path, digest: digest, size: expectedSize)
        return keepBytes ? (try content.read(digest) ?? []) : []
    }

    // MARK: docker save

    private struct DockerArchiveEntry: Decodable {
        var config: String
        var repoTags: [String]?
        var layers: [String]

        enum CodingKeys: String, CodingKey {
            case config = "Config"
            case repoTags = "RepoTags"
            case layers = "Layers"
        }
    }

    private func dockerArchiveImages(_ root: String) throws(SkiffError) -> [ArchiveImage] {
        let entries: [DockerArchiveEntry] = try decodeFile(root + "/manifest.json")
        var found: [ArchiveImage] = []
        for entry in entries {
            let configDescriptor = try addFile(root, entry.config, mediaType: MediaType.dockerConfig)
            let layers = try entry.layers.map { (layer) throws(SkiffError) in
                try addFile(root, layer, mediaType: MediaType.ociLayer)
            }
            // docker save carries no manifest: make the OCI manifest the image would have had.
            let manifest = ImageManifest(config: configDescriptor, layers: layers)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let manifestBytes: [UInt8]
            do {
                manifestBytes = Array(try encoder.encode(manifest))
            } catch {
                throw SkiffError.internalError("cannot encode a manifest", cause: DescribedError(error))
            }
            let manifestDigest = Digest.of(manifestBytes)
            try content.write(manifestBytes, digest: manifestDigest)
            found.append(
                ArchiveImage(
                    tags: entry.repoTags ?? [],
                    manifestDigest: manifestDigest,
                    manifest: manifest,
                    extraBlobs: []
                )
            )
        }
        return found
    }

    /// Hashes a file of the archive and stores it as a blob; returns its descriptor.
    private func addFile(_ root: String, _ relative: String, mediaType: String) throws(SkiffError) -> Descriptor {
        let components = try SafeExtractor.clean(relative, entry: relative)
        let path = root + "/" + components.joined(separator: "/")
        var digester = Digester()
        try Self.stream(fileAt: path) { (bytes) throws(SkiffError) in digester.update(bytes) }
        let digest = digester.finalize()
        try copyIntoStore(path, digest: digest, size: digester.count)
        return Descriptor(mediaType: mediaType, digest: digest, size: digester.count)
    }

    private func copyIntoStore(_ path: String, digest: Digest, size: Int64) throws(SkiffError) {
        guard !content.contains(digest) else { return }
        guard FileSystem.exists(path) else { throw SkiffError.invalidArgument("the archive lacks the blob \(digest)") }
        let writer = try BlobWriter(store: content, expected: digest, size: size)
        try Self.stream(fileAt: path) { (bytes) throws(SkiffError) in try writer.write(bytes) }
        try writer.commit()
    }

    private func decodeFile<Value: Decodable>(_ path: String) throws(SkiffError) -> Value {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readBytes(path, limit: RegistryClient.maxManifestSize)
        } catch {
            throw error.skiffError("cannot read \(path)", ifMissing: .notFound)
        }
        return try decode(Value.self, bytes, what: String(path.split(separator: "/").last ?? ""))
    }

    private func decode<Value: Decodable>(
        _ type: Value.Type,
        _ bytes: [UInt8],
        what: String
    ) throws(SkiffError) -> Value {
        do {
            return try JSONCoding.decoder.decode(type, from: bytes)
        } catch {
            throw SkiffError(.invalidArgument, "the archive's \(what) is malformed", cause: DescribedError(error))
        }
    }

    /// Reads a file in 1 MiB chunks.
    static func stream(
        fileAt path: String,
        _ body: (UnsafeRawBufferPointer) throws(SkiffError) -> Void
    ) throws(SkiffError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw SystemCallError("open", path, errno: errno).skiffError("cannot read \(path)", ifMissing: .notFound)
        }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                throw SystemCallError("read", path, errno: errno).skiffError("cannot read \(path)")
            }
            if count == 0 { return }
            try withBytes(buffer) { (bytes) throws(SkiffError) in
                try body(UnsafeRawBufferPointer(rebasing: bytes[0..<count]))
            }
        }
    }
}
