import Foundation
import ImageCore

/// An image made in memory: its blobs by digest and its manifest, ready to push.
public struct FixtureImage: Sendable {
    public struct Layer: Sendable {
        public var tar: [UInt8]
        public var compressed: [UInt8]
        public var mediaType: String

        /// A gzip layer (or an uncompressed one) from a finished tar.
        public init(tar: [UInt8], gzip: Bool = true) {
            self.tar = tar
            compressed = gzip ? Gzip.compress(tar) : tar
            mediaType = gzip ? MediaType.ociLayerGzip : MediaType.ociLayer
        }

        public var descriptor: Descriptor {
            Descriptor(mediaType: mediaType, digest: .of(compressed), size: Int64(compressed.count))
        }

        public var diffID: Digest { .of(tar) }
    }

    public var blobs: [Digest: [UInt8]]
    public var manifest: [UInt8]
    public var manifestMediaType: String
    public var configDigest: Digest
    public var manifestDigest: Digest { .of(manifest) }

    /// Builds the config and manifest for `layers`; `diffIDs` overrides the true ones (to make a
    /// lying image).
    public init(
        layers: [Layer],
        config: ImageConfiguration.Defaults,
        architecture: String = "amd64",
        diffIDs: [Digest]? = nil,
        layerDescriptors: [Descriptor]? = nil
    ) {
        let configuration = ImageConfiguration(
            architecture: architecture,
            os: "linux",
            config: config,
            rootfs: .init(diffIDs: diffIDs ?? layers.map(\.diffID))
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let configBytes = Array(try! encoder.encode(configuration))
        configDigest = .of(configBytes)
        var blobs = [configDigest: configBytes]
        for layer in layers { blobs[layer.descriptor.digest] = layer.compressed }
        let manifest = ImageManifest(
            config: Descriptor(mediaType: MediaType.ociConfig, digest: configDigest, size: Int64(configBytes.count)),
            layers: layerDescriptors ?? layers.map(\.descriptor)
        )
        self.blobs = blobs
        self.manifest = Array(try! encoder.encode(manifest))
        manifestMediaType = MediaType.ociManifest
    }
}

/// An image index over several platform images.
public struct FixtureIndex: Sendable {
    public var images: [(platform: Platform, image: FixtureImage)]
    public var index: [UInt8]
    public var digest: Digest { .of(index) }

    public init(_ images: [(platform: Platform, image: FixtureImage)]) {
        self.images = images
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let index = ImageIndex(
            manifests: images.map { entry in
                Descriptor(
                    mediaType: entry.image.manifestMediaType,
                    digest: entry.image.manifestDigest,
                    size: Int64(entry.image.manifest.count),
                    platform: entry.platform
                )
            }
        )
        self.index = Array(try! encoder.encode(index))
    }
}

extension FixtureImage {
    /// The image as an OCI image layout in a tar (what `skiff image import` and
    /// `ImageManager.importArchive` read), named `name` by containerd's annotation and tagged
    /// `tag` by the OCI one.
    public func ociLayoutArchive(name: String, tag: String = "1.0") -> [UInt8] {
        var tar = TarBuilder()
        tar.file("oci-layout", #"{"imageLayoutVersion":"1.0.0"}"#)
        let index =
            #"{"schemaVersion":2,"manifests":[{"mediaType":"\#(MediaType.ociManifest)","digest":"\#(manifestDigest)","size":\#(manifest.count),"annotations":{"io.containerd.image.name":"\#(name)","org.opencontainers.image.ref.name":"\#(tag)"}}]}"#
        tar.file("index.json", index)
        tar.directory("blobs/sha256")
        tar.file("blobs/sha256/\(manifestDigest.hex)", manifest)
        for (digest, bytes) in blobs { tar.file("blobs/sha256/\(digest.hex)", bytes) }
        return tar.finished()
    }
}
