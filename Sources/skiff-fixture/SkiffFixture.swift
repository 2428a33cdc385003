import ArgumentParser
import AsyncHTTPClient
import ImageCore
import ImageFixtures

/// Builds the project's test and benchmark images from Debian's busybox and pushes them to a
/// registry. Never used by the daemon.
@main
struct SkiffFixture: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skiff-fixture",
        abstract: "Build Skiff's fixture images and push them to a registry.",
        subcommands: [Standard.self, Web.self, Bench.self]
    )

    struct Target: ParsableArguments {
        @Option(help: "Registry base URL, e.g. http://127.0.0.1:5000.") var registry: String
        @Option(help: "Repository, e.g. skiff/busybox.") var repository: String
        @Option(help: "Tag.") var tag: String = "latest"
    }

    struct Standard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The three-layer busybox test image.")
        @OptionGroup var target: Target
        @Option(help: "busybox binary to put in the image.") var busybox: String = BusyboxImages.defaultBusybox
        @Option(help: "The image config's User (\"name\", \"uid\", \"name:group\", \"uid:gid\").") var user: String?
        @Option(help: "A line added to /etc/passwd (repeatable).") var passwdLine: [String] = []
        @Option(help: "A line added to /etc/group (repeatable).") var groupLine: [String] = []

        func run() async throws {
            let binary = try BusyboxImages.busyboxBinary(busybox)
            var layers = [
                BusyboxImages.baseLayer(busybox: binary), BusyboxImages.changesLayer(), BusyboxImages.appLayer(),
            ]
            if !passwdLine.isEmpty || !groupLine.isEmpty {
                layers.append(BusyboxImages.accountsLayer(passwd: passwdLine, group: groupLine))
            }
            let image = FixtureImage(layers: layers, config: BusyboxImages.standardConfig(user: user))
            try await push(image, to: target)
            print(image.configDigest)
        }
    }

    struct Web: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A busybox httpd image serving /www/index.html on a port (80 by default)."
        )
        @OptionGroup var target: Target
        @Option(help: "busybox binary to put in the image.") var busybox: String = BusyboxImages.defaultBusybox
        @Option(help: "Port httpd listens on.") var port: Int = 80

        func run() async throws {
            let image = BusyboxImages.webServer(busybox: try BusyboxImages.busyboxBinary(busybox), port: port)
            try await push(image, to: target)
            print(image.configDigest)
        }
    }

    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A large gzip image of incompressible files, for pull benchmarks; prints each layer's digest."
        )
        @OptionGroup var target: Target
        @Option(help: "Number of layers.") var layers: Int = 5
        @Option(help: "Total uncompressed size in MiB.") var mib: Int = 300

        func run() async throws {
            var generator = Xorshift(seed: 0x5EED)
            let perLayer = max(1, mib / max(1, layers))
            var built: [FixtureImage.Layer] = []
            for index in 0..<layers {
                var tar = TarBuilder()
                tar.directory("bench/layer\(index)")
                for file in 0..<perLayer {
                    tar.file("bench/layer\(index)/file\(file)", generator.bytes(1 << 20))
                }
                built.append(FixtureImage.Layer(tar: tar.finished()))
            }
            let image = FixtureImage(layers: built, config: .init(cmd: ["/bin/true"]))
            try await push(image, to: target)
            for layer in built { print(layer.descriptor.digest) }
        }
    }

    static func push(_ image: FixtureImage, to target: Target) async throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await RegistryPusher(baseURL: target.registry, client: client).push(
                image,
                repository: target.repository,
                tag: target.tag
            )
        } catch {
            // try?: the push's own error is the one to report; the client is dropped with the process.
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }
}

func push(_ image: FixtureImage, to target: SkiffFixture.Target) async throws {
    try await SkiffFixture.push(image, to: target)
}

/// Fast deterministic bytes that gzip cannot shrink.
struct Xorshift {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for index in words.indices { words[index] = next() }
        }
        return out
    }
}
