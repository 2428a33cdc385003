import CRIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import ImageCore
import ImageFixtures
import SkiffAdminAPI
import Testing

/// `skiff image import`'s rpc: OCI layouts and docker save archives, for air-gapped nodes.
@Suite(.serialized) struct ImageImportTests {
    static func importArchive(_ daemon: DaemonHarness, _ path: String) async throws -> [Skiff_Admin_V1_ImportedImage] {
        try await withGRPCClient(
            transport: try .http2NIOPosix(
                target: .unixDomainSocket(path: daemon.socketPath),
                transportSecurity: .plaintext
            )
        ) { client in
            var request = Skiff_Admin_V1_ImportImageRequest()
            request.path = path
            return try await Skiff_Admin_V1_ImageAdmin.Client(wrapping: client).importImage(request).images
        }
    }

    static func dockerSave(_ layers: [FixtureImage.Layer], image: FixtureImage, tag: String) -> [UInt8] {
        var tar = TarBuilder()
        let config = image.blobs[image.configDigest]!
        tar.file("\(image.configDigest.hex).json", config)
        var paths: [String] = []
        for (index, layer) in layers.enumerated() {
            tar.directory("layer\(index)")
            tar.file("layer\(index)/layer.tar", layer.tar)
            paths.append("\"layer\(index)/layer.tar\"")
        }
        tar.file(
            "manifest.json",
            #"[{"Config":"\#(image.configDigest.hex).json","RepoTags":["\#(tag)"],"Layers":[\#(paths.joined(separator: ","))]}]"#
        )
        return tar.finished()
    }

    @Test func importsAnOCILayoutAndADockerSaveArchive() async throws {
        let busybox = ImagePullTests.busybox
        let oci = BusyboxImages.standard(busybox: busybox, message: "oci\n")
        let layers = [BusyboxImages.baseLayer(busybox: busybox), BusyboxImages.appLayer("docker\n")]
        let docker = FixtureImage(layers: layers, config: .init(user: "app", cmd: ["/bin/sh"]))
        try await withDaemon { daemon in
            let ociPath = daemon.directory + "/oci.tar.gz"
            try Data(Gzip.compress(oci.ociLayoutArchive(name: "example.com/airgap/app:1.0"))).write(
                to: URL(fileURLWithPath: ociPath)
            )
            let dockerPath = daemon.directory + "/docker.tar"
            try Data(Self.dockerSave(layers, image: docker, tag: "airgap/tool:2")).write(
                to: URL(fileURLWithPath: dockerPath)
            )

            let first = try await Self.importArchive(daemon, ociPath)
            #expect(first.map(\.id) == [oci.configDigest.description])
            #expect(first.first?.repoTags == ["example.com/airgap/app:1.0"])
            let second = try await Self.importArchive(daemon, dockerPath)
            #expect(second.map(\.id) == [docker.configDigest.description])
            #expect(second.first?.repoTags == ["docker.io/airgap/tool:2"])

            let listed = try await ImagePullTests.list(daemon)
            #expect(Set(listed.map(\.id)) == [oci.configDigest.description, docker.configDigest.description])
            #expect(listed.first { $0.id == docker.configDigest.description }?.username == "app")
            // Imported images behave like pulled ones: status by tag, unpacked snapshots, removal.
            #expect(
                try await ImagePullTests.status(daemon, "airgap/tool:2").image.id == docker.configDigest.description
            )
            // 3 layers + 2 layers, the base layer shared: 4 snapshots.
            #expect(try FileManager.default.contentsOfDirectory(atPath: daemon.rootDir + "/snapshots").count == 4)
            #expect(
                !(try FileManager.default.contentsOfDirectory(atPath: daemon.rootDir).contains {
                    $0.hasPrefix("import-")
                }),
                "staging removed"
            )
            try await ImagePullTests.remove(daemon, "example.com/airgap/app:1.0")
            #expect(try await ImagePullTests.list(daemon).count == 1)
        }
    }

    @Test func hostileOrMissingArchivesAreRefused() async throws {
        try await withDaemon { daemon in
            let missing = await #expect(throws: RPCError.self) {
                try await Self.importArchive(daemon, daemon.directory + "/nope.tar")
            }
            #expect(missing?.code == .notFound)

            let escape = daemon.directory + "/escape.tar"
            var tar = TarBuilder()
            tar.file("../../escaped-by-import", "x")
            try Data(tar.finished()).write(to: URL(fileURLWithPath: escape))
            let refused = await #expect(throws: RPCError.self) { try await Self.importArchive(daemon, escape) }
            #expect(refused?.code == .invalidArgument)
            #expect(refused?.message.contains("path traversal") == true)
            #expect(!FileManager.default.fileExists(atPath: daemon.rootDir + "/../escaped-by-import"))

            let neither = daemon.directory + "/neither.tar"
            var plain = TarBuilder()
            plain.file("hello.txt", "hi")
            try Data(plain.finished()).write(to: URL(fileURLWithPath: neither))
            let unknown = await #expect(throws: RPCError.self) { try await Self.importArchive(daemon, neither) }
            #expect(unknown?.code == .invalidArgument)

            // A docker save whose layer does not match the config's diff ID.
            let layers = [BusyboxImages.appLayer("a\n")]
            let lying = FixtureImage(
                layers: layers,
                config: .init(cmd: ["/bin/sh"]),
                diffIDs: [Digest.of(Array("other".utf8))]
            )
            let lyingPath = daemon.directory + "/lying.tar"
            try Data(Self.dockerSave(layers, image: lying, tag: "lying/image:1")).write(
                to: URL(fileURLWithPath: lyingPath)
            )
            let mismatch = await #expect(throws: RPCError.self) { try await Self.importArchive(daemon, lyingPath) }
            #expect(mismatch?.message.contains("diff ID") == true)
            #expect(try await ImagePullTests.list(daemon).isEmpty)
            #expect(
                !(try FileManager.default.contentsOfDirectory(atPath: daemon.rootDir).contains {
                    $0.hasPrefix("import-")
                })
            )
        }
    }
}
