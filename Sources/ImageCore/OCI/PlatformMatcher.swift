#if canImport(Glibc)
import Glibc
#endif

/// Picks the manifest for this node out of an image index, with the OCI/containerd rules for
/// variants: arm64's variant defaults to v8; an arm node runs its own variant and older ones.
public struct PlatformMatcher: Sendable {
    public let platform: Platform

    public init(platform: Platform) {
        self.platform = Self.normalized(platform)
    }

    /// The node's own platform, from uname(2).
    public static var host: PlatformMatcher {
        var names = utsname()
        uname(&names)
        let machine = withUnsafeBytes(of: names.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let platform: Platform =
            switch machine {
            case "x86_64": Platform(architecture: "amd64", os: "linux")
            case "aarch64", "arm64": Platform(architecture: "arm64", os: "linux", variant: "v8")
            case "armv7l", "armv7": Platform(architecture: "arm", os: "linux", variant: "v7")
            case "armv6l": Platform(architecture: "arm", os: "linux", variant: "v6")
            case "i686", "i386": Platform(architecture: "386", os: "linux")
            case "ppc64le": Platform(architecture: "ppc64le", os: "linux")
            case "s390x": Platform(architecture: "s390x", os: "linux")
            case "riscv64": Platform(architecture: "riscv64", os: "linux")
            default: Platform(architecture: machine, os: "linux")
            }
        return PlatformMatcher(platform: platform)
    }

    public func matches(_ candidate: Platform) -> Bool {
        rank(candidate) != nil
    }

    /// The best manifest of `index` for this platform (exact variant first), or nil.
    public func select(from manifests: [Descriptor]) -> Descriptor? {
        manifests.enumerated()
            .compactMap { item -> (rank: Int, order: Int, descriptor: Descriptor)? in
                guard let platform = item.element.platform, let rank = rank(platform) else { return nil }
                return (rank, item.offset, item.element)
            }
            .min { ($0.rank, $0.order) < ($1.rank, $1.order) }?
            .descriptor
    }

    /// 0 for an exact match, higher for a compatible one, nil for no match.
    func rank(_ candidate: Platform) -> Int? {
        let other = Self.normalized(candidate)
        guard other.os == platform.os, other.architecture == platform.architecture else { return nil }
        if other.variant == platform.variant { return 0 }
        if platform.architecture == "arm", let mine = Self.armLevel(platform.variant),
            let theirs = Self.armLevel(other.variant), theirs <= mine
        {
            return mine - theirs
        }
        // A manifest without a variant runs on any variant of its architecture.
        return other.variant == nil ? 10 : nil
    }

    static func normalized(_ platform: Platform) -> Platform {
        var result = platform
        result.os = platform.os.lowercased()
        switch platform.architecture.lowercased() {
        case "x86_64", "x86-64": result.architecture = "amd64"
        case "aarch64": result.architecture = "arm64"
        case "armhf":
            result.architecture = "arm"
            result.variant = result.variant ?? "v7"
        case "armel":
            result.architecture = "arm"
            result.variant = result.variant ?? "v6"
        case let other: result.architecture = other
        }
        if result.architecture == "arm64" && (result.variant == nil || result.variant == "8") { result.variant = "v8" }
        if result.architecture == "amd64" && result.variant == "v1" { result.variant = nil }
        if result.variant == "" { result.variant = nil }
        return result
    }

    static func armLevel(_ variant: String?) -> Int? {
        guard let variant, variant.hasPrefix("v") else { return nil }
        return Int(variant.dropFirst())
    }
}
