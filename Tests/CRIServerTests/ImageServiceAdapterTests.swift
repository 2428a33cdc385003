import CRIAPI
import Foundation
import GRPCCore
import ImageCore
import SkiffCommon
import Testing

@testable import CRIServer

/// ImageService over a fake store: what reaches the store, and what the client gets back.
@Suite struct ImageServiceAdapterTests {
    actor FakeImages: ImageStore {
        private(set) var pulls: [(reference: String, credentials: RegistryCredentials?)] = []
        private(set) var removals: [String] = []
        var pullFailure: SkiffError?

        func failPulls(with error: SkiffError) { pullFailure = error }

        func list(matching reference: String?) async -> [ImageRecord] { [] }
        func image(_ reference: String) async -> ImageRecord? { nil }
        func configuration(of record: ImageRecord) async throws(SkiffError) -> ImageConfiguration? { nil }

        func pull(_ reference: String, credentials: RegistryCredentials?) async throws(SkiffError) -> ImageRecord {
            pulls.append((reference, credentials))
            throw pullFailure ?? SkiffError.unimplemented("the fake pulls nothing")
        }

        func remove(_ reference: String) async throws(SkiffError) { removals.append(reference) }
        func usage() async -> (bytes: Int64, inodes: Int64, mountpoint: String) { (-1, 3, "/var/lib/skiff") }
        func importArchive(at path: String) async throws(SkiffError) -> [ImageRecord] { [] }
    }

    static func context(_ method: String) -> ServerContext {
        ServerContext(
            descriptor: MethodDescriptor(fullyQualifiedService: "runtime.v1.ImageService", method: method),
            remotePeer: "test",
            localPeer: "test",
            cancellation: ServerContext.RPCCancellationHandle()
        )
    }

    @Test func theStatusOfAMissingImageIsAnEmptyAnswerNotAnError() async throws {
        var request = Runtime_V1_ImageStatusRequest()
        request.image.image = "docker.io/library/nothing:here"
        let response = try await ImageService(images: FakeImages()).imageStatus(
            request: request,
            context: Self.context("ImageStatus")
        )
        #expect(!response.hasImage)
    }

    @Test func pullHandsTheDecodedCredentialsToTheStoreAndItsErrorBack() async throws {
        let images = FakeImages()
        await images.failPulls(with: SkiffError(.permissionDenied, "registry.test refused the credentials"))
        var request = Runtime_V1_PullImageRequest()
        request.image.image = "registry.test/app:1"
        request.auth.auth = Data("user:secret".utf8).base64EncodedString()
        let service = ImageService(images: images)
        let error = await #expect(throws: SkiffError.self) {
            _ = try await service.pullImage(request: request, context: Self.context("PullImage"))
        }
        #expect(error?.code == .permissionDenied)
        let pulls = await images.pulls
        #expect(pulls.map(\.reference) == ["registry.test/app:1"])
        #expect(pulls.first?.credentials?.username == "user")
        #expect(pulls.first?.credentials?.password == "secret")
    }

    @Test func emptyReferencesAreRefusedBeforeTheStoreIsAsked() async throws {
        let images = FakeImages()
        let service = ImageService(images: images)
        let error = await #expect(throws: SkiffError.self) {
            _ = try await service.removeImage(request: .init(), context: Self.context("RemoveImage"))
        }
        #expect(error?.code == .invalidArgument)
        #expect(await images.removals.isEmpty)
    }

    @Test func filesystemUsageIsNeverNegative() async throws {
        let response = try await ImageService(images: FakeImages()).imageFsInfo(
            request: .init(),
            context: Self.context("ImageFsInfo")
        )
        #expect(response.imageFilesystems.first?.usedBytes.value == 0)
        #expect(response.imageFilesystems.first?.inodesUsed.value == 3)
        #expect(response.containerFilesystems.first?.fsID.mountpoint == "/var/lib/skiff")
    }
}
