import Metadata
import SkiffCommon

/// Settings the kubelet pushes at run time through UpdateRuntimeConfig. Kept durably so a
/// restarted daemon knows the pod CIDR before the kubelet sends it again.
public actor RuntimeSettings {
    struct Stored: Codable, Sendable, Equatable {
        var podCIDR: String
    }

    private let file: DurableValueFile<Stored>
    public private(set) var podCIDR: String

    public init(stateDir: String) throws(SkiffError) {
        file = DurableValueFile(path: "\(stateDir)/runtime-settings.json")
        podCIDR = try file.read()?.podCIDR ?? ""
    }

    /// Records the node's pod CIDR; an empty string is ignored (the kubelet sends it when unset).
    public func updatePodCIDR(_ cidr: String) throws(SkiffError) {
        guard !cidr.isEmpty, cidr != podCIDR else { return }
        for part in cidr.split(separator: ",") where !Self.isCIDR(part) {
            throw SkiffError.invalidArgument("pod CIDR \"\(cidr)\" is not a CIDR such as 10.244.1.0/24")
        }
        try file.write(Stored(podCIDR: cidr))
        podCIDR = cidr
    }

    static func isCIDR(_ text: Substring) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let prefix = Int(parts[1]) else { return false }
        if parts[0].contains(":") {
            return (0...128).contains(prefix) && parts[0].allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        }
        let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        return (0...32).contains(prefix) && octets.count == 4 && octets.allSatisfy { UInt8($0) != nil }
    }
}
