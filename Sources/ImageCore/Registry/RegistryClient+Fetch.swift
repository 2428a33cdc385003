import AsyncHTTPClient
import FoundationEssentials
import NIOCore
import SkiffCommon

/// A manifest or index as the registry sent it, with the digest of its exact bytes.
public struct FetchedManifest: Sendable {
    public var bytes: [UInt8]
    public var mediaType: String
    public var digest: Digest
    public var document: ManifestDocument
}

extension RegistryClient {
    /// Manifests and indexes are small; a bigger one is refused rather than buffered.
    public static let maxManifestSize = 4 << 20

    /// GETs the manifest or index `reference` (a tag or a digest) of `repository`. The bytes are
    /// hashed; fetching by digest verifies it, and a registry's Docker-Content-Digest must agree.
    public func fetchManifest(
        _ endpoint: RegistryEndpoint,
        repository: String,
        reference: String,
        credentials: RegistryCredentials?
    ) async throws(SkiffError) -> FetchedManifest {
        let response = try await get(
            endpoint,
            repository: repository,
            path: "manifests/\(reference)",
            accept: MediaType.acceptedManifests,
            credentials: credentials,
            deadline: .seconds(300)
        )
        if let length = response.headers.first(name: "Content-Length").flatMap(Int.init), length > Self.maxManifestSize
        {
            await Self.discard(response)
            throw SkiffError(
                .resourceExhausted,
                "the manifest \(repository):\(reference) is \(length) bytes; Skiff refuses manifests over \(Self.maxManifestSize) bytes"
            )
        }
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: Self.maxManifestSize)
        } catch is NIOTooManyBytesError {
            throw SkiffError(
                .resourceExhausted,
                "the manifest \(repository):\(reference) is larger than \(Self.maxManifestSize) bytes; refused"
            )
        } catch {
            throw Self.transportError(error, url: "\(endpoint.baseURL)/v2/\(repository)/manifests/\(reference)")
        }
        let bytes = Array(buffer: body)
        let digest = Digest.of(bytes)
        if reference.hasPrefix("sha256:"), reference != digest.description {
            throw SkiffError(
                .invalidArgument,
                "\(endpoint.host)/\(repository)@\(reference): the registry sent a manifest whose digest is \(digest)"
            )
        }
        if let claimed = response.headers.first(name: "Docker-Content-Digest"), claimed.hasPrefix("sha256:"),
            claimed != digest.description
        {
            throw SkiffError(
                .invalidArgument,
                "\(endpoint.host)/\(repository):\(reference): the manifest's digest is \(digest) but the registry claims \(claimed)"
            )
        }
        let contentType = response.headers.first(name: "Content-Type").map { String($0.prefix { $0 != ";" }) }
        let (mediaType, document) = try Self.decodeManifest(
            bytes,
            contentType: contentType,
            name: "\(repository):\(reference)"
        )
        return FetchedManifest(bytes: bytes, mediaType: mediaType, digest: digest, document: document)
    }

    static func decodeManifest(
        _ bytes: [UInt8],
        contentType: String?,
        name: String
    ) throws(SkiffError) -> (String, ManifestDocument) {
        struct Probe: Decodable {
            var mediaType: String?
            var manifests: [EmptyObject]?
            var schemaVersion: Int?
        }
        let data = Data(bytes)
        let probe: Probe
        do {
            probe = try JSONDecoder().decode(Probe.self, from: data)
        } catch {
            throw SkiffError(
                .invalidArgument,
                "the manifest of \(name) is not valid JSON",
                cause: DescribedError(error)
            )
        }
        var mediaType = probe.mediaType ?? contentType ?? ""
        if !MediaType.indexes.contains(mediaType) && !MediaType.manifests.contains(mediaType) {
            // Some registries answer application/json; the document's shape decides.
            mediaType = probe.manifests != nil ? MediaType.ociIndex : MediaType.ociManifest
        }
        guard probe.schemaVersion == 2 else {
            throw SkiffError(
                .invalidArgument,
                "the manifest of \(name) has schemaVersion \(probe.schemaVersion.map(String.init) ?? "none"); only schema 2 (Docker v2 / OCI) is supported"
            )
        }
        do {
            if MediaType.indexes.contains(mediaType) {
                return (mediaType, .index(try JSONDecoder().decode(ImageIndex.self, from: data)))
            }
            return (mediaType, .manifest(try JSONDecoder().decode(ImageManifest.self, from: data)))
        } catch {
            throw SkiffError(.invalidArgument, "the manifest of \(name) is malformed", cause: DescribedError(error))
        }
    }

    /// Streams the blob `descriptor` of `repository` into `consume`, refusing more bytes than the
    /// descriptor announces and failing when fewer arrive. The consumer verifies the digest.
    public func fetchBlob(
        _ endpoint: RegistryEndpoint,
        repository: String,
        descriptor: Descriptor,
        credentials: RegistryCredentials?,
        consume: (ByteBuffer) async throws(SkiffError) -> Void
    ) async throws(SkiffError) {
        let response = try await get(
            endpoint,
            repository: repository,
            path: "blobs/\(descriptor.digest)",
            credentials: credentials,
            deadline: .seconds(6 * 3600)
        )
        var received: Int64 = 0
        let url = "\(endpoint.baseURL)/v2/\(repository)/blobs/\(descriptor.digest)"
        do {
            for try await chunk in response.body {
                received += Int64(chunk.readableBytes)
                if received > descriptor.size {
                    throw SkiffError(
                        .invalidArgument,
                        "blob \(descriptor.digest) of \(repository) is larger than the \(descriptor.size) bytes its descriptor says"
                    )
                }
                try await consume(chunk)
            }
        } catch let error as SkiffError {
            throw error
        } catch {
            throw Self.transportError(error, url: url)
        }
        if received != descriptor.size {
            throw SkiffError(
                .unavailable,
                "blob \(descriptor.digest) of \(repository) was truncated: \(received) of \(descriptor.size) bytes arrived"
            )
        }
    }
}
