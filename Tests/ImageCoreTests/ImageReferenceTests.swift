import SkiffCommon
import Testing

@testable import ImageCore

@Suite struct ImageReferenceTests {
    @Test(arguments: [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest"),
        ("someone/tool:v1", "docker.io/someone/tool:v1"),
        ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
        ("localhost:5000/a/b/c", "localhost:5000/a/b/c:latest"),
        ("127.0.0.1:5000/x:y", "127.0.0.1:5000/x:y"),
        ("localhost/img", "localhost/img:latest"),
        (
            "quay.io/a/b@sha256:" + String(repeating: "a", count: 64),
            "quay.io/a/b@sha256:" + String(repeating: "a", count: 64)
        ),
        (
            "ghcr.io/a/b:t@sha256:" + String(repeating: "0", count: 64),
            "ghcr.io/a/b:t@sha256:" + String(repeating: "0", count: 64)
        ),
        ("my-registry.example.com:443/team__x/app.v2-1:1.0_rc", "my-registry.example.com:443/team__x/app.v2-1:1.0_rc"),
    ])
    func normalises(input: String, expected: String) throws {
        #expect(try ImageReference(parsing: input).description == expected)
    }

    @Test func splitsParts() throws {
        let reference = try ImageReference(parsing: "localhost:5000/team/app:v1")
        #expect(reference.registry == "localhost:5000")
        #expect(reference.repository == "team/app")
        #expect(reference.tag == "v1")
        #expect(reference.digest == nil)
        #expect(reference.name == "localhost:5000/team/app")
    }

    @Test(arguments: [
        "", "UPPER", "a//b", "/abs", "img:", "img:-bad", "img@sha256:short",
        "img@sha256:" + String(repeating: "g", count: 64),
        "host:99999/img", "a/b_/c", "img:" + String(repeating: "t", count: 129), "with space", "a/-b",
        // Found by Fuzz/Reference: fullwidth hex digits and non-ASCII algorithm names passed as a digest.
        "img@sha256:\u{FF41}" + String(repeating: "a", count: 63),
        "img@sh\u{E9}256:" + String(repeating: "a", count: 64),
    ])
    func refusesMalformedReferences(input: String) {
        #expect {
            try ImageReference(parsing: input)
        } throws: { error in
            guard let error = error as? SkiffError else { return false }
            return error.code == .invalidArgument && error.message.contains("\"\(input)\"")
        }
    }
}
