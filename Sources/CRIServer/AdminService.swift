import GRPCCore
import ImageCore
import SkiffAdminAPI
import SkiffCommon

/// `skiff.admin.v1.ImageAdmin`: what `skiff image import` calls on the daemon's socket.
public struct AdminService: Skiff_Admin_V1_ImageAdmin.SimpleServiceProtocol {
    let images: any ImageStore

    public init(images: any ImageStore) {
        self.images = images
    }

    public func importImage(
        request: Skiff_Admin_V1_ImportImageRequest,
        context: ServerContext
    ) async throws -> Skiff_Admin_V1_ImportImageResponse {
        guard !request.path.isEmpty else { throw SkiffError.invalidArgument("ImportImage needs the archive's path") }
        let records = try await images.importArchive(at: request.path)
        var response = Skiff_Admin_V1_ImportImageResponse()
        response.images = records.map { record in
            var image = Skiff_Admin_V1_ImportedImage()
            image.id = record.id.description
            image.repoTags = record.repoTags
            return image
        }
        return response
    }
}
