import ArgumentParser
import AsyncHTTPClient
import ImageCore
import ImageFixtures

extension BusyboxImages.AppletLinks: ExpressibleByArgument {}

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

    /// What the images are made of: the busybox binary, how its applets link, host files on top.
    struct Contents: ParsableArguments {
        @Option(help: "busybox binary to put in the image.") var busybox: String = BusyboxImages.defaultBusybox
        @Option(help: "How applets link to /bin/busybox: symbolic or hard (as in the real busybox images).")
        var appletLinks: BusyboxImages.AppletLinks = .symbolic
        @Option(help: "An applet link added to the default list (repeatable).") var applet: [String] = []
        @Option(
            help: """
                A host file added in a layer of its own, as SOURCE[:DESTINATION[:MODE]] (octal MODE, \
                e.g. 4755 for setuid root; repeatable). For a dynamic busybox's libraries, pgrep, ipcs.
                """
        )
        var hostFile: [String] = []

        func binary() throws -> [UInt8] { try BusyboxImages.busyboxBinary(busybox) }

        /// The host-file layer, or none without host files.
        func extraLayers() throws -> [FixtureImage.Layer] {
            guard !hostFile.isEmpty else { return [] }
            return [
                try BusyboxImages.hostFilesLayer(
                    try hostFile.map { spec throws(PushError) in try HostFile(parsing: spec) }
                )
            ]
        }
    }

    struct Standard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The three-layer busybox test image.")
        @OptionGroup var target: Target
        @OptionGroup var contents: Contents
        @Option(help: "The image config's User (\"name\", \"uid\", \"name:group\", \"uid:gid\").") var user: String?
        @Option(help: "A line added to /etc/passwd (repeatable).") var passwdLine: [String] = []
        @Option(help: "A line added to /etc/group (repeatable).") var groupLine: [String] = []
        @Option(help: "The image's Entrypoint, one argument per use (replaces the default Cmd /bin/sh).")
        var entrypoint: [String] = []

        func run() async throws {
            var layers = [
                BusyboxImages.baseLayer(
                    busybox: try contents.binary(),
                    links: contents.appletLinks,
                    extraApplets: contents.applet
                ),
                BusyboxImages.changesLayer(), BusyboxImages.appLayer(),
            ]
            if !passwdLine.isEmpty || !groupLine.isEmpty {
                layers.append(BusyboxImages.accountsLayer(passwd: passwdLine, group: groupLine))
            }
            layers += try contents.extraLayers()
            var config = BusyboxImages.standardConfig(user: user)
            if !entrypoint.isEmpty {
                config.entrypoint = entrypoint
                config.cmd = nil
            }
            let image = FixtureImage(layers: layers, config: config)
            try await push(image, to: target)
            print(image.configDigest)
        }
    }

    struct Web: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A busybox httpd image serving /www/index.html on a port (80 by default)."
        )
        @OptionGroup var target: Target
        @OptionGroup var contents: Contents
        @Option(help: "Port httpd listens on.") var port: Int = 80
        @Option(help: "A line printed to stdout before httpd starts.") var banner: String?
        @Flag(help: "Run httpd looking like nginx (pid in /var/run/nginx.pid, named nginx, \"master process\").")
        var nginx = false

        func run() async throws {
            let options = BusyboxImages.WebServerOptions(
                port: port,
                banner: banner,
                nginx: nginx,
                links: contents.appletLinks,
                extraApplets: contents.applet,
                extraLayers: try contents.extraLayers()
            )
            let image = BusyboxImages.webServer(busybox: try contents.binary(), options: options)
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
