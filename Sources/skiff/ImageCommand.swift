import ArgumentParser
import CRIAPI
import DaemonConfig
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import SkiffAdminAPI

#if canImport(Glibc)
import Glibc
#endif

/// `skiff image …`: the running daemon's images, over its CRI socket.
struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "List, pull and remove images of the running skiffd.",
        subcommands: [List.self, Pull.self, Remove.self, Import.self]
    )

    struct Connection: ParsableArguments {
        @Option(name: .long, help: "CRI socket (default: grpc.socket from the configuration).")
        var socket: String?

        @OptionGroup var file: ConfigFileOption

        func withAdmin<Result: Sendable>(
            _ body: (Skiff_Admin_V1_ImageAdmin.Client<HTTP2ClientTransport.Posix>) async throws -> Result
        ) async throws -> Result {
            try await withClient { try await body(Skiff_Admin_V1_ImageAdmin.Client(wrapping: $0)) }
        }

        func withImages<Result: Sendable>(
            _ body: (Runtime_V1_ImageService.Client<HTTP2ClientTransport.Posix>) async throws -> Result
        ) async throws -> Result {
            try await withClient { try await body(Runtime_V1_ImageService.Client(wrapping: $0)) }
        }

        private func withClient<Result: Sendable>(
            _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Result
        ) async throws -> Result {
            let path = try socket ?? file.load().grpc.socketPath
            return try await withGRPCClient(
                transport: try .http2NIOPosix(target: .unixDomainSocket(path: path), transportSecurity: .plaintext),
                handleClient: body
            )
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List images: tags, ID, size.")
        @OptionGroup var connection: Connection

        func run() async throws {
            let images = try await connection.withImages { try await $0.listImages(.init()).images }
            print("IMAGE".padding(60) + "ID".padding(15) + "SIZE")
            for image in images {
                let names = image.repoTags.isEmpty ? ["<none>"] : image.repoTags
                for name in names {
                    print(
                        name.padding(60) + String(image.id.dropFirst(7).prefix(13)).padding(15) + Self.size(image.size)
                    )
                }
            }
        }

        static func size(_ bytes: UInt64) -> String {
            let mib = Double(bytes) / 1_048_576
            return mib >= 1 ? "\((mib * 10).rounded() / 10) MiB" : "\((Double(bytes) / 1024 * 10).rounded() / 10) KiB"
        }
    }

    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pull an image through the daemon (as the kubelet would)."
        )
        @OptionGroup var connection: Connection
        @Argument(help: "Image reference, e.g. busybox or localhost:5000/app:v1.") var reference: String
        @Option(name: .long, help: "Registry user name.") var username: String?
        @Option(name: .long, help: "Registry password.") var password: String?

        func run() async throws {
            var request = Runtime_V1_PullImageRequest()
            request.image.image = reference
            if let username { request.auth.username = username }
            if let password { request.auth.password = password }
            let started = ContinuousClock.now
            let id = try await connection.withImages { try await $0.pullImage(request).imageRef }
            let elapsed = ContinuousClock.now - started
            print("\(id)  (\(elapsed.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow))))")
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import an OCI image layout tar or a docker save archive (for nodes without registry access)."
        )
        @OptionGroup var connection: Connection
        @Argument(help: "The archive (.tar, optionally gzip- or zstd-compressed), read by skiffd.") var archive: String

        func run() async throws {
            var request = Skiff_Admin_V1_ImportImageRequest()
            request.path = archive.hasPrefix("/") ? archive : Self.currentDirectory() + "/" + archive
            let imported = try await connection.withAdmin { try await $0.importImage(request).images }
            for image in imported {
                print("\(image.id)  \(image.repoTags.isEmpty ? "<untagged>" : image.repoTags.joined(separator: ", "))")
            }
        }

        static func currentDirectory() -> String {
            var buffer = [CChar](repeating: 0, count: 4096)
            return getcwd(&buffer, buffer.count).map { String(cString: $0) } ?? "."
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm",
            abstract: "Remove images by tag, digest or ID."
        )
        @OptionGroup var connection: Connection
        @Argument(help: "Images to remove.") var references: [String]

        func run() async throws {
            for reference in references {
                var request = Runtime_V1_RemoveImageRequest()
                request.image.image = reference
                _ = try await connection.withImages { try await $0.removeImage(request) }
                print("removed \(reference)")
            }
        }
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
