import LinuxSys
import SkiffCommon

/// CreateContainer's checks, made before anything is created or the OCI runtime runs: what
/// skiffd can check itself is refused with INVALID_ARGUMENT naming the field, never left to
/// come back as the runtime's raw stderr; and no security field is accepted while ignored.
extension ContainerSpec {
    /// What the checks need to know about the node.
    public struct NodeFacts: Sendable {
        public var cgroupLayout: CgroupLayout?
        /// Huge page sizes the node has, in the kubelet's notation (`2MB`, `1GB`).
        public var hugepageSizes: Set<String>
        public var apparmorEnabled: Bool

        public init(cgroupLayout: CgroupLayout?, hugepageSizes: Set<String>, apparmorEnabled: Bool) {
            self.cgroupLayout = cgroupLayout
            self.hugepageSizes = hugepageSizes
            self.apparmorEnabled = apparmorEnabled
        }

        /// This node's.
        public static func current(cgroupLayout: CgroupLayout?) -> NodeFacts {
            let sizes = (FileSystem.directoryEntries("/sys/kernel/mm/hugepages") ?? []).compactMap(
                hugepageSize(directoryName:)
            )
            // try?: no readable switch means no AppArmor, so a profile is refused, never silently ignored.
            let apparmor =
                (try? FileSystem.readText("/sys/module/apparmor/parameters/enabled"))?.hasPrefix("Y") ?? false
            return NodeFacts(cgroupLayout: cgroupLayout, hugepageSizes: Set(sizes), apparmorEnabled: apparmor)
        }

        /// `hugepages-2048kB` → `2MB`.
        static func hugepageSize(directoryName name: String) -> String? {
            guard name.hasPrefix("hugepages-"), name.hasSuffix("kB"),
                let kilobytes = Int(name.dropFirst(10).dropLast(2)), kilobytes > 0
            else { return nil }
            if kilobytes % (1 << 20) == 0 { return "\(kilobytes >> 20)GB" }
            if kilobytes % (1 << 10) == 0 { return "\(kilobytes >> 10)MB" }
            return "\(kilobytes)KB"
        }
    }

    public func validate(in sandbox: PodSandbox, node: NodeFacts) throws(SkiffError) {
        try RequestCheck.refuseUnrecognized(unrecognized)
        try checkUserNamespace(in: sandbox)
        guard !name.isEmpty else { throw SkiffError.invalidArgument("CreateContainer needs metadata.name") }
        guard name.utf8.count <= 253, !RequestCheck.hasControlCharacters(name) else {
            throw RequestCheck.refuse("metadata.name", name, "is longer than 253 bytes or contains a control character")
        }
        guard !image.isEmpty else { throw SkiffError.invalidArgument("CreateContainer needs image.image") }
        try checkProcess()
        try checkSecurity(in: sandbox, node: node)
        try checkPaths()
        try resources.validate(node: node, field: "linux.resources")
    }

    private func checkProcess() throws(SkiffError) {
        for (index, argument) in command.enumerated() where argument.utf8.contains(0) {
            throw RequestCheck.refuse("command[\(index)]", argument, "contains a NUL byte")
        }
        for (index, argument) in args.enumerated() where argument.utf8.contains(0) {
            throw RequestCheck.refuse("args[\(index)]", argument, "contains a NUL byte")
        }
        for (index, variable) in env.enumerated() {
            guard !variable.key.isEmpty, !variable.key.contains("="), !variable.key.utf8.contains(0),
                !variable.value.utf8.contains(0)
            else {
                throw RequestCheck.refuse(
                    "envs[\(index)].key",
                    variable.key,
                    "is not an environment variable name (non-empty, no '=' or NUL; values without NUL)"
                )
            }
        }
        if !workingDir.isEmpty && !(workingDir.hasPrefix("/") && !workingDir.utf8.contains(0)) {
            throw RequestCheck.refuse("working_dir", workingDir, "is not an absolute path")
        }
    }

    private func checkSecurity(in sandbox: PodSandbox, node: NodeFacts) throws(SkiffError) {
        // nil: a pod recorded before the field was kept, which could run privileged containers then.
        if security.privileged && sandbox.privileged == false {
            throw SkiffError.invalidArgument(
                "linux.security_context.privileged is set but pod sandbox \(sandbox.id) is not privileged (its linux.security_context.privileged is false)"
            )
        }
        if case .localhost(let path) = security.seccomp, !RequestCheck.isCleanAbsolutePath(path) {
            throw RequestCheck.refuse(
                "linux.security_context.seccomp.localhost_ref",
                path,
                "is not an absolute path to a seccomp profile on the node"
            )
        }
        let apparmor = security.apparmorProfile
        if !apparmor.isEmpty && apparmor != "unconfined" && !security.privileged && !node.apparmorEnabled {
            throw RequestCheck.refuse(
                "linux.security_context.apparmor",
                apparmor,
                "names an AppArmor profile, but AppArmor is not enabled on this node; the container would run unconfined"
            )
        }
        for (field, paths) in [
            ("masked_paths", security.maskedPaths ?? []), ("readonly_paths", security.readonlyPaths ?? []),
        ] {
            for (index, path) in paths.enumerated() where !RequestCheck.isCleanAbsolutePath(path) {
                throw RequestCheck.refuse(
                    "linux.security_context.\(field)[\(index)]",
                    path,
                    "is not an absolute path without .. components"
                )
            }
        }
    }

    /// runc's exceptions to "nothing is mounted over /proc" (lxcfs-style files and the one sysctl
    /// CRIU needs); every other destination in /proc is refused by the runtimes.
    static let procMountDestinations: Set<String> = [
        "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps", "/proc/uptime",
        "/proc/loadavg",
        "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
    ]

    private func checkPaths() throws(SkiffError) {
        if !logPath.isEmpty && !RequestCheck.isCleanRelativePath(logPath) {
            throw RequestCheck.refuse(
                "log_path",
                logPath,
                "is not a path relative to the pod's log_directory without .. components"
            )
        }
        for (index, mount) in mounts.enumerated() {
            if let image = mount.image {
                // An image volume (KEP-4639): read-only, a sub-path that stays inside the image.
                guard !image.isEmpty, !RequestCheck.hasControlCharacters(image) else {
                    throw RequestCheck.refuse("mounts[\(index)].image.image", image, "names no image")
                }
                guard mount.readOnly else {
                    throw RequestCheck.refuse(
                        "mounts[\(index)].readonly",
                        "false",
                        "must be true for an image volume: images are mounted read-only"
                    )
                }
                if let subPath = mount.imageSubPath, !RequestCheck.isCleanRelativePath(subPath) {
                    throw RequestCheck.refuse(
                        "mounts[\(index)].image_sub_path",
                        subPath,
                        "is not a relative path without .. components"
                    )
                }
            }
            let destination = ContainerSpecBuilder.normalized(mount.containerPath)
            guard RequestCheck.isCleanAbsolutePath(mount.containerPath) else {
                throw RequestCheck.refuse(
                    "mounts[\(index)].container_path",
                    mount.containerPath,
                    "is not an absolute path without .. components"
                )
            }
            guard destination != "/" else {
                throw RequestCheck.refuse(
                    "mounts[\(index)].container_path",
                    mount.containerPath,
                    "is the container's root; mount below it"
                )
            }
            if (destination == "/proc" || destination.hasPrefix("/proc/"))
                && !Self.procMountDestinations.contains(destination)
            {
                throw RequestCheck.refuse(
                    "mounts[\(index)].container_path",
                    mount.containerPath,
                    "is inside /proc, where the OCI runtimes allow no mounts but a few files"
                )
            }
            guard mount.image != nil || RequestCheck.isCleanAbsolutePath(mount.hostPath) else {
                throw RequestCheck.refuse(
                    "mounts[\(index)].host_path",
                    mount.hostPath,
                    "is not an absolute path without .. components"
                )
            }
        }
        for (index, device) in devices.enumerated() {
            guard RequestCheck.isCleanAbsolutePath(device.containerPath) else {
                throw RequestCheck.refuse(
                    "devices[\(index)].container_path",
                    device.containerPath,
                    "is not an absolute path"
                )
            }
            guard RequestCheck.isCleanAbsolutePath(device.hostPath) else {
                throw RequestCheck.refuse("devices[\(index)].host_path", device.hostPath, "is not an absolute path")
            }
            guard device.permissions.allSatisfy({ "rwm".contains($0) }) else {
                throw RequestCheck.refuse(
                    "devices[\(index)].permissions",
                    device.permissions,
                    "is not a combination of r, w and m"
                )
            }
        }
    }
}

extension ContainerSpec.Resources {
    /// The smallest memory limit accepted: less cannot start a container's process (Docker's
    /// long-standing floor; cri-o's is 12 MiB, but pods with 10Mi limits exist).
    public static let minimumMemoryLimit: Int64 = 6 << 20

    /// Values the kernel and the OCI runtimes accept; also UpdateContainerResources' check.
    public func validate(node: ContainerSpec.NodeFacts, field: String) throws(SkiffError) {
        guard cpuPeriod == 0 || (1000...1_000_000).contains(cpuPeriod) else {
            throw RequestCheck.refuse(
                "\(field).cpu_period",
                cpuPeriod,
                "is outside 1000-1000000 µs (0 for the default)"
            )
        }
        guard cpuQuota == 0 || cpuQuota == -1 || cpuQuota >= 1000 else {
            throw RequestCheck.refuse("\(field).cpu_quota", cpuQuota, "is below 1000 µs (0 or -1 for none)")
        }
        guard cpuShares == 0 || (2...262_144).contains(cpuShares) else {
            throw RequestCheck.refuse("\(field).cpu_shares", cpuShares, "is outside 2-262144 (0 for the default)")
        }
        guard memoryLimitBytes == 0 || memoryLimitBytes >= Self.minimumMemoryLimit else {
            throw RequestCheck.refuse(
                "\(field).memory_limit_in_bytes",
                memoryLimitBytes,
                "is below the smallest limit a container can start with (\(Self.minimumMemoryLimit) bytes; 0 for none)"
            )
        }
        guard
            memorySwapLimitBytes == 0 || memorySwapLimitBytes == -1
                || (memorySwapLimitBytes > 0 && memorySwapLimitBytes >= memoryLimitBytes)
        else {
            throw RequestCheck.refuse(
                "\(field).memory_swap_limit_in_bytes",
                memorySwapLimitBytes,
                "is below memory_limit_in_bytes (\(memoryLimitBytes)); -1 for unlimited, 0 for the default"
            )
        }
        guard (-1000...1000).contains(oomScoreAdj) else {
            throw RequestCheck.refuse("\(field).oom_score_adj", oomScoreAdj, "is outside -1000-1000")
        }
        if !cpusetCpus.isEmpty && !RequestCheck.isCPUList(cpusetCpus, limit: 8192) {
            throw RequestCheck.refuse("\(field).cpuset_cpus", cpusetCpus, "is not a CPU list such as 0-3,6")
        }
        if !cpusetMems.isEmpty && !RequestCheck.isCPUList(cpusetMems, limit: 1024) {
            throw RequestCheck.refuse("\(field).cpuset_mems", cpusetMems, "is not a memory-node list such as 0-1")
        }
        for size in hugepageLimits.keys.sorted() where !node.hugepageSizes.contains(size) {
            let known = node.hugepageSizes.sorted().joined(separator: ", ")
            throw RequestCheck.refuse(
                "\(field).hugepage_limits page_size",
                size,
                "is not a huge page size of this node (\(known.isEmpty ? "none" : known))"
            )
        }
        if !unified.isEmpty && node.cgroupLayout != .unified {
            throw SkiffError.invalidArgument(
                "\(field).unified sets cgroup v2 files, but this node's cgroups are v1 (\(node.cgroupLayout?.rawValue ?? "none")); they would be ignored"
            )
        }
        for (key, value) in unified.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: ".", omittingEmptySubsequences: false)
            let wellFormed =
                parts.count >= 2
                && parts.allSatisfy {
                    !$0.isEmpty && $0.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == 95 }
                }
            guard wellFormed else {
                throw RequestCheck.refuse(
                    "\(field).unified key",
                    key,
                    "is not a cgroup v2 file name such as memory.high"
                )
            }
            guard !RequestCheck.hasControlCharacters(value, allowingTabs: true) else {
                throw RequestCheck.refuse("\(field).unified[\(key)]", value, "is not one line")
            }
        }
    }
}
