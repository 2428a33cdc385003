import FoundationEssentials
import SkiffCommon

/// The Linux capabilities a container process gets: the runtime default, every capability the
/// kernel knows, and the CRI `capabilities` add/drop lists applied to the default.
public enum CapabilitySet {
    /// What an unprivileged container gets when its config neither adds nor drops anything:
    /// containerd's default set (docker's too), so workloads see the same capabilities as there.
    public static let runtimeDefault: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
        "CAP_AUDIT_WRITE",
    ]

    /// Every capability the running kernel knows (numbers 0 through
    /// `/proc/sys/kernel/cap_last_cap`), by name, in number order. Capabilities newer than
    /// Skiff's name table are left out: no OCI runtime could name them either.
    /// Limited to skiffd's own bounding set: a capability the daemon cannot hold cannot be given
    /// (these nodes lack CAP_SYS_RESOURCE, and runc then fails with "unable to apply caps").
    public static func all() -> [String] {
        let names = names(throughLastCap: kernelLastCap())
        guard let bounding = ownBoundingSet() else { return names }
        return names.enumerated().filter { $0.offset < 64 && bounding & (UInt64(1) << UInt64($0.offset)) != 0 }.map(
            \.element
        )
    }

    /// CapBnd of this process, from /proc/self/status.
    static func ownBoundingSet() -> UInt64? {
        // try?: without the bounding set, no capability is filtered out: the fallback `all()` documents.
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("CapBnd:") })
        else { return nil }
        return UInt64(line.dropFirst("CapBnd:".count).trimmingWhitespace(), radix: 16)
    }

    /// The capability set of a container, following the CRI `LinuxContainerSecurityContext`:
    /// a privileged container gets ``all()`` and its add/drop lists are ignored (as in
    /// containerd); otherwise the set starts from ``runtimeDefault``, `ALL` in `add` makes it
    /// ``all()``, `ALL` in `drop` empties it, then the named capabilities in `add` are added and
    /// those in `drop` removed. Names are case-insensitive, with or without the `CAP_` prefix
    /// (`NET_ADMIN`, `net_admin`, `CAP_NET_ADMIN`). The result is sorted and has no duplicates.
    public static func resolve(add: [String], drop: [String], privileged: Bool) throws(SkiffError) -> [String] {
        try resolve(add: add, drop: drop, privileged: privileged, available: all())
    }

    /// ``resolve(add:drop:privileged:)`` with `available` standing for ``all()``.
    static func resolve(
        add: [String],
        drop: [String],
        privileged: Bool,
        available: [String]
    ) throws(SkiffError) -> [String] {
        if privileged { return Array(Set(available)).sorted() }
        let added = try parse(add, field: "add_capabilities")
        let dropped = try parse(drop, field: "drop_capabilities")
        var result = Set(runtimeDefault)
        if added.all { result = Set(available) }
        if dropped.all { result = [] }
        result.formUnion(added.names)
        result.subtract(dropped.names)
        return result.sorted()
    }

    /// Capability names by number, through CAP_CHECKPOINT_RESTORE (40, Linux 5.9).
    static let knownNames: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ]

    /// The names of capabilities 0 through `lastCap`; the whole table when the kernel's last
    /// capability is unknown.
    static func names(throughLastCap lastCap: Int?) -> [String] {
        guard let lastCap, lastCap >= 0 else { return knownNames }
        return Array(knownNames.prefix(lastCap + 1))
    }

    /// `/proc/sys/kernel/cap_last_cap`, or nil when it cannot be read.
    static func kernelLastCap() -> Int? {
        // try?: an unknown last capability means the whole name table, as `names(throughLastCap:)` documents.
        guard let text = try? String(contentsOfFile: "/proc/sys/kernel/cap_last_cap", encoding: .utf8) else {
            return nil
        }
        return Int(text.trimmingWhitespace())
    }

    /// The canonical `CAP_…` form of a name as a CRI client may write it, or nil when no
    /// capability has that name.
    static func canonicalName(_ name: String) -> String? {
        let upper = name.uppercased()
        let canonical = upper.hasPrefix("CAP_") ? upper : "CAP_" + upper
        return knownNames.contains(canonical) ? canonical : nil
    }

    /// One CRI list: whether it holds `ALL`, and its other names in canonical form.
    private static func parse(_ list: [String], field: String) throws(SkiffError) -> (all: Bool, names: [String]) {
        var all = false
        var names: [String] = []
        for name in list {
            if name.uppercased() == "ALL" {
                all = true
            } else if let canonical = canonicalName(name) {
                names.append(canonical)
            } else {
                throw .invalidArgument("unknown capability \(doubleQuotedLiteral(name)) in \(field)")
            }
        }
        return (all, names)
    }
}
