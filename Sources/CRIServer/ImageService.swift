import CRIAPI
import FoundationEssentials
import GRPCCore
import ImageCore
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// CRI `runtime.v1.ImageService` over the node's images (`ImageStore`: the domain's `ImageManager`, or a fake in tests).
public struct ImageService: Runtime_V1_ImageService.SimpleServiceProtocol {
    let images: any ImageStore

    public init(images: any ImageStore) {
        self.images = images
    }

    public func listImages(
        request: Runtime_V1_ListImagesRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_ListImagesResponse {
        let filter = request.hasFilter && request.filter.hasImage ? request.filter.image.image : nil
        var response = Runtime_V1_ListImagesResponse()
        response.images = await images.list(matching: filter).map(Self.image)
        return response
    }

    /// api.proto (KEP-5825): the same list as ListImages, in chunks, ending with EOF.
    public func streamImages(
        request: Runtime_V1_StreamImagesRequest,
        response: RPCWriter<Runtime_V1_StreamImagesResponse>,
        context: ServerContext
    ) async throws {
        let filter = request.hasFilter && request.filter.hasImage ? request.filter.image.image : nil
        let all = await images.list(matching: filter).map(Self.image)
        for start in stride(from: 0, to: all.count, by: 100) {
            var chunk = Runtime_V1_StreamImagesResponse()
            chunk.images = Array(all[start..<min(start + 100, all.count)])
            try await response.write(chunk)
        }
    }

    /// api.proto: "If the image is not present, returns a response with ImageStatusResponse.Image set to nil."
    public func imageStatus(
        request: Runtime_V1_ImageStatusRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_ImageStatusResponse {
        let reference = request.image.image
        guard !reference.isEmpty else {
            throw SkiffError.invalidArgument("ImageStatus needs image.image (a tag, digest or ID)")
        }
        var response = Runtime_V1_ImageStatusResponse()
        guard let record = await images.image(reference) else { return response }
        response.image = Self.image(record)
        if request.verbose {
            response.info["info"] = try await verboseInfo(record)
        }
        return response
    }

    public func pullImage(
        request: Runtime_V1_PullImageRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_PullImageResponse {
        let reference = request.image.image
        guard !reference.isEmpty else {
            throw SkiffError.invalidArgument("PullImage needs image.image (the reference to pull)")
        }
        var credentials: RegistryCredentials?
        if request.hasAuth {
            let auth = request.auth
            credentials = try RegistryCredentials(
                username: auth.username,
                password: auth.password,
                auth: auth.auth,
                identityToken: auth.identityToken,
                registryToken: auth.registryToken
            )
        }
        let record = try await images.pull(reference, credentials: credentials)
        var response = Runtime_V1_PullImageResponse()
        response.imageRef = record.id.description
        return response
    }

    /// api.proto: "This call is idempotent, and must not return an error if the image has already been removed."
    public func removeImage(
        request: Runtime_V1_RemoveImageRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_RemoveImageResponse {
        let reference = request.image.image
        guard !reference.isEmpty else {
            throw SkiffError.invalidArgument("RemoveImage needs image.image (a tag, digest or ID)")
        }
        try await images.remove(reference)
        return Runtime_V1_RemoveImageResponse()
    }

    public func imageFsInfo(
        request: Runtime_V1_ImageFsInfoRequest,
        context: ServerContext
    ) async throws -> Runtime_V1_ImageFsInfoResponse {
        let usage = await images.usage()
        var filesystem = Runtime_V1_FilesystemUsage()
        filesystem.timestamp = Int64(Date().timeIntervalSince1970 * 1e9)
        filesystem.fsID.mountpoint = usage.mountpoint
        filesystem.usedBytes.value = UInt64(max(0, usage.bytes))
        filesystem.inodesUsed.value = UInt64(max(0, usage.inodes))
        var response = Runtime_V1_ImageFsInfoResponse()
        response.imageFilesystems = [filesystem]
        // Container writable layers live under the same root.
        response.containerFilesystems = [filesystem]
        return response
    }

    static func image(_ record: ImageRecord) -> Runtime_V1_Image {
        var image = Runtime_V1_Image()
        image.id = record.id.description
        image.repoTags = record.repoTags
        image.repoDigests = record.repoDigests
        image.size = UInt64(max(0, record.size))
        if let uid = record.uid { image.uid.value = uid }
        image.username = record.username
        image.spec.image = record.id.description
        image.spec.annotations = record.annotations
        image.pinned = record.pinned
        return image
    }

    private func verboseInfo(_ record: ImageRecord) async throws -> String {
        struct Info: Encodable {
            var id: String
            var manifestDigest: String
            var layers: [String]
            var chainIDs: [String]
            var config: ImageConfiguration?
        }
        let info = Info(
            id: record.id.description,
            manifestDigest: record.manifestDigest.description,
            layers: record.layers.map(\.digest.description),
            chainIDs: record.chainIDs.map(\.description),
            config: try await images.configuration(of: record)
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(info), as: UTF8.self)
    }
}
