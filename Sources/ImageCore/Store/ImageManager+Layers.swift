import LinuxSys
import Logging
import NIOCore
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

extension ImageManager {
    /// Fetches and unpacks the layers, several at a time. Each layer streams from the registry
    /// into its blob file and, in the same pass, through decompression into a new snapshot; both
    /// are kept only if the blob's digest and the tar's diff ID verify. A layer whose snapshot
    /// and blob exist is skipped; one being pulled by another pull is waited for, not fetched twice.
    func pullLayers(
        _ layers: [Descriptor],
        diffIDs: [Digest],
        chainIDs: [Digest],
        repository: String,
        endpoints: [RegistryEndpoint],
        credentials: RegistryCredentials?
    ) async throws(SkiffError) {
        let content = self.content
        let snapshots = self.snapshots
        let registry = self.registry
        let flights = self.layerFlights
        let logger = self.logger
        let limit = max(1, options.maxConcurrentDownloads)
        let outcome: Result<Void, SkiffError> = await withTaskGroup(of: Result<Void, SkiffError>.self) { group in
            var next = 0
            var failure: SkiffError?
            func addNext() {
                let index = next
                next += 1
                group.addTask {
                    let layer = LayerJob(
                        descriptor: layers[index],
                        diffID: diffIDs[index],
                        chainID: chainIDs[index],
                        repository: repository,
                        endpoints: endpoints,
                        credentials: credentials
                    )
                    do throws(SkiffError) {
                        try await flights.run(layer.chainID.description) { () throws(SkiffError) in
                            try await layer.materialize(
                                content: content,
                                snapshots: snapshots,
                                registry: registry,
                                logger: logger
                            )
                        }
                        return .success(())
                    } catch {
                        return .failure(error)
                    }
                }
            }
            while next < min(limit, layers.count) { addNext() }
            while let result = await group.next() {
                if case .failure(let error) = result, failure == nil {
                    failure = error
                    group.cancelAll()
                }
                if failure == nil && next < layers.count { addNext() }
            }
            return failure.map { .failure($0) } ?? .success(())
        }
        try outcome.get()
    }
}

/// One layer of one pull.
struct LayerJob: Sendable {
    var descriptor: Descriptor
    var diffID: Digest
    var chainID: Digest
    var repository: String
    var endpoints: [RegistryEndpoint]
    var credentials: RegistryCredentials?

    func materialize(
        content: ContentStore,
        snapshots: SnapshotStore,
        registry: RegistryClient,
        logger: Logger
    ) async throws(SkiffError) {
        let haveBlob = content.contains(descriptor.digest)
        if snapshots.contains(chainID) && haveBlob { return }
        if haveBlob {
            try unpackLocal(content: content, snapshots: snapshots)
            return
        }
        try await withEndpoints(endpoints) { (endpoint) throws(SkiffError) in
            let prepared = try snapshots.prepare()
            let unpackSnapshot = !snapshots.contains(chainID)
            do throws(SkiffError) {
                let writer = try BlobWriter(store: content, expected: descriptor.digest, size: descriptor.size)
                let unpacker =
                    unpackSnapshot
                    ? try LayerUnpacker(name: descriptor.digest.description, destination: prepared + "/fs") : nil
                try await registry.fetchBlob(
                    endpoint,
                    repository: repository,
                    descriptor: descriptor,
                    credentials: credentials
                ) { (chunk) throws(SkiffError) in
                    try writer.write(chunk)
                    try unpacker?.feed(chunk)
                }
                // The blob's own digest first: content that is not what the manifest names is
                // refused as such, whatever its tar looks like.
                try writer.verify()
                if let unpacker { try verify(unpacker.finish()) }
                try writer.commit()
                if unpackSnapshot { try snapshots.commit(prepared, as: chainID) } else { snapshots.discard(prepared) }
            } catch {
                snapshots.discard(prepared)
                throw error
            }
        }
        logger.debug("layer ready", metadata: ["layer": "\(descriptor.digest)", "chain": "\(chainID)"])
    }

    /// Unpacks a layer whose blob is already stored (an import, or a snapshot removed since).
    func unpackLocal(content: ContentStore, snapshots: SnapshotStore) throws(SkiffError) {
        let prepared = try snapshots.prepare()
        do throws(SkiffError) {
            let unpacker = try LayerUnpacker(name: descriptor.digest.description, destination: prepared + "/fs")
            try ImageManager.stream(fileAt: content.path(of: descriptor.digest)) { (bytes) throws(SkiffError) in
                try unpacker.feed(bytes)
            }
            try verify(unpacker.finish())
            try snapshots.commit(prepared, as: chainID)
        } catch {
            snapshots.discard(prepared)
            throw error
        }
    }

    func verify(_ computed: Digest) throws(SkiffError) {
        guard computed == diffID else {
            throw SkiffError(
                .invalidArgument,
                "layer \(descriptor.digest) unpacks to \(computed), not the diff ID \(diffID) its image config names (refused)"
            )
        }
    }
}
