import Metadata
import SkiffCommon

/// The image metadata, persisted in `<root_dir>/images/images.json`, which is replaced
/// atomically on every change: a daemon restart (or a SIGKILL at any moment) lists exactly the
/// images of the last completed change. Small enough to rewrite whole (a node holds hundreds of
/// images, not millions).
actor ImageStore {
    private let file: DurableValueFile<[ImageRecord]>
    private var images: [Digest: ImageRecord] = [:]

    init(directory: String) throws(SkiffError) {
        file = DurableValueFile(path: directory + "/images.json")
        for record in try file.read() ?? [] { images[record.id] = record }
    }

    var all: [ImageRecord] { images.values.sorted { $0.id < $1.id } }

    func record(_ id: Digest) -> ImageRecord? { images[id] }

    /// Adds or updates `record`; its tags are taken from any other image that had them (a tag
    /// points at one image).
    func store(_ record: ImageRecord) throws(SkiffError) {
        var updated = images
        var merged = record
        if let existing = updated[record.id] {
            merged.repoTags = Self.union(existing.repoTags, record.repoTags)
            merged.repoDigests = Self.union(existing.repoDigests, record.repoDigests)
            merged.blobs = Self.union(existing.blobs, record.blobs)
            merged.pinned = existing.pinned || record.pinned
        }
        for (id, var other) in updated where id != record.id {
            let before = other.repoTags.count
            other.repoTags.removeAll { merged.repoTags.contains($0) }
            if other.repoTags.count != before { updated[id] = other }
        }
        updated[record.id] = merged
        try persist(updated)
    }

    func remove(_ id: Digest) throws(SkiffError) {
        var updated = images
        updated[id] = nil
        try persist(updated)
    }

    /// Finds an image by ID (`sha256:…`, or its hex, or a unique hex prefix of 12+ digits), by
    /// tag (normalised: `busybox` means `docker.io/library/busybox:latest`) or by repo digest.
    func find(_ reference: String) -> ImageRecord? {
        // try?: a reference is tried as an ID, then as a tag or repo digest; not being one form is no error.
        if let digest = try? Digest(parsing: reference), let record = images[digest] { return record }
        let bare = reference.hasPrefix("sha256:") ? String(reference.dropFirst(7)) : reference
        if bare.count >= 12, bare.allSatisfy(\.isHexDigit) {
            let matches = images.values.filter { $0.id.hex.hasPrefix(bare) }
            if matches.count == 1 { return matches[0] }
        }
        // try?: what is neither an ID nor a reference names no image: "not found", as the caller reports.
        guard let parsed = try? ImageReference(parsing: reference) else { return nil }
        if let digest = parsed.digest {
            let repoDigest = "\(parsed.name)@\(digest)"
            return images.values.first { $0.repoDigests.contains(repoDigest) }
        }
        let tag = parsed.description
        return images.values.first { $0.repoTags.contains(tag) }
    }

    private func persist(_ updated: [Digest: ImageRecord]) throws(SkiffError) {
        try file.write(updated.values.sorted { $0.id < $1.id })
        images = updated
    }

    static func union(_ first: [String], _ second: [String]) -> [String] {
        first + second.filter { !first.contains($0) }
    }

    static func union(_ first: [Digest], _ second: [Digest]) -> [Digest] {
        first + second.filter { !first.contains($0) }
    }
}
