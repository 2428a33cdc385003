import SkiffCommon

/// An image reference normalised as the kubelet and containerd normalise it:
/// `busybox` → `docker.io/library/busybox:latest`; `host[:port]/path[:tag][@sha256:…]`.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    public static let defaultRegistry = "docker.io"

    /// Registry host with optional port, e.g. `docker.io`, `localhost:5000`.
    public var registry: String
    /// Repository path inside the registry, e.g. `library/busybox`.
    public var repository: String
    public var tag: String?
    /// `algorithm:hex`, e.g. `sha256:…`.
    public var digest: String?

    /// `registry/repository`, the name tags and digests attach to.
    public var name: String { "\(registry)/\(repository)" }

    /// The fully qualified form: name, tag if any, digest if any.
    public var description: String {
        var text = name
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }

    /// Parses and normalises `text`; a reference with neither tag nor digest gets `latest`.
    public init(parsing text: String) throws(SkiffError) {
        func invalid(_ why: String) -> SkiffError {
            .invalidArgument("image reference \"\(text)\" is invalid: \(why)")
        }
        guard !text.isEmpty else { throw invalid("it is empty") }
        guard text.count <= 4096 else { throw invalid("it is longer than 4096 characters") }
        var remainder = Substring(text)
        if let at = remainder.firstIndex(of: "@") {
            let digest = String(remainder[remainder.index(after: at)...])
            guard Self.isValidDigest(digest) else {
                throw invalid(
                    "the digest \"\(digest)\" is not sha256: and 64 lowercase hex digits (the only digest Skiff verifies)"
                )
            }
            self.digest = digest
            remainder = remainder[..<at]
        }
        // A tag follows the last ':' that comes after the last '/' (a ':' before it is a port).
        let lastSlash = remainder.lastIndex(of: "/")
        if let colon = remainder.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            let tag = String(remainder[remainder.index(after: colon)...])
            guard Self.isValidTag(tag) else {
                throw invalid("the tag \"\(tag)\" must be 1–128 of [A-Za-z0-9_.-], not starting with '.' or '-'")
            }
            self.tag = tag
            remainder = remainder[..<colon]
        }
        var components = remainder.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !components.contains(where: \.isEmpty) else { throw invalid("it has an empty path component") }
        // The first component is a registry host if it looks like one (as Docker decides).
        if components.count > 1, let first = components.first,
            first.contains(".") || first.contains(":") || first == "localhost" || first.contains(where: \.isUppercase)
        {
            guard Self.isValidHost(first) else { throw invalid("the registry host \"\(first)\" is not host[:port]") }
            registry = first
            components.removeFirst()
        } else {
            registry = Self.defaultRegistry
        }
        if registry == "index.docker.io" || registry == "registry-1.docker.io" { registry = Self.defaultRegistry }
        if registry == Self.defaultRegistry && components.count == 1 { components.insert("library", at: 0) }
        for component in components where !Self.isValidPathComponent(component) {
            throw invalid(
                "the path component \"\(component)\" must be lowercase letters and digits, separated by '.', '_', '__' or '-'"
            )
        }
        repository = components.joined(separator: "/")
        if tag == nil && digest == nil { tag = "latest" }
    }

    /// `sha256:` and 64 lowercase hex digits: the one algorithm the content store verifies. A
    /// reference pinned by another (`@md5:…`, `@sha512:…`) is refused before any registry is
    /// asked, rather than fetched and then found unverifiable.
    static func isValidDigest(_ digest: String) -> Bool {
        guard digest.hasPrefix("sha256:") else { return false }
        let hex = digest.utf8.dropFirst(7)
        return hex.count == 64 && hex.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    static func isValidTag(_ tag: String) -> Bool {
        guard (1...128).contains(tag.count), let first = tag.first, first != ".", first != "-" else { return false }
        return tag.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
    }

    static func isValidHost(_ host: String) -> Bool {
        let parts = host.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty else { return false }
        if parts.count == 2 { guard let port = Int(parts[1]), (1...65535).contains(port) else { return false } }
        return parts[0].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".-".contains($0)) }
    }

    static func isValidPathComponent(_ component: String) -> Bool {
        guard let first = component.first, let last = component.last,
            first.isASCII && (first.isLowercase || first.isNumber), last.isASCII && (last.isLowercase || last.isNumber)
        else { return false }
        var separatorRun = ""
        for character in component {
            if character.isASCII && (character.isLowercase || character.isNumber) {
                guard ["", ".", "_", "__"].contains(separatorRun) || separatorRun.allSatisfy({ $0 == "-" }) else {
                    return false
                }
                separatorRun = ""
            } else if "._-".contains(character) {
                separatorRun.append(character)
            } else {
                return false
            }
        }
        return true
    }
}
