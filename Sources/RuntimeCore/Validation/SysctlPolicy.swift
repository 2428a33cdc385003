import SkiffCommon

/// Which sysctls a pod may set: only those the kernel keeps per namespace, and only for a
/// namespace the pod owns. Anything else would be written to the node's own kernel (a pod with
/// `kernel.panic`, or `kernel.shm_rmid_forced` in the node's IPC namespace).
///
/// The namespaced sets are Kubernetes' (`net.*` per network namespace; `kernel.shm*`,
/// `kernel.msg*`, `kernel.sem` and `fs.mqueue.*` per IPC namespace). Names are dotted, as the
/// kubelet sends them: a `/` inside a segment stands for a literal dot in that segment (an
/// interface name such as `eth0.100`), as in the kubelet's normalised form.
enum SysctlPolicy {
    enum Namespace: String { case network, ipc }

    /// The namespace `name` belongs to, or nil when the kernel does not namespace it.
    static func namespace(of name: String) -> Namespace? {
        if name.hasPrefix("net.") { return .network }
        if name.hasPrefix("kernel.shm") || name.hasPrefix("kernel.msg") || name == "kernel.sem"
            || name.hasPrefix("fs.mqueue.")
        {
            return .ipc
        }
        return nil
    }

    static func check(_ sysctls: [String: String], hostNetwork: Bool, hostIPC: Bool) throws(SkiffError) {
        for (name, value) in sysctls.sorted(by: { $0.key < $1.key }) {
            let field = "linux.sysctls[\(RequestCheck.shown(name))]"
            guard isWellFormed(name) else {
                throw RequestCheck.refuse(
                    "linux.sysctls key",
                    name,
                    "is not a sysctl name (dot-separated segments of a-z, 0-9, '-', '_')"
                )
            }
            switch namespace(of: name) {
            case nil:
                throw RequestCheck.refuse(
                    "linux.sysctls key",
                    name,
                    "is not a namespaced sysctl: setting it would change the node's kernel (a pod may set net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)"
                )
            case .network where hostNetwork:
                throw RequestCheck.refuse(
                    "linux.sysctls key",
                    name,
                    "is a network sysctl and the pod uses the node's network namespace (namespace_options.network = NODE)"
                )
            case .ipc where hostIPC:
                throw RequestCheck.refuse(
                    "linux.sysctls key",
                    name,
                    "is an IPC sysctl and the pod uses the node's IPC namespace (namespace_options.ipc = NODE)"
                )
            default:
                break
            }
            // One line (a final newline is what `echo` would write anyway), at most 4096 bytes.
            let line = value.hasSuffix("\n") ? String(value.dropLast()) : value
            guard value.utf8.count <= 4096, !RequestCheck.hasControlCharacters(line, allowingTabs: true) else {
                throw RequestCheck.refuse(field, value, "is not a sysctl value (one line of at most 4096 bytes)")
            }
        }
    }

    static func isWellFormed(_ name: String) -> Bool {
        guard name.utf8.count <= 256 else { return false }
        let segments = name.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count >= 2 else { return false }
        return segments.allSatisfy { segment in
            guard let first = segment.utf8.first, let last = segment.utf8.last, isAlphanumeric(first),
                isAlphanumeric(last)
            else { return false }
            return segment.utf8.allSatisfy {
                isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "/")
            }
                && !segment.contains("//")
        }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
