import CRIAPI
import Foundation
import GRPCCore
import ImageCore
import ImageFixtures
import Testing

/// Layers and registries that try to hurt the node: each pull must fail with a message naming
/// the problem, leave no file outside the snapshot, and leave no half image behind.
@Suite(.serialized) struct HostileImageTests {
    static let busybox = ImagePullTests.busybox

    /// A layer that (tries to) write `outside`.
    static func hostileImage(_ build: (inout TarBuilder) -> Void) -> FixtureImage {
        var tar = TarBuilder()
        tar.directory("etc")
        tar.file("etc/ok", "fine\n")
        build(&tar)
        return FixtureImage(
            layers: [BusyboxImages.appLayer(), FixtureImage.Layer(tar: tar.finished())],
            config: .init(cmd: ["/bin/sh"])
        )
    }

    /// Checks the daemon holds no image, no snapshot, no partial blob after a refused pull.
    static func expectNothingLeft(_ daemon: DaemonHarness) async throws {
        let files = FileManager.default
        #expect(try await ImagePullTests.list(daemon).isEmpty == true)
        let snapshots = try files.contentsOfDirectory(atPath: daemon.rootDir + "/snapshots")
        #expect(!snapshots.contains { $0.hasPrefix(".tmp-") }, "no half-unpacked snapshot: \(snapshots)")
        #expect(try files.contentsOfDirectory(atPath: daemon.rootDir + "/content/ingest").isEmpty, "no partial blob")
    }

    static func expectRefused(
        _ daemon: DaemonHarness,
        _ reference: String,
        code: RPCError.Code,
        mentioning text: String
    ) async throws {
        let error = await #expect(throws: RPCError.self) { try await ImagePullTests.pull(daemon, reference) }
        #expect(error?.code == code, "\(String(describing: error))")
        #expect(error?.message.contains(text) == true, "\(String(describing: error?.message)) should mention \(text)")
        try await expectNothingLeft(daemon)
    }

    @Test func layersThatEscapeTheirSnapshotAreRefused() async throws {
        let outside = "/tmp/skiff-escape-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let cases: [(name: String, image: FixtureImage, mention: String)] = [
            (
                "traversal", Self.hostileImage { $0.file("../../../../../../../../..\(outside)/traversal", "pwned") },
                "path traversal"
            ),
            (
                "symlink",
                Self.hostileImage { tar in
                    tar.symlink("escape", to: outside)
                    tar.file("escape/through-symlink", "pwned")
                }, "symlink"
            ),
            (
                "symlink-dir",
                Self.hostileImage { tar in
                    tar.symlink("up", to: "../../../../../../..")
                    tar.file("up\(outside)/relative-symlink", "pwned")
                }, "escape/"
            ),
            (
                "hardlink", Self.hostileImage { $0.hardLink("etc/passwd-copy", to: "../../../../../../../etc/passwd") },
                "path traversal"
            ),
            (
                "hardlink-absolute", Self.hostileImage { $0.hardLink("etc/hostname-copy", to: "/etc/hostname") },
                "not in this layer"
            ),
        ]
        try await ImagePullTests.withRegistry { registry in
            for (name, image, _) in cases {
                try await registry.withPusher { try await $0.push(image, repository: "hostile/\(name)", tag: "1") }
            }
            try await withDaemon { daemon in
                for (name, _, mention) in cases {
                    let expected = name == "symlink-dir" ? "symlink" : mention
                    try await Self.expectRefused(
                        daemon,
                        "\(registry.host)/hostile/\(name):1",
                        code: .invalidArgument,
                        mentioning: expected
                    )
                }
                #expect(
                    try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty,
                    "nothing was written outside"
                )
                // The daemon still works after all that.
                let good = BusyboxImages.standard(busybox: Self.busybox)
                try await registry.withPusher { try await $0.push(good, repository: "good/image", tag: "1") }
                #expect(
                    try await ImagePullTests.pull(daemon, "\(registry.host)/good/image:1")
                        == good.configDigest.description
                )
            }
        }
    }

    @Test func aLayerThatDoesNotMatchItsDiffIDIsRefused() async throws {
        let honest = BusyboxImages.appLayer()
        let lying = FixtureImage(
            layers: [honest],
            config: .init(cmd: ["/bin/sh"]),
            diffIDs: [Digest.of(Array("something else".utf8))]
        )
        try await ImagePullTests.withRegistry { registry in
            try await registry.withPusher { try await $0.push(lying, repository: "hostile/diffid", tag: "1") }
            try await withDaemon { daemon in
                try await Self.expectRefused(
                    daemon,
                    "\(registry.host)/hostile/diffid:1",
                    code: .invalidArgument,
                    mentioning: "diff ID"
                )
            }
        }
    }

    @Test func blobsThatLieAboutThemselvesAreRefused() async throws {
        let fake = try await FakeRegistry.start()
        defer { fake.stop() }
        // A manifest of 5 MiB.
        let wrong = Self.hostileImage { _ in }
        try fake.serve(
            wrong,
            repository: "lies/huge",
            tag: "1",
            manifestOverride: Array("{\"schemaVersion\":2,\"pad\":\"".utf8) + [UInt8](repeating: 0x61, count: 5 << 20)
                + Array("\"}".utf8)
        )
        // Wrong content under a layer's digest (same size).
        let target = try #require(JSONDecoder().decode(ImageManifest.self, from: Data(wrong.manifest)).layers.last)
        try fake.serve(wrong, repository: "lies/digest", tag: "1")
        try fake.replaceBlob(target.digest, with: [UInt8](repeating: 0x41, count: Int(target.size)))

        // A layer whose blob ends half way.
        let truncated = BusyboxImages.standard(busybox: Self.busybox, message: "truncated\n")
        let truncatedLayer = try #require(
            JSONDecoder().decode(ImageManifest.self, from: Data(truncated.manifest)).layers.first
        )
        try fake.serve(truncated, repository: "lies/truncated", tag: "1")
        try fake.misbehave(truncatedLayer.digest, "truncate")

        try await withDaemon { daemon in
            try await Self.expectRefused(
                daemon,
                "\(fake.host)/lies/digest:1",
                code: .invalidArgument,
                mentioning: "has digest"
            )
            try await Self.expectRefused(
                daemon,
                "\(fake.host)/lies/truncated:1",
                code: .unavailable,
                mentioning: "truncated"
            )
            try await Self.expectRefused(
                daemon,
                "\(fake.host)/lies/huge:1",
                code: .resourceExhausted,
                mentioning: "4194304 bytes"
            )
        }
    }

    @Test func transientErrorsAreRetriedAndRedirectsFollowed() async throws {
        let fake = try await FakeRegistry.start()
        defer { fake.stop() }
        let image = BusyboxImages.standard(busybox: Self.busybox, message: "flaky\n")
        let layers = try JSONDecoder().decode(ImageManifest.self, from: Data(image.manifest)).layers
        try fake.serve(image, repository: "flaky/image", tag: "1")
        try fake.misbehave(layers[0].digest, "flaky")
        try fake.misbehave(layers[1].digest, "redirect")
        try await withDaemon { daemon in
            let id = try await ImagePullTests.pull(daemon, "\(fake.host)/flaky/image:1")
            #expect(id == image.configDigest.description)
        }
        let attempts = try String(
            contentsOfFile: "\(fake.directory)/behaviour/\(layers[0].digest.hex).count",
            encoding: .utf8
        )
        #expect(attempts == "3", "two 503 answers, then success")
    }

    /// SIGTERM while a pull is running: the call gets its real answer (here the stall error
    /// after 1 s), not a cancellation, and then the daemon exits cleanly.
    @Test func gracefulShutdownLetsAnInFlightCallFinish() async throws {
        let fake = try await FakeRegistry.start()
        defer { fake.stop() }
        let image = BusyboxImages.standard(busybox: Self.busybox, message: "slow\n")
        let layer = try #require(JSONDecoder().decode(ImageManifest.self, from: Data(image.manifest)).layers.first)
        try fake.serve(image, repository: "slow/shutdown", tag: "1")
        try fake.misbehave(layer.digest, "stall")
        try await withDaemon(extraConfig: "[images]\nstall_timeout = \"1s\"\n") { daemon in
            async let pull: Result<String, RPCError> = {
                do { return .success(try await ImagePullTests.pull(daemon, "\(fake.host)/slow/shutdown:1")) } catch let
                    error as RPCError
                { return .failure(error) } catch { return .failure(RPCError(code: .unknown, message: "\(error)")) }
            }()
            // SIGTERM once the pull is in flight on skiffd (its layer transfer stalled), not after
            // a fixed sleep: on a loaded machine the call might not have reached skiffd yet, and
            // a call that arrives after SIGTERM is refused (UNAVAILABLE), as it should be.
            let stalled = "\(fake.directory)/behaviour/\(layer.digest.hex).stalled"
            let deadline = ContinuousClock.now + .seconds(20)
            while !FileManager.default.fileExists(atPath: stalled) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            let pid = daemon.process!.processIdentifier
            kill(pid, SIGTERM)
            let outcome = await pull
            guard case .failure(let error) = outcome else {
                Issue.record("the pull should fail on the stall")
                return
            }
            #expect(error.code == .deadlineExceeded, "the call finished with its own result: \(error)")
            #expect(try await daemon.stop(signal: SIGTERM) == 0)
            #expect(daemon.log().contains("skiffd stopped"))
        }
    }

    @Test func aStalledTransferFailsInsteadOfHanging() async throws {
        let fake = try await FakeRegistry.start()
        defer { fake.stop() }
        let image = BusyboxImages.standard(busybox: Self.busybox, message: "stall\n")
        let layer = try #require(JSONDecoder().decode(ImageManifest.self, from: Data(image.manifest)).layers.first)
        try fake.serve(image, repository: "slow/image", tag: "1")
        try fake.misbehave(layer.digest, "stall")
        try await withDaemon(extraConfig: "[images]\nstall_timeout = \"1s\"\n") { daemon in
            let started = ContinuousClock.now
            try await Self.expectRefused(
                daemon,
                "\(fake.host)/slow/image:1",
                code: .deadlineExceeded,
                mentioning: "stalled"
            )
            #expect(ContinuousClock.now - started < .seconds(20))
        }
    }
}
