import Testing

@testable import ImageCore

/// Which manifest of an index a node runs: the OCI/containerd platform rules.
@Suite struct PlatformMatcherTests {
    static func descriptor(
        _ architecture: String,
        _ variant: String? = nil,
        os: String = "linux",
        index: Int
    ) -> Descriptor {
        Descriptor(
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: .of(Array("manifest \(index)".utf8)),
            size: 1,
            platform: Platform(architecture: architecture, os: os, variant: variant)
        )
    }

    @Test(
        arguments: [
            // node, candidate, runs?
            (Platform(architecture: "amd64", os: "linux"), Platform(architecture: "x86_64", os: "Linux"), true),
            (
                Platform(architecture: "amd64", os: "linux"),
                Platform(architecture: "amd64", os: "linux", variant: "v1"), true
            ),
            (Platform(architecture: "amd64", os: "linux"), Platform(architecture: "amd64", os: "windows"), false),
            (Platform(architecture: "amd64", os: "linux"), Platform(architecture: "arm64", os: "linux"), false),
            (
                Platform(architecture: "arm64", os: "linux"),
                Platform(architecture: "aarch64", os: "linux", variant: "8"), true
            ),
            (
                Platform(architecture: "arm64", os: "linux", variant: "v8"),
                Platform(architecture: "arm64", os: "linux"), true
            ),
            (
                Platform(architecture: "arm", os: "linux", variant: "v7"),
                Platform(architecture: "arm", os: "linux", variant: "v6"), true
            ),
            (
                Platform(architecture: "arm", os: "linux", variant: "v6"),
                Platform(architecture: "arm", os: "linux", variant: "v7"), false
            ),
            (
                Platform(architecture: "arm", os: "linux", variant: "v7"), Platform(architecture: "armhf", os: "linux"),
                true
            ),
            (
                Platform(architecture: "arm", os: "linux", variant: "v7"), Platform(architecture: "arm", os: "linux"),
                true
            ),
        ] as [(Platform, Platform, Bool)]
    )
    func nodesRunTheirOwnPlatformAndCompatibleOnes(node: Platform, candidate: Platform, runs: Bool) {
        #expect(PlatformMatcher(platform: node).matches(candidate) == runs)
    }

    @Test func theExactVariantWinsThenTheNearestOlderThenNoVariant() {
        let armv7 = PlatformMatcher(platform: Platform(architecture: "arm", os: "linux", variant: "v7"))
        let manifests = [
            Self.descriptor("amd64", index: 0), Self.descriptor("arm", index: 1),
            Self.descriptor("arm", "v5", index: 2),
            Self.descriptor("arm", "v6", index: 3), Self.descriptor("arm", "v7", index: 4),
            Self.descriptor("arm", "v8", index: 5),
        ]
        #expect(armv7.select(from: manifests) == manifests[4])
        #expect(armv7.select(from: Array(manifests.prefix(4))) == manifests[3], "v6 before v5")
        #expect(
            armv7.select(from: Array(manifests.prefix(2))) == manifests[1],
            "a manifest without a variant runs anywhere"
        )
        #expect(armv7.select(from: [manifests[0], manifests[5]]) == nil)
        let amd64 = PlatformMatcher(platform: Platform(architecture: "amd64", os: "linux"))
        let twice = [Self.descriptor("amd64", index: 6), Self.descriptor("amd64", index: 7)]
        #expect(amd64.select(from: twice) == twice[0], "among equals, the index's order")
        #expect(
            amd64.select(from: [Descriptor(mediaType: "x", digest: .of([1]), size: 1)]) == nil,
            "no platform, no match"
        )
    }

    @Test func thisNodeIsRecognised() {
        #expect(PlatformMatcher.host.platform == Platform(architecture: "amd64", os: "linux"))
    }
}
