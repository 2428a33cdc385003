import Glibc
import LinuxSys
import Logging
import Synchronization

/// Whether the kernel makes idmapped mounts of the filesystem holding Skiff's layers and
/// containers (Linux 5.12+, and a filesystem that allows them: ext4, xfs, btrfs, tmpfs 6.3+ …).
/// A pod user namespace needs them for its root filesystem, so no handler is advertised with
/// user namespaces without them. Probed once at start by `skiff-pinns --check-idmap`, which
/// makes a throwaway user namespace and an idmapped copy of the directory's mount.
public enum IDMappedMountSupport {
    private static let probed = Mutex<Bool>(false)

    public static var isSupported: Bool { probed.withLock { $0 } }

    public static func probe(directory: String, helper: String, logger: Logger) async {
        if let closed = firstUnsearchableAncestor(of: directory) {
            logger.notice(
                "pods with a user namespace are refused: the OCI runtime mounts their root filesystem as the pod's root, which cannot enter a directory closed to others",
                metadata: ["directory": "\(closed)", "fix": "chmod o+x \(closed)"]
            )
            probed.withLock { $0 = false }
            return
        }
        let supported: Bool
        do {
            let result = try await ChildProcess.run(
                helper,
                arguments: ["--check-idmap", directory],
                timeout: .seconds(10)
            )
            supported = result.status == 0 && !result.timedOut
            if !supported {
                logger.notice(
                    "no idmapped mounts here: pods with a user namespace are refused",
                    metadata: ["directory": "\(directory)", "reason": "\(result.stderrText.trimmingNewline)"]
                )
            }
        } catch {
            supported = false
            logger.warning("cannot check for idmapped mounts", metadata: ["helper": "\(helper)", "error": "\(error)"])
        }
        probed.withLock { $0 = supported }
    }

    /// The first of `directory` and its ancestors that a process without the node's root (the
    /// pod's root is one) cannot search: runc's init, already in the pod's user namespace,
    /// bind-mounts the root filesystem by its path.
    static func firstUnsearchableAncestor(of directory: String) -> String? {
        var path = ""
        for component in directory.split(separator: "/") {
            path += "/" + component
            var status = stat()
            guard stat(path, &status) == 0 else { return path }
            if status.st_mode & 0o001 == 0 { return path }
        }
        return nil
    }

    /// For tests that run pods with a user namespace without the daemon's start-up.
    public static func assume(_ supported: Bool) { probed.withLock { $0 = supported } }
}

extension RuntimeHandlerSet.Handler {
    /// The handler runs pods in their own user namespace: its runtime joins one by path, and
    /// the node makes the idmapped mounts the pod's root filesystem needs.
    public var supportsUserNamespaces: Bool { features.userNamespaces && IDMappedMountSupport.isSupported }
}
