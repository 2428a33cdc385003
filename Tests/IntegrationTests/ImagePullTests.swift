import CLinuxShim
import CRIAPI
import Foundation
import GRPCCore
import ImageCore
import ImageFixtures
import LinuxSys
import Testing

/// Pulls from Debian's docker-registry on 127.0.0.1 through a real skiffd.
@Suite(.serialized) struct ImagePullTests {
    // Empty when busybox-static is missing: the images then fail to run, visibly, instead of a trap.
    static let busybox = (try? BusyboxImages.busyboxBinary()) ?? []

    static func pull(
        _ daemon: DaemonHarness,
        _ image: String,
        auth: Runtime_V1_AuthConfig? = nil
    ) async throws -> String {
        var request = Runtime_V1_PullImageRequest()
        request.image.image = image
        if let auth { request.auth = auth }
        return try await daemon.images { try await $0.pullImage(request) }.imageRef
    }

    static func status(
        _ daemon: DaemonHarness,
        _ image: String,
        verbose: Bool = false
    ) async throws -> Runtime_V1_ImageStatusResponse {
        var request = Runtime_V1_ImageStatusRequest()
        request.image.image = image
        request.verbose = verbose
        return try await daemon.images { try await $0.imageStatus(request) }
    }

    static func list(_ daemon: DaemonHarness) async throws -> [Runtime_V1_Image] {
        try await daemon.images { try await $0.listImages(.init()) }.images
    }

    static func remove(_ daemon: DaemonHarness, _ image: String) async throws {
        var request = Runtime_V1_RemoveImageRequest()
        request.image.image = image
        _ = try await daemon.images { try await $0.removeImage(request) }
    }

    static func withRegistry(
        tls: Bool = false,
        credentials: (String, String)? = nil,
        _ body: (TestRegistry) async throws -> Void
    ) async throws {
        let registry = try await TestRegistry.start(tls: tls, credentials: credentials)
        defer { registry.stop() }
        try await body(registry)
    }

    @Test func pullInspectRestartAndRemoveAMultiLayerImage() async throws {
        try await Self.withRegistry { registry in
            let image = BusyboxImages.standard(busybox: Self.busybox, user: "1000")
            try await registry.withPusher { try await $0.push(image, repository: "skiff/busybox", tag: "1.0") }
            try await withDaemon { daemon in
                let reference = "\(registry.host)/skiff/busybox:1.0"
                let id = try await Self.pull(daemon, reference)
                #expect(id == image.configDigest.description)

                let images = try await Self.list(daemon)
                #expect(images.count == 1)
                let listed = try #require(images.first)
                #expect(listed.repoTags == [reference])
                #expect(listed.repoDigests == ["\(registry.host)/skiff/busybox@\(image.manifestDigest)"])
                #expect(listed.size == UInt64(image.blobs.values.reduce(0) { $0 + $1.count }))
                #expect(listed.uid.value == 1000)

                // ImageStatus by tag, by ID, by short ID, by repo digest; verbose info has the config.
                for name in [reference, id, String(id.dropFirst(7).prefix(12)), listed.repoDigests[0]] {
                    #expect(try await Self.status(daemon, name).image.id == id, "ImageStatus(\(name))")
                }
                let streamed = try await daemon.images { client in
                    try await client.streamImages(.init()) { response in
                        var all: [Runtime_V1_Image] = []
                        for try await chunk in response.messages { all += chunk.images }
                        return all
                    }
                }
                #expect(streamed == images)
                let verbose = try await Self.status(daemon, reference, verbose: true)
                #expect(verbose.info["info"]?.contains("FIXTURE=1") == true)
                #expect(try await Self.status(daemon, "\(registry.host)/skiff/absent:1").hasImage == false)

                try checkSnapshots(daemon, image: image)
                try checkOverlay(daemon, image: image)

                // A restart lists exactly the same images.
                try await daemon.stop()
                try await daemon.start()
                #expect(try await Self.list(daemon) == images)

                try await Self.remove(daemon, reference)
                #expect(try await Self.list(daemon).isEmpty)
                try await Self.remove(daemon, reference)  // idempotent
                #expect(
                    try FileManager.default.contentsOfDirectory(atPath: daemon.rootDir + "/content/blobs/sha256")
                        .isEmpty
                )
                #expect(try FileManager.default.contentsOfDirectory(atPath: daemon.rootDir + "/snapshots").isEmpty)
            }
        }
    }

    /// The unpacked layers keep what the tar says: modes, owners, links, whiteouts, xattrs.
    func checkSnapshots(_ daemon: DaemonHarness, image: FixtureImage) throws {
        let manifest = try JSONDecoder().decode(ImageManifest.self, from: Data(image.manifest))
        let configuration = try JSONDecoder().decode(
            ImageConfiguration.self,
            from: Data(image.blobs[image.configDigest]!)
        )
        let chain = Digest.chainIDs(of: configuration.rootfs.diffIDs)
        #expect(chain.count == manifest.layers.count)
        let base = daemon.rootDir + "/snapshots/\(chain[0].hex)/fs"
        let changes = daemon.rootDir + "/snapshots/\(chain[1].hex)/fs"
        let files = FileManager.default
        #expect(files.isExecutableFile(atPath: base + "/bin/busybox"))
        #expect(try files.destinationOfSymbolicLink(atPath: base + "/bin/sh") == "busybox")
        let home = try files.attributesOfItem(atPath: base + "/home/app")
        #expect(home[.ownerAccountID] as? Int == 1000)
        #expect(home[.posixPermissions] as? Int == 0o750)
        let tmp = try files.attributesOfItem(atPath: base + "/tmp")
        #expect(tmp[.posixPermissions] as? Int == 0o1777)

        var info = stat()
        #expect(lstat(changes + "/data/removed-later", &info) == 0)
        #expect(info.st_mode & S_IFMT == S_IFCHR && info.st_rdev == 0, "a whiteout is a 0:0 character device")
        var opaque = [UInt8](repeating: 0, count: 4)
        #expect(
            getxattr(changes + "/data/replaced", "trusted.overlay.opaque", &opaque, 4) == 1
                && opaque[0] == UInt8(ascii: "y")
        )
        var first = stat()
        var second = stat()
        #expect(stat(changes + "/data/hello.txt", &first) == 0 && stat(changes + "/data/hello-link.txt", &second) == 0)
        #expect(first.st_ino == second.st_ino, "hard links share an inode")
        #expect(first.st_uid == 1000 && first.st_mode & 0o7777 == 0o640)
        #expect(first.st_mtim.tv_sec == 1_700_000_000)
        var setuid = stat()
        #expect(stat(changes + "/data/setuid", &setuid) == 0 && setuid.st_mode & 0o7777 == 0o4755)
        var value = [UInt8](repeating: 0, count: 16)
        #expect(getxattr(changes + "/data/with-xattr", "user.skiff", &value, 16) == 4)
        var fifo = stat()
        #expect(lstat(changes + "/data/pipe", &fifo) == 0 && fifo.st_mode & S_IFMT == S_IFIFO)
        var directory = stat()
        #expect(
            stat(base + "/data", &directory) == 0 && directory.st_mtim.tv_sec == 1_700_000_000,
            "directory times set after their children"
        )
    }

    /// The snapshots stacked with overlayfs, as a container's root will be: whiteouts hide lower
    /// files, the opaque directory hides the lower directory's content.
    func checkOverlay(_ daemon: DaemonHarness, image: FixtureImage) throws {
        let configuration = try JSONDecoder().decode(
            ImageConfiguration.self,
            from: Data(image.blobs[image.configDigest]!)
        )
        let lower = Digest.chainIDs(of: configuration.rootfs.diffIDs).reversed().map {
            daemon.rootDir + "/snapshots/\($0.hex)/fs"
        }
        let scratch = daemon.directory + "/overlay"
        for sub in ["upper", "work", "merged"] {
            try FileManager.default.createDirectory(atPath: "\(scratch)/\(sub)", withIntermediateDirectories: true)
        }
        try OverlayMount.mount(
            lowerDirectories: lower,
            upper: scratch + "/upper",
            work: scratch + "/work",
            target: scratch + "/merged"
        )
        defer { try? FileSystem.unmount(scratch + "/merged") }
        let merged = scratch + "/merged"
        let files = FileManager.default
        #expect(files.isExecutableFile(atPath: merged + "/bin/busybox"))
        #expect(!files.fileExists(atPath: merged + "/data/removed-later"), "the whiteout hides the base layer's file")
        #expect(
            !files.fileExists(atPath: merged + "/data/replaced/old"),
            "the opaque directory hides the lower content"
        )
        #expect(try String(contentsOfFile: merged + "/data/replaced/new", encoding: .utf8) == "new\n")
        #expect(try String(contentsOfFile: merged + "/app/message", encoding: .utf8) == "skiff fixture\n")
        #expect(try String(contentsOfFile: merged + "/etc/passwd", encoding: .utf8).contains("app:x:1000"))
        try "written".write(toFile: merged + "/tmp/new-file", atomically: false, encoding: .utf8)
        #expect(
            files.fileExists(atPath: scratch + "/upper/tmp/new-file"),
            "writes land in the upper directory, not the snapshots"
        )
        try FileSystem.unmount(merged)
    }

    @Test func indexPicksThisPlatformAndPullByDigestWorks() async throws {
        try await Self.withRegistry { registry in
            let amd64 = BusyboxImages.standard(busybox: Self.busybox, architecture: "amd64", message: "amd64\n")
            let arm64 = BusyboxImages.standard(busybox: Self.busybox, architecture: "arm64", message: "arm64\n")
            let index = FixtureIndex([
                (Platform(architecture: "arm64", os: "linux", variant: "v8"), arm64),
                (Platform(architecture: "amd64", os: "linux"), amd64),
            ])
            try await registry.withPusher { try await $0.push(index, repository: "multi/busybox", tag: "latest") }
            try await withDaemon { daemon in
                let id = try await Self.pull(daemon, "\(registry.host)/multi/busybox")
                #expect(id == amd64.configDigest.description)
                let image = try #require(try await Self.list(daemon).first)
                #expect(image.repoTags == ["\(registry.host)/multi/busybox:latest"])
                #expect(image.repoDigests == ["\(registry.host)/multi/busybox@\(index.digest)"])

                let byDigest = try await Self.pull(daemon, "\(registry.host)/multi/busybox@\(amd64.manifestDigest)")
                #expect(byDigest == id)
                let digests = try #require(try await Self.list(daemon).first).repoDigests
                #expect(digests.contains("\(registry.host)/multi/busybox@\(amd64.manifestDigest)"))

                let unknown = await #expect(throws: RPCError.self) {
                    try await Self.pull(
                        daemon,
                        "\(registry.host)/multi/busybox@sha256:\(String(repeating: "a", count: 64))"
                    )
                }
                #expect(unknown?.code == .notFound)
            }
        }
    }

    @Test func repullingATagMovesItAndConcurrentPullsShareLayers() async throws {
        try await Self.withRegistry { registry in
            let first = BusyboxImages.standard(busybox: Self.busybox, message: "first\n")
            let second = BusyboxImages.standard(busybox: Self.busybox, message: "second\n")
            try await registry.withPusher { try await $0.push(first, repository: "app/web", tag: "stable") }
            try await withDaemon { daemon in
                let reference = "\(registry.host)/app/web:stable"
                // Two pulls at once: both succeed, each layer unpacked once.
                async let one = Self.pull(daemon, reference)
                async let two = Self.pull(daemon, reference)
                #expect(try await one == first.configDigest.description)
                #expect(try await two == first.configDigest.description)

                try await registry.withPusher { try await $0.push(second, repository: "app/web", tag: "stable") }
                #expect(try await Self.pull(daemon, reference) == second.configDigest.description)
                let images = try await Self.list(daemon)
                #expect(images.count == 2)
                #expect(images.first { $0.id == second.configDigest.description }?.repoTags == [reference])
                #expect(images.first { $0.id == first.configDigest.description }?.repoTags == [], "the tag moved")
                // The two images share their first two layers: 3 + 1 snapshots, not 6.
                let snapshots = try FileManager.default.contentsOfDirectory(atPath: daemon.rootDir + "/snapshots")
                #expect(snapshots.count == 4)

                try await Self.remove(daemon, first.configDigest.description)
                #expect(
                    try FileManager.default.contentsOfDirectory(atPath: daemon.rootDir + "/snapshots").count == 3,
                    "shared snapshots stay while another image uses them"
                )
            }
        }
    }

    @Test func badReferencesAndMissingImagesGetClearStatuses() async throws {
        try await Self.withRegistry { registry in
            try await withDaemon { daemon in
                let malformed = await #expect(throws: RPCError.self) { try await Self.pull(daemon, "BusyBox:latest") }
                #expect(malformed?.code == .invalidArgument)
                #expect(malformed?.message.contains("BusyBox:latest") == true)

                let missing = await #expect(throws: RPCError.self) {
                    try await Self.pull(daemon, "\(registry.host)/nobody/here:1")
                }
                #expect(missing?.code == .notFound)

                let unreachable = await #expect(throws: RPCError.self) {
                    try await Self.pull(daemon, "127.0.0.1:1/nothing:1")
                }
                #expect(unreachable?.code == .unavailable)

                let empty = await #expect(throws: RPCError.self) { try await Self.pull(daemon, "") }
                #expect(empty?.code == .invalidArgument)
            }
        }
    }

    @Test func tlsAndBasicAuthRegistry() async throws {
        try await Self.withRegistry(tls: true, credentials: ("skiff", "s3cret")) { registry in
            let image = BusyboxImages.standard(busybox: Self.busybox)
            try await registry.withPusher { try await $0.push(image, repository: "private/app", tag: "v1") }
            let config = "[images.registries.\"\(registry.host)\"]\nca_file = \"\(registry.caFile)\"\n"
            try await withDaemon(extraConfig: config) { daemon in
                let reference = "\(registry.host)/private/app:v1"
                let anonymous = await #expect(throws: RPCError.self) { try await Self.pull(daemon, reference) }
                #expect(anonymous?.code == .permissionDenied, "\(String(describing: anonymous))")

                var wrong = Runtime_V1_AuthConfig()
                wrong.username = "skiff"
                wrong.password = "wrong"
                let refused = await #expect(throws: RPCError.self) {
                    try await Self.pull(daemon, reference, auth: wrong)
                }
                #expect(refused?.code == .permissionDenied)

                var encoded = Runtime_V1_AuthConfig()
                encoded.auth = Data("skiff:s3cret".utf8).base64EncodedString()
                let pulled = try await Self.pull(daemon, reference, auth: encoded)
                #expect(pulled == image.configDigest.description)
            }
            // Without the CA, TLS verification fails: no silent downgrade.
            try await withDaemon { daemon in
                let untrusted = await #expect(throws: RPCError.self) {
                    try await Self.pull(daemon, "\(registry.host)/private/app:v1")
                }
                #expect(untrusted?.code == .unavailable)
            }
        }
    }

    @Test func bearerTokensAreFetchedWithCredentialsAndCached() async throws {
        let registry = try await TestRegistry.start(tokenAuth: ("robot", "t0ken"))
        defer { registry.stop() }
        let image = BusyboxImages.standard(busybox: Self.busybox)
        try await registry.withPusher { pusher in
            try await pusher.withBearerToken(credentials: ("robot", "t0ken"), scope: "repository:secure/app:pull,push")
            { authorized in
                try await authorized.push(image, repository: "secure/app", tag: "v1")
            }
        }
        try await withDaemon { daemon in
            let reference = "\(registry.host)/secure/app:v1"
            let anonymous = await #expect(throws: RPCError.self) { try await Self.pull(daemon, reference) }
            #expect(anonymous?.code == .permissionDenied, "\(String(describing: anonymous))")

            var auth = Runtime_V1_AuthConfig()
            auth.username = "robot"
            auth.password = "t0ken"
            let before = registry.tokenRequests.count
            let pulled = try await Self.pull(daemon, reference, auth: auth)
            #expect(pulled == image.configDigest.description)
            let afterFirst = registry.tokenRequests.count
            #expect(afterFirst > before)
            #expect(
                registry.tokenRequests.last?.contains("scope=repository%3Asecure%2Fapp%3Apull") == true,
                "\(registry.tokenRequests)"
            )
            _ = try await Self.pull(daemon, reference, auth: auth)
            #expect(registry.tokenRequests.count == afterFirst, "the token is cached")
        }
    }

    @Test func mirrorsAreTriedBeforeTheRegistry() async throws {
        try await Self.withRegistry { mirror in
            let image = BusyboxImages.standard(busybox: Self.busybox)
            try await mirror.withPusher { try await $0.push(image, repository: "library/tool", tag: "2") }
            // Nothing listens on 127.0.0.1:1: the image can only come from the mirror.
            let config = "[images.registries.\"127.0.0.1:1\"]\nmirrors = [\"http://\(mirror.host)\"]\n"
            try await withDaemon(extraConfig: config) { daemon in
                let pulled = try await Self.pull(daemon, "127.0.0.1:1/library/tool:2")
                #expect(pulled == image.configDigest.description)
                let failed = await #expect(throws: RPCError.self) {
                    try await Self.pull(daemon, "127.0.0.1:1/library/absent:1")
                }
                #expect(failed?.message.contains("mirror \(mirror.host)") == true, "\(String(describing: failed))")
                #expect(failed?.message.contains("127.0.0.1:1: cannot reach") == true)
            }
        }
    }
}
