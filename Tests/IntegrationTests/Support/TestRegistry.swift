import AsyncHTTPClient
import Foundation
import ImageCore
import ImageFixtures
import NIOCore
import NIOSSL

/// Debian's docker-registry (the CNCF distribution registry) on 127.0.0.1 and a free port, with
/// its storage in a private directory; optionally behind TLS (a CA the test makes) and htpasswd
/// basic auth.
final class TestRegistry: @unchecked Sendable {
    // @unchecked: used by one test at a time.
    let directory: String
    let port: Int
    let process: Process
    let useTLS: Bool
    let credentials: (String, String)?
    /// The Bearer token service in front of the registry, when there is one.
    var tokenServer: Process?
    var tokenRequests: [String] {
        ((try? String(contentsOfFile: directory + "/requests", encoding: .utf8)) ?? "").split(separator: "\n").map(
            String.init
        )
    }
    var host: String { "127.0.0.1:\(port)" }
    var baseURL: String { "\(useTLS ? "https" : "http")://\(host)" }
    var caFile: String { directory + "/ca.pem" }

    /// `tokenAuth`: a token server (Support/token_server.py) guards the registry (Bearer flow),
    /// granting pulls to these credentials.
    static func start(
        tls: Bool = false,
        credentials: (String, String)? = nil,
        tokenAuth: (String, String)? = nil
    ) async throws -> TestRegistry {
        let directory = "/tmp/skiff-registry-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: directory + "/registry.log", contents: nil)
        let port = try freePort()
        var config = """
            version: 0.1
            log:
              level: error
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: \(directory)/data
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:\(port)

            """
        if tls {
            try makeCertificates(in: directory)
            config += "  tls:\n    certificate: \(directory)/server.pem\n    key: \(directory)/server.key\n"
        }
        var tokenServer: Process?
        if let tokenAuth {
            let (process, tokenPort) = try await startTokenServer(in: directory, credentials: tokenAuth)
            tokenServer = process
            config += """
                auth:
                  token:
                    realm: http://127.0.0.1:\(tokenPort)/token
                    service: skiff-registry
                    issuer: skiff-token-issuer
                    rootcertbundle: \(directory)/token.pem

                """
        }
        if let credentials {
            try run("/usr/bin/htpasswd", ["-Bbc", "\(directory)/htpasswd", credentials.0, credentials.1])
            config += "auth:\n  htpasswd:\n    realm: skiff-test\n    path: \(directory)/htpasswd\n"
        }
        try config.write(toFile: directory + "/config.yml", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
        process.arguments = ["serve", directory + "/config.yml"]
        process.standardOutput = FileHandle.nullDevice
        let log = FileManager.default.createFile(atPath: directory + "/registry.log", contents: nil)
        _ = log
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/registry.log"))
        try process.run()
        let registry = TestRegistry(
            directory: directory,
            port: port,
            process: process,
            useTLS: tls,
            credentials: credentials
        )
        registry.tokenServer = tokenServer
        try await registry.waitUntilUp()
        return registry
    }

    private init(directory: String, port: Int, process: Process, useTLS: Bool, credentials: (String, String)?) {
        self.directory = directory
        self.port = port
        self.process = process
        self.useTLS = useTLS
        self.credentials = credentials
    }

    /// Pushes with a client trusting the test CA.
    func withPusher<Result: Sendable>(_ body: (RegistryPusher) async throws -> Result) async throws -> Result {
        var configuration = HTTPClient.Configuration()
        if useTLS {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.additionalTrustRoots = [.file(caFile)]
            configuration.tlsConfiguration = tls
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let result = try await body(RegistryPusher(baseURL: baseURL, basicAuth: credentials, client: client))
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    func stop() {
        stopProcess(process, signal: SIGTERM)
        stopProcess(process)
        // SIGKILL: the test runner's children may inherit a blocked SIGTERM.
        if let tokenServer { stopProcess(tokenServer) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func waitUntilUp() async throws {
        for _ in 0..<200 {
            if !process.isRunning {
                let log = (try? String(contentsOfFile: directory + "/registry.log", encoding: .utf8)) ?? ""
                throw HarnessError("docker-registry exited: \(log)")
            }
            if (try? await probe()) == true { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw HarnessError("docker-registry did not come up on \(host)")
    }

    private func probe() async throws -> Bool {
        try await withPusher { pusher in
            let response = try await HTTPClient.shared.execute(
                HTTPClientRequest(url: "http://\(host)/v2/"),
                timeout: .seconds(2)
            )
            _ = pusher
            return response.status.code > 0
        }
    }

    static func startTokenServer(in directory: String, credentials: (String, String)) async throws -> (Process, Int) {
        try run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=skiff token signer",
                "-keyout", "\(directory)/token.key", "-out", "\(directory)/token.pem",
            ]
        )
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "token_server.py"
        ).path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, directory, directory + "/token-port", credentials.0, credentials.1]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/registry.log"))
        try process.run()
        for _ in 0..<200 {
            if let text = try? String(contentsOfFile: directory + "/token-port", encoding: .utf8), let port = Int(text)
            {
                return (process, port)
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        stopProcess(process)
        throw HarnessError("the token server did not start")
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A CA and a server certificate for 127.0.0.1 signed by it.
    static func makeCertificates(in directory: String) throws {
        let openssl = "/usr/bin/openssl"
        try run(
            openssl,
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=skiff test CA",
                "-keyout", "\(directory)/ca.key", "-out", "\(directory)/ca.pem",
            ]
        )
        try run(
            openssl,
            [
                "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                "-keyout", "\(directory)/server.key", "-out", "\(directory)/server.csr",
            ]
        )
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n".write(
            toFile: "\(directory)/ext.cnf",
            atomically: true,
            encoding: .utf8
        )
        try run(
            openssl,
            [
                "x509", "-req", "-in", "\(directory)/server.csr", "-CA", "\(directory)/ca.pem", "-CAkey",
                "\(directory)/ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", "\(directory)/ext.cnf", "-out", "\(directory)/server.pem",
            ]
        )
    }

    static func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError("\(executable) \(arguments.joined(separator: " ")) failed")
        }
    }
}

/// The misbehaving registry (Support/fake_registry.py) for lies no real registry tells.
final class FakeRegistry: @unchecked Sendable {
    let directory: String
    let process: Process
    let port: Int
    var host: String { "127.0.0.1:\(port)" }

    static func start() async throws -> FakeRegistry {
        let directory = "/tmp/skiff-fake-\(UUID().uuidString.prefix(8).lowercased())"
        for sub in ["manifests", "blobs", "behaviour"] {
            try FileManager.default.createDirectory(atPath: "\(directory)/\(sub)", withIntermediateDirectories: true)
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "fake_registry.py"
        ).path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, directory, directory + "/port"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<200 {
            if let text = try? String(contentsOfFile: directory + "/port", encoding: .utf8), let port = Int(text) {
                return FakeRegistry(directory: directory, process: process, port: port)
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        process.terminate()
        throw HarnessError("the fake registry did not start")
    }

    private init(directory: String, process: Process, port: Int) {
        self.directory = directory
        self.process = process
        self.port = port
    }

    func serve(_ image: FixtureImage, repository: String, tag: String, manifestOverride: [UInt8]? = nil) throws {
        for (digest, bytes) in image.blobs {
            try Data(bytes).write(to: URL(fileURLWithPath: "\(directory)/blobs/\(digest.hex)"))
        }
        let manifestDirectory = "\(directory)/manifests/\(repository.replacingOccurrences(of: "/", with: "_"))"
        try FileManager.default.createDirectory(atPath: manifestDirectory, withIntermediateDirectories: true)
        try Data(manifestOverride ?? image.manifest).write(to: URL(fileURLWithPath: "\(manifestDirectory)/\(tag)"))
    }

    /// Replaces what the blob `digest` serves.
    func replaceBlob(_ digest: Digest, with bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: "\(directory)/blobs/\(digest.hex)"))
    }

    func misbehave(_ digest: Digest, _ behaviour: String) throws {
        try Data(behaviour.utf8).write(to: URL(fileURLWithPath: "\(directory)/behaviour/\(digest.hex)"))
    }

    func stop() {
        // SIGKILL: the test runner's children may inherit a blocked SIGTERM.
        stopProcess(process)
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Kills `process` and waits (bounded) for it to be gone.
func stopProcess(_ process: Process, signal: Int32 = SIGKILL) {
    guard process.isRunning else { return }
    kill(process.processIdentifier, signal)
    for _ in 0..<500 where process.isRunning { usleep(10_000) }
}
