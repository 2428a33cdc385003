import Foundation
import ImageFixtures
import SkiffCommon
import Testing

@testable import ImageCore

@Suite struct LayerUnpackerTests {
    static func withDirectory(_ body: (String) throws -> Void) throws {
        let directory = NSTemporaryDirectory() + "skiff-unpack-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/fs", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }

    /// Unpacks `bytes` fed in chunks of `chunk` bytes; returns the diff ID.
    static func unpack(_ bytes: [UInt8], into directory: String, chunk: Int = 4096) throws(SkiffError) -> Digest {
        let unpacker = try LayerUnpacker(name: "test", destination: directory + "/fs")
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            try withBytes(Array(bytes[offset..<end])) { (raw) throws(SkiffError) in try unpacker.feed(raw) }
            offset = end
        }
        return try unpacker.finish()
    }

    static func sampleTar() -> [UInt8] {
        var tar = TarBuilder()
        tar.directory("a/b")
        tar.file("a/b/file.txt", "content\n", mode: 0o600, uid: 7, gid: 8)
        tar.file("a/" + String(repeating: "long-name-", count: 15) + "end", "pax path\n")
        tar.symlink("a/link", to: "/absolute/target")
        tar.hardLink("a/hard", to: "a/b/file.txt")
        tar.device("a/null", major: 1, minor: 3)
        return tar.finished()
    }

    @Test(arguments: ["none", "gzip", "zstd"])
    func unpacksEveryCompressionInAnyChunking(compression: String) throws {
        let tar = Self.sampleTar()
        let bytes =
            switch compression {
            case "gzip": Gzip.compress(tar)
            case "zstd": Zstd.compress(tar)
            default: tar
            }
        for chunk in [1, 511, 65536] {
            try Self.withDirectory { directory in
                let diffID = try Self.unpack(bytes, into: directory, chunk: chunk)
                #expect(diffID == Digest.of(tar), "the diff ID is the digest of the uncompressed tar")
                let root = directory + "/fs"
                #expect(try String(contentsOfFile: root + "/a/b/file.txt", encoding: .utf8) == "content\n")
                let attributes = try FileManager.default.attributesOfItem(atPath: root + "/a/b/file.txt")
                #expect(attributes[.posixPermissions] as? Int == 0o600)
                #expect(attributes[.ownerAccountID] as? Int == 7)
                #expect(attributes[.groupOwnerAccountID] as? Int == 8)
                #expect(
                    try String(
                        contentsOfFile: root + "/a/" + String(repeating: "long-name-", count: 15) + "end",
                        encoding: .utf8
                    ) == "pax path\n"
                )
                #expect(
                    try FileManager.default.destinationOfSymbolicLink(atPath: root + "/a/link") == "/absolute/target"
                )
                var device = stat()
                #expect(lstat(root + "/a/null", &device) == 0 && device.st_mode & S_IFMT == S_IFCHR)
            }
        }
    }

    @Test(arguments: [
        ("../escape", "path traversal"),
        ("a/../../escape", "path traversal"),
    ])
    func refusesTraversal(path: String, mention: String) throws {
        var tar = TarBuilder()
        tar.file(path, "x")
        try Self.withDirectory { directory in
            #expect {
                try Self.unpack(tar.finished(), into: directory)
            } throws: { error in
                (error as? SkiffError)?.message.contains(mention) == true
            }
        }
    }

    @Test func refusesWritingThroughASymlinkOfTheSameLayer() throws {
        try Self.withDirectory { directory in
            var tar = TarBuilder()
            tar.symlink("out", to: directory)
            tar.file("out/planted", "x")
            #expect(throws: SkiffError.self) { try Self.unpack(tar.finished(), into: directory) }
            #expect(!FileManager.default.fileExists(atPath: directory + "/planted"))
        }
    }

    @Test func laterEntriesReplaceEarlierOnesAndAbsolutePathsStayInside() throws {
        try Self.withDirectory { directory in
            var tar = TarBuilder()
            tar.file("/etc/conf", "first")
            tar.file("etc/conf", "second")
            tar.directory("d")
            tar.file("d/x", "x")
            tar.file("d", "now a file")
            _ = try Self.unpack(tar.finished(), into: directory)
            #expect(try String(contentsOfFile: directory + "/fs/etc/conf", encoding: .utf8) == "second")
            #expect(try String(contentsOfFile: directory + "/fs/d", encoding: .utf8) == "now a file")
        }
    }

    @Test func truncatedAndCorruptStreamsFail() throws {
        let tar = Self.sampleTar()
        let gzip = Gzip.compress(tar)
        try Self.withDirectory { directory in
            #expect(throws: SkiffError.self) { try Self.unpack(Array(gzip.prefix(gzip.count / 2)), into: directory) }
        }
        try Self.withDirectory { directory in
            #expect(throws: SkiffError.self) { try Self.unpack(Array(tar.prefix(700)), into: directory) }
        }
        try Self.withDirectory { directory in
            var corrupt = tar
            corrupt[148] = UInt8(ascii: "7")  // checksum
            #expect(throws: SkiffError.self) { try Self.unpack(corrupt, into: directory) }
        }
    }
}

@Suite struct RegistryPiecesTests {
    @Test func parsesBearerAndBasicChallenges() {
        let bearer = AuthChallenge(
            header:
                #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#
        )
        #expect(bearer?.scheme == "bearer")
        #expect(bearer?.realm == "https://auth.docker.io/token")
        #expect(bearer?.parameters["service"] == "registry.docker.io")
        #expect(bearer?.parameters["scope"] == "repository:library/busybox:pull,push")
        let basic = AuthChallenge(header: #"Basic realm="skiff-test""#)
        #expect(basic?.scheme == "basic")
        #expect(AuthChallenge(header: "") == nil)
    }

    @Test func credentialsDecodeTheAuthField() throws {
        let credentials = try RegistryCredentials(
            username: "",
            password: "",
            auth: "dXNlcjpwYTpzcw==",
            identityToken: "",
            registryToken: ""
        )
        #expect(credentials.username == "user")
        #expect(credentials.password == "pa:ss")
        #expect(credentials.basicAuthorization == "Basic dXNlcjpwYTpzcw==")
        #expect(throws: SkiffError.self) {
            try RegistryCredentials(
                username: "",
                password: "",
                auth: "bm9jb2xvbg==",
                identityToken: "",
                registryToken: ""
            )
        }
    }

    @Test func endpointsPutMirrorsFirstAndUsePlainHTTPOnlyWhereAllowed() {
        let settings = RegistrySettings(registries: [
            "docker.io": .init(mirrors: ["mirror.example.com", "http://10.0.0.1:5000/prefix/"]),
            "localhost:5000": .init(caFile: "/etc/ca.pem"),
            "lab.example": .init(insecure: true),
        ])
        let docker = RegistryEndpoint.endpoints(for: "docker.io", settings: settings)
        #expect(
            docker.map(\.baseURL) == [
                "https://mirror.example.com", "http://10.0.0.1:5000/prefix", "https://registry-1.docker.io",
            ]
        )
        #expect(
            RegistryEndpoint.endpoints(for: "127.0.0.1:5000", settings: settings).map(\.baseURL) == [
                "http://127.0.0.1:5000"
            ]
        )
        #expect(
            RegistryEndpoint.endpoints(for: "localhost:5000", settings: settings).map(\.baseURL) == [
                "https://localhost:5000"
            ]
        )
        #expect(
            RegistryEndpoint.endpoints(for: "lab.example", settings: settings).map(\.baseURL) == ["http://lab.example"]
        )
        #expect(RegistryEndpoint.endpoints(for: "quay.io", settings: settings).map(\.baseURL) == ["https://quay.io"])
    }

    @Test func platformSelectionFollowsVariantRules() {
        func descriptor(_ architecture: String, _ variant: String?, _ fill: Character) -> Descriptor {
            Descriptor(
                mediaType: MediaType.ociManifest,
                digest: try! Digest(parsing: "sha256:" + String(repeating: fill, count: 64)),
                size: 1,
                platform: Platform(architecture: architecture, os: "linux", variant: variant)
            )
        }
        let manifests = [
            descriptor("arm", "v6", "1"), descriptor("arm", "v7", "2"), descriptor("arm64", nil, "3"),
            descriptor("amd64", nil, "4"),
        ]
        #expect(
            PlatformMatcher(platform: .init(architecture: "amd64", os: "linux")).select(from: manifests)?.digest.hex
                .first == "4"
        )
        #expect(
            PlatformMatcher(platform: .init(architecture: "arm64", os: "linux", variant: "v8")).select(from: manifests)?
                .digest.hex.first == "3"
        )
        #expect(
            PlatformMatcher(platform: .init(architecture: "arm", os: "linux", variant: "v7")).select(from: manifests)?
                .digest.hex.first == "2"
        )
        #expect(
            PlatformMatcher(platform: .init(architecture: "arm", os: "linux", variant: "v6")).select(from: manifests)?
                .digest.hex.first == "1"
        )
        #expect(PlatformMatcher(platform: .init(architecture: "s390x", os: "linux")).select(from: manifests) == nil)
    }

    @Test func chainIDsFollowTheImageSpec() throws {
        let a = Digest.of(Array("a".utf8))
        let b = Digest.of(Array("b".utf8))
        let chain = Digest.chainIDs(of: [a, b])
        #expect(chain[0] == a)
        #expect(chain[1] == Digest.of(Array("\(a) \(b)".utf8)))
        #expect(throws: SkiffError.self) { try Digest(parsing: "sha256:ABC") }
    }
}
