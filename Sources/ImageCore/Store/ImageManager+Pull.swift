import Logging
import NIOCore
import SkiffCommon

extension ImageManager {
    /// Pulls `reference` for this node's platform and returns the image record. Pulling a tag
    /// again re-resolves it and moves the tag if it now names another image.
    public func pull(_ text: String, credentials: RegistryCredentials?) async throws(SkiffError) -> ImageRecord {
        let reference = try ImageReference(parsing: text)
        let started = ContinuousClock.now
        let endpoints = registry.endpoints(for: reference.registry)
        let (resolved, manifest, endpointOrder) = try await resolve(
            reference,
            endpoints: endpoints,
            credentials: credentials
        )
        let configBytes = try await fetchSmallBlob(
            manifest.manifest.config,
            repository: reference.repository,
            endpoints: endpointOrder,
            credentials: credentials
        )
        let layers = manifest.manifest.layers
        let configuration = try ImageConfigCodec.decode(
            configBytes,
            layerCount: layers.count,
            image: reference.description
        )
        let chainIDs = Digest.chainIDs(of: configuration.rootfs.diffIDs)
        let holding = layers.map(\.digest) + chainIDs + [manifest.manifest.config.digest]
        lease(holding)
        defer { release(holding) }

        try await pullLayers(
            layers,
            diffIDs: configuration.rootfs.diffIDs,
            chainIDs: chainIDs,
            repository: reference.repository,
            endpoints: endpointOrder,
            credentials: credentials
        )
        for document in resolved.documents { try content.write(document.bytes, digest: document.digest) }

        var repoTags: [String] = []
        if reference.tag != nil {
            var tagged = reference
            tagged.digest = nil
            repoTags.append(tagged.description)
        }
        let record = ImageRecord(
            id: manifest.manifest.config.digest,
            repoTags: repoTags,
            repoDigests: ["\(reference.name)@\(resolved.topDigest)"],
            manifestDigest: manifest.digest,
            layers: layers,
            chainIDs: chainIDs,
            blobs: resolved.documents.map(\.digest) + [manifest.manifest.config.digest] + layers.map(\.digest),
            size: manifest.manifest.config.size + layers.reduce(0) { $0 + $1.size },
            user: configuration.config?.user ?? "",
            pinned: isPinned(reference),
            annotations: manifest.manifest.annotations ?? [:]
        )
        try await images.store(record)
        let elapsed = ContinuousClock.now - started
        logger.info(
            "image pulled",
            metadata: [
                "image": "\(reference)", "id": "\(record.id)", "layers": "\(layers.count)",
                "bytes": "\(record.size)",
                "seconds": "\(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)",
            ]
        )
        return await images.record(record.id) ?? record
    }

    func isPinned(_ reference: ImageReference) -> Bool {
        guard let pinned = pinnedReference else { return false }
        return pinned.name == reference.name && (pinned.tag == reference.tag || pinned.digest == reference.digest)
    }

    struct Resolution {
        struct Document {
            var digest: Digest
            var bytes: [UInt8]
        }

        /// What the reference itself names (an index or a manifest).
        var topDigest: Digest
        /// The index (if any) and the manifest, to keep in the content store.
        var documents: [Document]
    }

    struct PlatformManifest {
        var digest: Digest
        var manifest: ImageManifest
    }

    /// Resolves the reference to a platform manifest, trying the mirrors, then the registry.
    /// Returns the endpoints reordered with the one that answered first.
    func resolve(
        _ reference: ImageReference,
        endpoints: [RegistryEndpoint],
        credentials: RegistryCredentials?
    ) async throws(SkiffError) -> (Resolution, PlatformManifest, [RegistryEndpoint]) {
        var failures: [String] = []
        var lastError: SkiffError?
        for (index, endpoint) in endpoints.enumerated() {
            do throws(SkiffError) {
                let (resolution, manifest) = try await resolve(reference, at: endpoint, credentials: credentials)
                var order = endpoints
                order.remove(at: index)
                order.insert(endpoint, at: 0)
                return (resolution, manifest, order)
            } catch {
                failures.append("\(endpoint.isMirror ? "mirror " : "")\(endpoint.host): \(error.message)")
                lastError = error
                logger.debug(
                    "cannot resolve through endpoint",
                    metadata: ["endpoint": "\(endpoint)", "error": "\(error)"]
                )
            }
        }
        guard let lastError else { throw SkiffError.internalError("no endpoint for \(reference.registry)") }
        if failures.count == 1 { throw lastError }
        throw SkiffError(lastError.code, "cannot pull \(reference): " + failures.joined(separator: "; "))
    }

    private func resolve(
        _ reference: ImageReference,
        at endpoint: RegistryEndpoint,
        credentials: RegistryCredentials?
    ) async throws(SkiffError) -> (Resolution, PlatformManifest) {
        let top = try await registry.fetchManifest(
            endpoint,
            repository: reference.repository,
            reference: reference.digest ?? reference.tag ?? "latest",
            credentials: credentials
        )
        var documents = [Resolution.Document(digest: top.digest, bytes: top.bytes)]
        switch top.document {
        case .manifest(let manifest):
            return (
                Resolution(topDigest: top.digest, documents: documents),
                PlatformManifest(digest: top.digest, manifest: manifest)
            )
        case .index(let index):
            guard let chosen = options.platform.select(from: index.manifests) else {
                let offered = index.manifests.compactMap(\.platform).map {
                    [$0.os, $0.architecture, $0.variant].compactMap { $0 }.joined(separator: "/")
                }
                let wanted = options.platform.platform
                throw SkiffError(
                    .notFound,
                    "\(reference) has no image for \(wanted.os)/\(wanted.architecture)\(wanted.variant.map { "/\($0)" } ?? "") (it has \(offered.joined(separator: ", ")))"
                )
            }
            let platformManifest = try await registry.fetchManifest(
                endpoint,
                repository: reference.repository,
                reference: chosen.digest.description,
                credentials: credentials
            )
            guard case .manifest(let manifest) = platformManifest.document else {
                throw SkiffError(
                    .invalidArgument,
                    "\(reference): the index entry \(chosen.digest) is not an image manifest"
                )
            }
            documents.append(Resolution.Document(digest: platformManifest.digest, bytes: platformManifest.bytes))
            return (
                Resolution(topDigest: top.digest, documents: documents),
                PlatformManifest(digest: platformManifest.digest, manifest: manifest)
            )
        }
    }

    /// A config-sized blob, kept in the content store.
    func fetchSmallBlob(
        _ descriptor: Descriptor,
        repository: String,
        endpoints: [RegistryEndpoint],
        credentials: RegistryCredentials?
    ) async throws(SkiffError) -> [UInt8] {
        if let stored = try content.read(descriptor.digest) { return stored }
        guard descriptor.size <= 16 << 20 else {
            throw SkiffError(
                .resourceExhausted,
                "the image config \(descriptor.digest) is \(descriptor.size) bytes; Skiff refuses configs over 16 MiB"
            )
        }
        let bytes = try await withEndpoints(endpoints) { (endpoint) throws(SkiffError) -> [UInt8] in
            var collected: [UInt8] = []
            try await registry.fetchBlob(
                endpoint,
                repository: repository,
                descriptor: descriptor,
                credentials: credentials
            ) { (chunk) throws(SkiffError) in
                collected.append(contentsOf: chunk.readableBytesView)
            }
            let digest = Digest.of(collected)
            guard digest == descriptor.digest else {
                throw SkiffError(
                    .invalidArgument,
                    "blob \(descriptor.digest) has digest \(digest): the content is not what the manifest names (refused)"
                )
            }
            return collected
        }
        try content.write(bytes, digest: descriptor.digest)
        return bytes
    }
}

/// Tries `operation` on each endpoint in order until one succeeds.
func withEndpoints<Value>(
    _ endpoints: [RegistryEndpoint],
    isolation: isolated (any Actor)? = #isolation,
    _ operation: (RegistryEndpoint) async throws(SkiffError) -> Value
) async throws(SkiffError) -> Value {
    var lastError = SkiffError.internalError("no endpoint")
    for endpoint in endpoints {
        do throws(SkiffError) {
            return try await operation(endpoint)
        } catch {
            lastError = error
            // Content that fails verification fails the pull: another endpoint is not trusted more.
            if error.code == .invalidArgument || error.code == .resourceExhausted { throw error }
        }
    }
    throw lastError
}
