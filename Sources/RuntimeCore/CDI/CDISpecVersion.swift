/// The CDI spec versions Skiff reads, and the oldest version each optional field needs (the
/// spec's "Released versions" table; the CDI library refuses a file that uses a field newer
/// than the version it declares, and so does Skiff).
enum CDISpecVersion {
    /// Oldest to newest. 0.8.0 and 1.0.0 changed only the Go library, not the file format.
    /// 1.1.0 added `netDevices` (moving host interfaces), which Skiff does not apply.
    static let supported = ["0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0", "1.0.0"]

    /// The index of `version` in `supported` ("v" prefix allowed), or why it cannot be read.
    static func index(of version: String) -> Result<Int, VersionProblem> {
        let bare = version.hasPrefix("v") ? String(version.dropFirst()) : version
        if let index = supported.firstIndex(of: bare) { return .success(index) }
        let range = "\(supported.first!) to \(supported.last!)"
        guard let major = bare.split(separator: ".").first.flatMap({ Int($0) }) else {
            return .failure(.init(description: "cdiVersion \"\(version)\" is not a version such as 0.6.0"))
        }
        if major > 1 {
            return .failure(
                .init(
                    description: "cdiVersion \"\(version)\" has a major version Skiff does not know (it reads \(range))"
                )
            )
        }
        return .failure(.init(description: "cdiVersion \"\(version)\" is not supported (Skiff reads \(range))"))
    }

    struct VersionProblem: Error { let description: String }

    /// The newest feature `spec` uses and the version it needs, if any is newer than 0.3.0.
    static func minimumRequired(by spec: CDISpec) -> (version: String, feature: String)? {
        let allEdits = [spec.containerEdits].compactMap { $0 } + spec.devices.map(\.containerEdits)
        if allEdits.contains(where: { $0.intelRdt != nil }) { return ("0.7.0", "intelRdt") }
        if allEdits.contains(where: { !($0.additionalGids ?? []).isEmpty }) { return ("0.7.0", "additionalGids") }
        if !(spec.annotations ?? [:]).isEmpty || spec.devices.contains(where: { !($0.annotations ?? [:]).isEmpty }) {
            return ("0.6.0", "annotations")
        }
        if let slash = spec.kind.firstIndex(of: "/"), spec.kind[slash...].contains(".") {
            return ("0.6.0", "a '.' in the class of kind")
        }
        if spec.devices.contains(where: { $0.name.first?.isNumber == true }) {
            return ("0.5.0", "a device name starting with a digit")
        }
        if allEdits.contains(where: { ($0.deviceNodes ?? []).contains { $0.hostPath.map { !$0.isEmpty } ?? false } }) {
            return ("0.5.0", "deviceNodes.hostPath")
        }
        if allEdits.contains(where: { ($0.mounts ?? []).contains { $0.type.map { !$0.isEmpty } ?? false } }) {
            return ("0.4.0", "mounts.type")
        }
        return nil
    }
}
