// libFuzzer target: ImageCore's ImageReference parser (what the kubelet's PullImage and
// crictl send, and what an image archive's tags say), on arbitrary text.
//
// Besides not crashing: normalising is idempotent (the printed form parses back to the same
// reference), the parts meet the rules the parser promises, and a sha256 digest it accepts is
// one the content store accepts too (a pull by that digest must not fail later on its form).
@testable import ImageCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let reference = try? ImageReference(parsing: text) else { return 0 }

    precondition(reference.tag != nil || reference.digest != nil, "\(text): neither tag nor digest")
    if let tag = reference.tag { precondition(ImageReference.isValidTag(tag), "\(text): tag \(tag)") }
    precondition(ImageReference.isValidHost(reference.registry) || reference.registry == ImageReference.defaultRegistry)
    precondition(
        !reference.repository.isEmpty
            && reference.repository.split(separator: "/").allSatisfy {
                ImageReference.isValidPathComponent(String($0))
            },
        "\(text): repository \(reference.repository)"
    )

    let printed = reference.description
    // It becomes a registry URL path and a key in images.json: never anything but ASCII.
    precondition(
        printed.utf8.allSatisfy { $0 < 0x80 },
        "\(text.debugDescription) normalises to non-ASCII \(printed.debugDescription)"
    )
    guard let again = try? ImageReference(parsing: printed) else {
        preconditionFailure("\(text.debugDescription) normalises to \(printed.debugDescription), which does not parse")
    }
    precondition(
        again == reference,
        "\(text.debugDescription) → \(printed.debugDescription) → \(again.description.debugDescription)"
    )

    if let digest = reference.digest, digest.hasPrefix("sha256:") {
        do {
            let parsed = try Digest(parsing: digest)
            precondition(parsed.description == digest)
        } catch {
            preconditionFailure(
                "\(text.debugDescription): the reference accepts the digest \(digest.debugDescription) but Digest refuses it: \(error)"
            )
        }
    }
    return 0
}
