import LinuxSys
import SkiffCommon

/// Shared checks of request fields, each refusal an INVALID_ARGUMENT that names the field and
/// shows the value (escaped and truncated: a hostile megabyte is never echoed back).
enum RequestCheck {
    /// The longest value shown in a refusal.
    static let shownLength = 80

    static func refuse(_ field: String, _ value: String, _ reason: String) -> SkiffError {
        SkiffError.invalidArgument("\(field) \(shown(value)) \(reason)")
    }

    /// The first enum field whose value the CRI does not define, refused by name.
    static func refuseUnrecognized(_ values: [UnrecognizedValue]) throws(SkiffError) {
        guard let first = values.first else { return }
        throw SkiffError.invalidArgument(
            "\(first.field) has the value \(first.rawValue), which the CRI (v0.36) does not define"
        )
    }

    static func refuse(_ field: String, _ value: some BinaryInteger, _ reason: String) -> SkiffError {
        SkiffError.invalidArgument("\(field) \(value) \(reason)")
    }

    /// `value` as a quoted literal, control characters escaped, cut after `shownLength` characters.
    static func shown(_ value: String) -> String {
        guard value.count > shownLength else { return doubleQuotedLiteral(value) }
        return doubleQuotedLiteral(String(value.prefix(shownLength))) + "… (\(value.utf8.count) bytes)"
    }

    /// Tabs are allowed where a value is a list of words (`net.ipv4.ip_local_port_range`).
    static func hasControlCharacters(_ value: String, allowingTabs: Bool = false) -> Bool {
        value.unicodeScalars.contains { ($0.value < 0x20 && !(allowingTabs && $0 == "\t")) || $0.value == 0x7F }
    }

    /// `/`-rooted, and no component is `..` (a path that cannot climb out of where it is
    /// joined); no NUL. (`.` components are harmless, and the API allows them.)
    static func isCleanAbsolutePath(_ path: String) -> Bool {
        path.hasPrefix("/") && hasNoParentComponents(path)
    }

    /// Not `/`-rooted, not empty, no `..` component: stays under the directory it is joined to.
    static func isCleanRelativePath(_ path: String) -> Bool {
        !path.isEmpty && !path.hasPrefix("/") && hasNoParentComponents(path)
    }

    private static func hasNoParentComponents(_ path: String) -> Bool {
        !path.utf8.contains(0) && !path.split(separator: "/", omittingEmptySubsequences: true).contains { $0 == ".." }
    }

    static func isIPAddress(_ text: String) -> Bool {
        !text.isEmpty && InterfaceAddresses.canonical(text) != nil
    }

    /// An IP address, or an IPv6 address with a zone (`fe80::1%eth0`), as resolv.conf allows:
    /// the kubelet copies the node's name servers verbatim for host-network pods.
    static func isNameServerAddress(_ text: String) -> Bool {
        guard let percent = text.firstIndex(of: "%") else { return isIPAddress(text) }
        let address = String(text[..<percent])
        let zone = text[text.index(after: percent)...]
        return address.contains(":") && isIPAddress(address) && !zone.isEmpty && zone.count <= 16
            && zone.utf8.allSatisfy {
                (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) || $0 == 45 || $0 == 46
                    || $0 == 95
            }
    }

    /// A kernel CPU or memory-node list: `0-3,8,10-11`, every number below `limit`.
    static func isCPUList(_ text: String, limit: Int) -> Bool {
        let ranges = text.split(separator: ",", omittingEmptySubsequences: false)
        guard !ranges.isEmpty else { return false }
        for range in ranges {
            let bounds = range.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count),
                bounds.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { (48...57).contains($0) } && $0.count <= 5 })
            else {
                return false
            }
            let numbers = bounds.compactMap { Int($0) }
            guard numbers.count == bounds.count, numbers.allSatisfy({ $0 < limit }), numbers.first! <= numbers.last!
            else { return false }
        }
        return true
    }
}
