import LinuxSys

/// One reading of the CDI spec directories: every device of every usable spec file, by
/// qualified name, the spec directories' priority applied (a later directory overrides an
/// earlier one; two definitions in one directory are a conflict), and the files that could not
/// be used. Made anew for each CreateContainer that asks for CDI devices, so a spec a device
/// plugin wrote a moment before is seen without a watch.
struct CDISpecDirectories {
    /// A spec file that parsed and passed the checks.
    struct LoadedSpec {
        var path: String
        var priority: Int
        var spec: CDISpec
    }

    struct Definition {
        /// Index into `specs`.
        var spec: Int
        var device: CDISpec.Device
    }

    /// A spec file that cannot be used, and what it defines as far as that can be read.
    struct BrokenFile: Equatable {
        var path: String
        var priority: Int
        var reason: String
        /// Qualified device names its outline lists; nil when not even that can be read.
        var declares: Set<CDIDeviceName>?
    }

    var directories: [String]
    var specs: [LoadedSpec] = []
    var definitions: [CDIDeviceName: Definition] = [:]
    /// Devices defined by more than one file of their highest-priority directory: the files.
    var conflicts: [CDIDeviceName: [String]] = [:]
    var broken: [BrokenFile] = []

    /// Reads `directories` in order; a missing directory is skipped.
    init(directories: [String], readFile: (String) throws -> [UInt8] = CDISpecDirectories.readSpecFile) {
        self.directories = directories
        for (priority, directory) in directories.enumerated() {
            for name in FileSystem.directoryEntries(directory) ?? [] {
                guard let format = CDISpecParser.Format(fileName: name) else { continue }
                let path = directory + "/" + name
                // Directories named *.json are skipped, as the CDI library does; a symlink to a
                // file is read.
                // try?: a file whose type cannot be read is reported by its read below.
                if (try? FileSystem.type(of: path)) == .directory { continue }
                load(path, format: format, priority: priority, readFile: readFile)
            }
        }
    }

    static func readSpecFile(_ path: String) throws -> [UInt8] {
        try FileSystem.readBytes(path, limit: CDISpecParser.maximumSize + 1)
    }

    private mutating func load(
        _ path: String,
        format: CDISpecParser.Format,
        priority: Int,
        readFile: (String) throws -> [UInt8]
    ) {
        let bytes: [UInt8]
        do {
            bytes = try readFile(path)
        } catch {
            broken.append(.init(path: path, priority: priority, reason: "\(error)", declares: nil))
            return
        }
        let parsed: (spec: CDISpec, vendor: String, class: String)
        do {
            parsed = try CDISpecParser.parse(bytes, format: format)
        } catch {
            broken.append(
                .init(
                    path: path,
                    priority: priority,
                    reason: error.description,
                    declares: Self.declaredDevices(bytes, format: format)
                )
            )
            return
        }
        let index = specs.count
        specs.append(.init(path: path, priority: priority, spec: parsed.spec))
        for device in parsed.spec.devices {
            let name = CDIDeviceName(kind: (parsed.vendor, parsed.class), name: device.name)
            if let existing = definitions[name] {
                let other = specs[existing.spec]
                if other.priority == priority {
                    conflicts[name, default: [other.path]].append(path)
                    continue
                }
                // A later directory overrides: its definition replaces the earlier one and
                // ends an earlier directory's conflict.
                conflicts[name] = nil
            }
            definitions[name] = .init(spec: index, device: device)
        }
    }

    /// The qualified names a broken file's outline lists, for naming it when one is asked for.
    static func declaredDevices(_ bytes: [UInt8], format: CDISpecParser.Format) -> Set<CDIDeviceName>? {
        guard let outline = CDISpecParser.outline(bytes, format: format),
            let slash = outline.kind.firstIndex(of: "/")
        else { return nil }
        let kind = (
            vendor: String(outline.kind[..<slash]), class: String(outline.kind[outline.kind.index(after: slash)...])
        )
        return Set(outline.devices.map { CDIDeviceName(kind: kind, name: $0) })
    }
}
