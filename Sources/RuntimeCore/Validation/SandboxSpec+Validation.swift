import LinuxSys
import SkiffCommon

/// RunPodSandbox's checks, made before anything is created: every field that reaches the node
/// (a path, a sysctl, a file the pod mounts, a CNI argument, an iptables rule) is refused when it
/// could change something outside the pod, and no security field is accepted while ignored.
extension SandboxSpec {
    public func validate() throws(SkiffError) {
        try RequestCheck.refuseUnrecognized(unrecognized)
        try checkUserNamespace()
        try Self.checkIdentity([("metadata.name", name), ("metadata.namespace", namespace), ("metadata.uid", uid)])
        try checkHostname()
        if !logDirectory.isEmpty && !RequestCheck.isCleanAbsolutePath(logDirectory) {
            throw RequestCheck.refuse("log_directory", logDirectory, "is not an absolute path without .. components")
        }
        if !cgroupParent.isEmpty
            && !(RequestCheck.isCleanAbsolutePath(cgroupParent) && !RequestCheck.hasControlCharacters(cgroupParent))
        {
            throw RequestCheck.refuse(
                "linux.cgroup_parent",
                cgroupParent,
                "is not an absolute cgroupfs path without .. components (the cgroupfs driver is configured)"
            )
        }
        try SysctlPolicy.check(sysctls, hostNetwork: hostNetwork, hostIPC: hostIPC)
        if let dns { try Self.check(dns) }
        try checkPortMappings()
    }

    /// Names that become CNI_ARGS (`K8S_POD_NAME=…;…`), log fields and record keys: non-empty,
    /// bounded, one line, and free of CNI_ARGS' separators (a `;` would add arguments of its own
    /// choosing, such as host-local's `IP=`).
    static func checkIdentity(_ fields: [(String, String)]) throws(SkiffError) {
        for (field, value) in fields {
            guard !value.isEmpty else { throw SkiffError.invalidArgument("RunPodSandbox needs \(field)") }
            guard value.utf8.count <= 253 else { throw RequestCheck.refuse(field, value, "is longer than 253 bytes") }
            guard !RequestCheck.hasControlCharacters(value), !value.contains(";"), !value.contains("=") else {
                throw RequestCheck.refuse(field, value, "contains a control character, ';' or '='")
            }
        }
    }

    /// The hostname is written into the pod's /etc/hosts and /etc/hostname: one RFC 1123 name.
    private func checkHostname() throws(SkiffError) {
        guard !hostname.isEmpty else { return }
        // 64: the kernel's limit, which the kubelet's setHostnameAsFQDN may reach.
        guard hostname.utf8.count <= 64 else {
            throw RequestCheck.refuse("hostname", hostname, "is longer than 64 bytes")
        }
        let allowed = hostname.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
        guard allowed, !hostname.hasPrefix("-"), !hostname.hasPrefix(".") else {
            throw RequestCheck.refuse("hostname", hostname, "is not a host name (letters, digits, '-' and '.')")
        }
    }

    /// resolv.conf is written line by line from these: each entry is one word, servers are IP
    /// addresses.
    static func check(_ dns: DNS) throws(SkiffError) {
        for (index, server) in dns.servers.enumerated() where !RequestCheck.isNameServerAddress(server) {
            throw RequestCheck.refuse("dns_config.servers[\(index)]", server, "is not an IP address")
        }
        for (index, search) in dns.searches.enumerated() {
            let allowed = search.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
            }
            guard !search.isEmpty, search.utf8.count <= 253, allowed else {
                throw RequestCheck.refuse(
                    "dns_config.searches[\(index)]",
                    search,
                    "is not a search domain (letters, digits, '-', '_' and '.', at most 253 bytes)"
                )
            }
        }
        for (index, option) in dns.options.enumerated() {
            guard !option.isEmpty, option.utf8.count <= 256, !RequestCheck.hasControlCharacters(option),
                !option.unicodeScalars.contains(where: { $0 == " " })
            else {
                throw RequestCheck.refuse(
                    "dns_config.options[\(index)]",
                    option,
                    "is not a resolver option (one word such as ndots:5)"
                )
            }
        }
    }

    /// Ports in range, host IPs that parse, and no host port claimed twice for one protocol and
    /// address (the second DNAT rule would silently shadow the first).
    private func checkPortMappings() throws(SkiffError) {
        var claimed: [(index: Int, mapping: PortMapping)] = []
        for (index, mapping) in portMappings.enumerated() {
            let field = "port_mappings[\(index)]"
            guard (1...65535).contains(mapping.containerPort) else {
                throw RequestCheck.refuse("\(field).container_port", mapping.containerPort, "is not a port (1-65535)")
            }
            guard (0...65535).contains(mapping.hostPort) else {
                throw RequestCheck.refuse(
                    "\(field).host_port",
                    mapping.hostPort,
                    "is not a port (1-65535, or 0 for none)"
                )
            }
            guard mapping.hostIP.isEmpty || RequestCheck.isIPAddress(mapping.hostIP) else {
                throw RequestCheck.refuse("\(field).host_ip", mapping.hostIP, "is not an IP address")
            }
            guard mapping.hostPort > 0 else { continue }
            if let earlier = claimed.first(where: {
                $0.mapping.hostPort == mapping.hostPort && $0.mapping.protocol == mapping.protocol
                    && Self.addressesOverlap($0.mapping.hostIP, mapping.hostIP)
            }) {
                throw SkiffError.invalidArgument(
                    "\(field) maps host port \(mapping.hostPort)/\(mapping.protocol) that port_mappings[\(earlier.index)] already maps"
                )
            }
            claimed.append((index, mapping))
        }
    }

    /// Whether two host IPs of a mapping claim a common address: "" is every address, 0.0.0.0
    /// every IPv4 one and :: every IPv6 one (a dual-stack pod maps one port on both).
    private static func addressesOverlap(_ first: String, _ second: String) -> Bool {
        if first.isEmpty || second.isEmpty { return true }
        let firstIsV6 = first.contains(":")
        let secondIsV6 = second.contains(":")
        guard firstIsV6 == secondIsV6 else { return false }
        let wildcard = firstIsV6 ? "::" : "0.0.0.0"
        return first == wildcard || second == wildcard
            || InterfaceAddresses.canonical(first) == InterfaceAddresses.canonical(second)
    }
}

extension SandboxSpec {
    /// A pod user namespace: well-formed mappings (`UserNamespaceOption.validatedPodMapping`)
    /// and namespaces of its own — the node's network, IPC or PID namespaces belong to the node's
    /// user namespace, where the pod's root is nobody (RuntimeFeatures does not advertise
    /// user_namespaces_host_network).
    func checkUserNamespace() throws(SkiffError) {
        guard let userNamespace, try userNamespace.validatedPodMapping() != nil else { return }
        for (shared, option) in [(hostNetwork, "network"), (hostIPC, "ipc"), (hostPID, "pid")] where shared {
            throw SkiffError.invalidArgument(
                "\(UserNamespaceOption.field) mode POD cannot be combined with namespace_options.\(option) NODE: the node's namespaces are not the pod user namespace's"
            )
        }
    }
}

extension SandboxSpec {
    /// What a pod run in a gVisor sandbox cannot have: the sandbox has its own kernel, so it
    /// cannot share the node's PID namespace, and its user namespace is the sentry's affair.
    func checkRunsInSandbox(of handler: String) throws(SkiffError) {
        if hostPID {
            throw SkiffError.invalidArgument(
                "runtime handler \"\(handler)\" runs the pod in a sandbox with its own kernel, which cannot share the node's PID namespace (namespace_options.pid NODE)"
            )
        }
        if userNamespace.map({ $0.mode != .node }) == true {
            throw SkiffError.invalidArgument(
                "runtime handler \"\(handler)\" runs the pod in a sandbox with its own kernel; userns_options mode POD is not supported with it"
            )
        }
    }
}
