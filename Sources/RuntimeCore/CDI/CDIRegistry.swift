import Logging
import SkiffCommon

/// Resolves the CDI devices a container asks for against the spec files of the configured
/// directories (`runtime.cdi_spec_dirs`). The directories are read anew for each request that
/// names a device; the registry itself only remembers which broken files it has already
/// logged, so a broken file that no request uses is logged once, not at every creation.
public actor CDIRegistry {
    public nonisolated let directories: [String]
    let logger: Logger
    /// "path: reason" of the problems already logged.
    var logged: Set<String> = []

    public init(directories: [String], logger: Logger) {
        self.directories = directories
        self.logger = logger
    }

    /// The edits of `devices`, in order: each spec's own edits once, before the first of its
    /// devices, then each device's. An unknown device, a conflict, or a broken file that defines
    /// a requested device is INVALID_ARGUMENT naming the device (and the files).
    public func edits(for devices: [CDIDeviceName]) throws(SkiffError) -> CDIEdits {
        guard !devices.isEmpty else { return CDIEdits() }
        let scan = CDISpecDirectories(directories: directories)
        logProblems(of: scan)
        return try Self.edits(for: devices, in: scan, hostDevice: CDIEdits.hostDevice(at:))
    }

    static func edits(
        for devices: [CDIDeviceName],
        in scan: CDISpecDirectories,
        hostDevice: (String) -> CDIEdits.HostDeviceInfo?
    ) throws(SkiffError) -> CDIEdits {
        var edits = CDIEdits()
        var specsApplied: Set<Int> = []
        for name in devices {
            let definition = try definition(of: name, in: scan)
            let spec = scan.specs[definition.spec]
            do {
                if specsApplied.insert(definition.spec).inserted, let specEdits = spec.spec.containerEdits {
                    try edits.append(specEdits, hostDevice: hostDevice)
                }
                try edits.append(definition.device.containerEdits, hostDevice: hostDevice)
            } catch {
                throw SkiffError.invalidArgument("CDI device \(name) (spec file \(spec.path)): \(error.description)")
            }
            edits.devices.append(name)
        }
        return edits
    }

    static func definition(
        of name: CDIDeviceName,
        in scan: CDISpecDirectories
    ) throws(SkiffError) -> CDISpecDirectories.Definition {
        if let files = scan.conflicts[name] {
            throw SkiffError.invalidArgument(
                "CDI device \(name) is defined by more than one spec file of the same directory: \(files.joined(separator: ", "))"
            )
        }
        let definition = scan.definitions[name]
        let priority = definition.map { scan.specs[$0.spec].priority } ?? -1
        if let broken = scan.broken.first(where: { $0.priority >= priority && $0.declares?.contains(name) == true }) {
            throw SkiffError.invalidArgument(
                "CDI device \(name): its spec file \(broken.path) cannot be used: \(broken.reason)"
            )
        }
        guard let definition else {
            var message =
                "CDI device \(name) is not defined by any spec file in \(scan.directories.joined(separator: ", "))"
            let unreadable = scan.broken.filter { $0.declares == nil }
            if !unreadable.isEmpty {
                message +=
                    "; spec files that cannot be read: "
                    + unreadable.prefix(5).map { "\($0.path) (\($0.reason))" }.joined(separator: ", ")
            }
            throw SkiffError.invalidArgument(message)
        }
        return definition
    }

    /// Logs each broken file and conflict once while it lasts.
    func logProblems(of scan: CDISpecDirectories) {
        var current: Set<String> = []
        for file in scan.broken {
            let key = "\(file.path): \(file.reason)"
            current.insert(key)
            if !logged.contains(key) {
                logger.warning(
                    "CDI spec file cannot be used",
                    metadata: ["path": "\(file.path)", "error": "\(file.reason)"]
                )
            }
        }
        for (name, files) in scan.conflicts {
            let key = "\(name): \(files)"
            current.insert(key)
            if !logged.contains(key) {
                logger.warning(
                    "CDI device defined by more than one spec file of one directory; it cannot be used",
                    metadata: ["device": "\(name)", "files": "\(files.joined(separator: ", "))"]
                )
            }
        }
        logged = current
    }
}
