import ArgumentParser
import CRIAPI
import DaemonConfig
import GRPCCore
import GRPCNIOTransportHTTP2Posix

struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Ask the running skiffd for its version over the CRI socket."
    )

    @Option(name: .long, help: "CRI socket (default: grpc.socket from the configuration).")
    var socket: String?

    @OptionGroup var file: ConfigFileOption

    func run() async throws {
        let path = try socket ?? file.load().grpc.socketPath
        let response = try await withGRPCClient(
            transport: try .http2NIOPosix(target: .unixDomainSocket(path: path), transportSecurity: .plaintext)
        ) { client in
            try await Runtime_V1_RuntimeService.Client(wrapping: client).version(Runtime_V1_VersionRequest())
        }
        print("RuntimeName:       \(response.runtimeName)")
        print("RuntimeVersion:    \(response.runtimeVersion)")
        print("RuntimeApiVersion: \(response.runtimeApiVersion)")
    }
}
