/// The checks of a decoded spec file. Spec files are hostile input: whatever reaches the OCI
/// spec from them must be absolute paths without `..`, well-formed environment entries, known
/// hook stages and device types, and versions that carry the fields used.
extension CDISpec {
    struct Invalid: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// The kind's vendor and class.
    func validated() throws(Invalid) -> (vendor: String, class: String) {
        let versionIndex: Int
        switch CDISpecVersion.index(of: cdiVersion) {
        case .success(let index): versionIndex = index
        case .failure(let problem): throw Invalid(problem.description)
        }
        if let needed = CDISpecVersion.minimumRequired(by: self),
            let neededIndex = CDISpecVersion.supported.firstIndex(of: needed.version), neededIndex > versionIndex
        {
            throw Invalid(
                "it uses \(needed.feature), which needs cdiVersion \(needed.version) (it declares \(cdiVersion))"
            )
        }
        let parts = kind.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw Invalid("kind \"\(kind)\" is not vendor/class") }
        if let problem = CDIDeviceName.vendorOrClassProblem(String(parts[0]))
            ?? CDIDeviceName.vendorOrClassProblem(String(parts[1]))
        {
            throw Invalid("kind \"\(kind)\": \(problem)")
        }
        guard !devices.isEmpty else { throw Invalid("it defines no devices") }
        if let containerEdits { try containerEdits.validate(in: "containerEdits") }
        var names: Set<String> = []
        for device in devices {
            if let problem = CDIDeviceName.deviceNameProblem(device.name) { throw Invalid(problem) }
            guard names.insert(device.name).inserted else {
                throw Invalid("device \"\(device.name)\" is defined twice")
            }
            guard !device.containerEdits.isEmpty else { throw Invalid("device \"\(device.name)\" has no edits") }
            try device.containerEdits.validate(in: "device \"\(device.name)\"")
        }
        return (String(parts[0]), String(parts[1]))
    }
}

extension CDISpec.ContainerEdits {
    static let hookStages: Set<String> = [
        "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
    ]

    func validate(in place: String) throws(CDISpec.Invalid) {
        for entry in env ?? [] { try Self.checkEnvironment(entry, in: place) }
        for node in deviceNodes ?? [] {
            try Self.checkPath(node.path, "deviceNodes.path", in: place)
            if let hostPath = node.hostPath, !hostPath.isEmpty {
                try Self.checkPath(hostPath, "deviceNodes.hostPath", in: place)
            }
            if let type = node.type, !["", "b", "c", "u", "p"].contains(type) {
                throw CDISpec.Invalid("\(place): device node \(node.path) has type \"\(type)\" (not b, c, u or p)")
            }
            if let permissions = node.permissions, permissions != "none",
                !permissions.allSatisfy({ "rwm".contains($0) })
            {
                throw CDISpec.Invalid(
                    "\(place): device node \(node.path) has permissions \"\(permissions)\" (any of r, w, m, or none)"
                )
            }
            if (node.major ?? 0) < 0 || (node.minor ?? 0) < 0 {
                throw CDISpec.Invalid("\(place): device node \(node.path) has a negative major or minor number")
            }
        }
        for mount in mounts ?? [] {
            try Self.checkPath(mount.hostPath, "mounts.hostPath", in: place)
            try Self.checkPath(mount.containerPath, "mounts.containerPath", in: place)
            for option in mount.options ?? [] where option.utf8.contains(0) {
                throw CDISpec.Invalid("\(place): mount at \(mount.containerPath) has an option with a NUL byte")
            }
        }
        for hook in hooks ?? [] {
            guard Self.hookStages.contains(hook.hookName) else {
                throw CDISpec.Invalid("\(place): hook \"\(hook.hookName)\" is not an OCI hook stage")
            }
            try Self.checkPath(hook.path, "hooks.path", in: place)
            for entry in hook.env ?? [] { try Self.checkEnvironment(entry, in: place) }
            if let timeout = hook.timeout, timeout <= 0 {
                throw CDISpec.Invalid("\(place): hook \(hook.path) has timeout \(timeout) (must be above zero)")
            }
        }
        if let closID = intelRdt?.closID, closID != "/",
            closID.count >= 4096 || closID == "." || closID == ".." || closID.contains("/") || closID.contains("\n")
        {
            throw CDISpec.Invalid("\(place): intelRdt.closID \"\(closID)\" is not a file name")
        }
    }

    /// Absolute, no `..` component, no NUL byte; judged on the bytes, as the kernel reads them.
    static func checkPath(_ path: String, _ field: String, in place: String) throws(CDISpec.Invalid) {
        let bytes = Array(path.utf8)
        guard bytes.first == UInt8(ascii: "/") else {
            throw CDISpec.Invalid("\(place): \(field) \"\(path)\" is not an absolute path")
        }
        let parent: ArraySlice<UInt8> = [UInt8(ascii: "."), UInt8(ascii: ".")]
        guard !bytes.split(separator: UInt8(ascii: "/")).contains(parent), !bytes.contains(0) else {
            throw CDISpec.Invalid("\(place): \(field) \"\(path)\" has a '..' component or a NUL byte")
        }
    }

    static func checkEnvironment(_ entry: String, in place: String) throws(CDISpec.Invalid) {
        let bytes = entry.utf8
        guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")), equals != bytes.startIndex, !bytes.contains(0)
        else {
            throw CDISpec.Invalid("\(place): environment entry \"\(entry)\" is not NAME=value")
        }
    }
}
