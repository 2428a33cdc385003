import CRIAPI
import GRPCCore
import SkiffCommon

/// CRI `runtime.v1.ImageService`. Not served yet: every rpc answers UNIMPLEMENTED naming itself.
public struct ImageService: Runtime_V1_ImageService.SimpleServiceProtocol {
    private static let area = "images"

    public init() {}

    public func listImages(request: Runtime_V1_ListImagesRequest, context: ServerContext) async throws -> Runtime_V1_ListImagesResponse {
        throw SkiffError.notImplemented("ListImages", Self.area)
    }

    public func streamImages(request: Runtime_V1_StreamImagesRequest, response: RPCWriter<Runtime_V1_StreamImagesResponse>, context: ServerContext) async throws {
        throw SkiffError.notImplemented("StreamImages", Self.area)
    }

    public func imageStatus(request: Runtime_V1_ImageStatusRequest, context: ServerContext) async throws -> Runtime_V1_ImageStatusResponse {
        throw SkiffError.notImplemented("ImageStatus", Self.area)
    }

    public func pullImage(request: Runtime_V1_PullImageRequest, context: ServerContext) async throws -> Runtime_V1_PullImageResponse {
        throw SkiffError.notImplemented("PullImage", Self.area)
    }

    public func removeImage(request: Runtime_V1_RemoveImageRequest, context: ServerContext) async throws -> Runtime_V1_RemoveImageResponse {
        throw SkiffError.notImplemented("RemoveImage", Self.area)
    }

    public func imageFsInfo(request: Runtime_V1_ImageFsInfoRequest, context: ServerContext) async throws -> Runtime_V1_ImageFsInfoResponse {
        throw SkiffError.notImplemented("ImageFsInfo", Self.area)
    }
}
