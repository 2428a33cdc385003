import SkiffCommon

/// A fully qualified CDI device name, `vendor/class=name` (`vendor.com/gpu=0`): the form the
/// kubelet sends in `ContainerConfig.CDI_devices` and device plugins in `cdi.k8s.io/` annotations.
/// The character rules are the CDI library's (`pkg/parser`).
public struct CDIDeviceName: Hashable, Sendable, CustomStringConvertible {
    public let vendor: String
    public let `class`: String
    public let name: String

    /// `vendor/class`, the `kind` of the spec files that define the device.
    public var kind: String { "\(vendor)/\(`class`)" }
    public var description: String { "\(vendor)/\(`class`)=\(name)" }

    /// Parses and checks `text`; the error says what is wrong with it.
    public init(parsing text: String) throws(SkiffError) {
        guard let equals = text.firstIndex(of: "="), let slash = text[..<equals].firstIndex(of: "/") else {
            throw SkiffError.invalidArgument(
                "CDI device name \"\(text)\" is not fully qualified: expected vendor/class=name (vendor.com/device=0)"
            )
        }
        let vendor = String(text[..<slash])
        let deviceClass = String(text[text.index(after: slash)..<equals])
        let name = String(text[text.index(after: equals)...])
        if let problem = Self.vendorOrClassProblem(vendor) ?? Self.vendorOrClassProblem(deviceClass)
            ?? Self.deviceNameProblem(name)
        {
            throw SkiffError.invalidArgument("CDI device name \"\(text)\" is malformed: \(problem)")
        }
        self.vendor = vendor
        self.class = deviceClass
        self.name = name
    }

    public init(kind: (vendor: String, class: String), name: String) {
        vendor = kind.vendor
        self.class = kind.class
        self.name = name
    }

    /// A vendor or class: ASCII letters first, then letters, digits, `_`, `-` or `.`, ending
    /// with a letter or digit. nil when `text` is one.
    static func vendorOrClassProblem(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, let last = bytes.last else { return "empty vendor or class" }
        guard isLetter(first) else { return "\"\(text)\" must start with a letter" }
        guard isAlphanumeric(last) else { return "\"\(text)\" must end with a letter or digit" }
        for byte in bytes.dropFirst().dropLast() where !isAlphanumeric(byte) && !"_-.".utf8.contains(byte) {
            return "\"\(text)\" has a character other than letters, digits, '_', '-' and '.'"
        }
        return nil
    }

    /// A device name: a letter or digit first and last, letters, digits, `_`, `-`, `.` or `:`
    /// between. nil when `text` is one.
    static func deviceNameProblem(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, let last = bytes.last else { return "empty device name" }
        guard isAlphanumeric(first), isAlphanumeric(last) else {
            return "device name \"\(text)\" must start and end with a letter or digit"
        }
        for byte in bytes.dropFirst().dropLast() where !isAlphanumeric(byte) && !"_-.:".utf8.contains(byte) {
            return "device name \"\(text)\" has a character other than letters, digits, '_', '-', '.' and ':'"
        }
        return nil
    }

    static func isLetter(_ byte: UInt8) -> Bool { (65...90).contains(byte) || (97...122).contains(byte) }
    static func isAlphanumeric(_ byte: UInt8) -> Bool { isLetter(byte) || (48...57).contains(byte) }
}

/// The CDI devices a CreateContainer asks for, from both of the places the kubelet puts them.
public enum CDIRequest {
    /// The annotation prefix of device plugins' CDI requests (`cdi.k8s.io/<plugin>_<device>`).
    public static let annotationPrefix = "cdi.k8s.io/"

    /// `CDI_devices` first, then the `cdi.k8s.io/` annotations in key order, each value a
    /// comma-separated list of qualified names; a device named twice is used once.
    public static func devices(
        cdiDevices: [String],
        annotations: [String: String]
    ) throws(SkiffError) -> [CDIDeviceName] {
        var names: [CDIDeviceName] = []
        var seen: Set<CDIDeviceName> = []
        func add(_ name: CDIDeviceName) {
            if seen.insert(name).inserted { names.append(name) }
        }
        for text in cdiDevices {
            add(try CDIDeviceName(parsing: text))
        }
        for (key, value) in annotations.sorted(by: { $0.key < $1.key }) where key.hasPrefix(annotationPrefix) {
            for part in value.split(separator: ",", omittingEmptySubsequences: false) {
                do {
                    add(try CDIDeviceName(parsing: String(part)))
                } catch {
                    throw SkiffError.invalidArgument("annotation \(key): \(error.message)")
                }
            }
        }
        return names
    }
}
