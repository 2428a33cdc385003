// libFuzzer target: the OCI / Docker schema 2 documents ImageCore reads from registries and
// image archives — RegistryClient.decodeManifest (manifest or index, by media type and shape),
// ImageConfigCodec (the image config, diff IDs checked against the layer count), the archive
// path's JSONCoding decoder, and PlatformMatcher's choice from an index.
//
// Input: one selector byte (low bits: the Content-Type the registry claims; high bits: the
// layer count the config must match), then the document. Besides not crashing: what decodes
// re-encodes and decodes to the same document, and a manifest the matcher picks is one of the
// index's and matches the node platform.
import Foundation

@testable import ImageCore

let contentTypes: [String?] = [
    nil, MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest,
    "application/json", "text/plain",
]

let nodes: [PlatformMatcher] = [
    Platform(architecture: "amd64", os: "linux"), Platform(architecture: "arm64", os: "linux", variant: "v8"),
    Platform(architecture: "arm", os: "linux", variant: "v7"),
    Platform(architecture: "arm", os: "linux", variant: "v6"),
    Platform(architecture: "386", os: "linux"), Platform(architecture: "s390x", os: "linux"),
].map(PlatformMatcher.init(platform:))

/// Encodes `value`, decodes the result, and checks both encodings are the same bytes.
func checkRoundTrip<Value: Codable>(_ value: Value) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    do {
        let first = try encoder.encode(value)
        let decoded = try JSONDecoder().decode(Value.self, from: first)
        let second = try encoder.encode(decoded)
        precondition(
            first == second,
            "\(Value.self) changes on a round trip:\n\(String(decoding: first, as: UTF8.self))\n\(String(decoding: second, as: UTF8.self))"
        )
    } catch {
        preconditionFailure("\(Value.self) does not survive a round trip: \(error)")
    }
}

func checkIndex(_ index: ImageIndex) {
    for node in nodes {
        guard let chosen = node.select(from: index.manifests) else { continue }
        precondition(index.manifests.contains(chosen), "the matcher chose a descriptor the index does not have")
        guard let platform = chosen.platform else {
            preconditionFailure("the matcher chose a descriptor without a platform")
        }
        precondition(node.matches(platform), "\(platform) was chosen for \(node.platform) but does not match it")
    }
    checkRoundTrip(index)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let selector = Int(data[0])
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))

    // A registry's answer to GET /v2/<name>/manifests/<reference>.
    let contentType = contentTypes[selector % contentTypes.count]
    if let (mediaType, document) = try? RegistryClient.decodeManifest(bytes, contentType: contentType, name: "fuzz") {
        switch document {
        case .index(let index):
            precondition(MediaType.indexes.contains(mediaType), "an index decoded as \(mediaType)")
            checkIndex(index)
        case .manifest(let manifest):
            precondition(MediaType.manifests.contains(mediaType), "a manifest decoded as \(mediaType)")
            checkRoundTrip(manifest)
        }
    }

    // The image config a manifest names.
    let layerCount = selector >> 4
    if let configuration = try? ImageConfigCodec.decode(bytes, layerCount: layerCount, image: "fuzz") {
        precondition(configuration.rootfs.diffIDs.count == layerCount)
        precondition(Digest.chainIDs(of: configuration.rootfs.diffIDs).count == layerCount)
        checkRoundTrip(configuration)
    }

    // An image archive's index.json and the blobs it names.
    if let index = try? JSONCoding.decoder.decode(ImageIndex.self, from: bytes) { checkIndex(index) }
    if let manifest = try? JSONCoding.decoder.decode(ImageManifest.self, from: bytes) { checkRoundTrip(manifest) }
    return 0
}
