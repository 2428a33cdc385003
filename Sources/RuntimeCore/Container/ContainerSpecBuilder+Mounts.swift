import LinuxSys
import SkiffCommon

/// The container's mounts: kernel filesystems, /dev/shm, the pod's /etc files, then the
/// kubelet's binds in order with their propagation.
extension ContainerSpecBuilder {
    /// Kernel filesystems, the pod's /etc files (unless the kubelet mounts its own), then the
    /// requested binds, parents before children.
    static func mounts(_ context: Context) throws(SkiffError) -> ([RuntimeSpec.Mount], String?) {
        let spec = context.spec
        let requested = Set(spec.mounts.map { normalized($0.containerPath) })
        var mounts = RuntimeSpec.standardMounts
        if spec.security.privileged, let sys = mounts.firstIndex(where: { $0.destination == "/sys" }) {
            mounts[sys].options = ["nosuid", "noexec", "nodev", "rw"]
        }
        if !requested.contains("/dev/shm") {
            // The pod's shared tmpfs (its containers share the IPC namespace, so they share
            // /dev/shm too); the node's for host-IPC pods.
            if let shm = context.sandbox.shmPath {
                mounts.append(
                    .init(
                        destination: "/dev/shm",
                        type: "bind",
                        source: shm,
                        options: ["rbind", "rprivate", "nosuid", "noexec", "nodev"]
                    )
                )
            } else if context.sandbox.hostIPC {
                mounts.append(
                    .init(destination: "/dev/shm", type: "bind", source: "/dev/shm", options: ["rbind", "rprivate"])
                )
            } else {
                mounts.append(
                    .init(
                        destination: "/dev/shm",
                        type: "tmpfs",
                        source: "shm",
                        options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]
                    )
                )
            }
        }
        let podFileOptions = spec.security.readOnlyRootfs ? ["rbind", "rprivate", "ro"] : ["rbind", "rprivate"]
        for (file, destination) in [
            ("hostname", "/etc/hostname"), ("resolv.conf", "/etc/resolv.conf"), ("hosts", "/etc/hosts"),
        ]
        where !requested.contains(destination) && FileSystem.exists(context.sandbox.directory + "/" + file) {
            mounts.append(
                .init(
                    destination: destination,
                    type: "bind",
                    source: context.sandbox.directory + "/" + file,
                    options: podFileOptions
                )
            )
        }
        var rootPropagation: String?
        let ordered = spec.mounts.sorted {
            normalized($0.containerPath).split(separator: "/").count
                < normalized($1.containerPath).split(separator: "/").count
        }
        for mount in ordered {
            guard mount.containerPath.hasPrefix("/") else {
                throw SkiffError.invalidArgument("mount destination \"\(mount.containerPath)\" is not an absolute path")
            }
            guard mount.hostPath.hasPrefix("/") else {
                throw SkiffError.invalidArgument(
                    "mount source \"\(mount.hostPath)\" for \(mount.containerPath) is not an absolute path"
                )
            }
            if mount.recursiveReadOnly {
                // The CRI's rules (api.proto, Mount.recursive_read_only), checked as cri-o and
                // containerd check them.
                guard mount.readOnly else {
                    throw SkiffError.invalidArgument(
                        "recursive read-only mount at \(mount.containerPath) must also be readonly"
                    )
                }
                guard mount.propagation == .private else {
                    throw SkiffError.invalidArgument(
                        "recursive read-only mount at \(mount.containerPath) needs private propagation (not \(mount.propagation))"
                    )
                }
                guard context.recursiveReadOnlyMounts else {
                    throw SkiffError.invalidArgument(
                        "recursive read-only mount of \(mount.hostPath) at \(mount.containerPath): handler \(context.sandbox.runtimeHandler) does not support recursive read-only mounts"
                    )
                }
            }
            if !FileSystem.exists(mount.hostPath) {
                // containerd's behaviour: a missing bind source becomes an empty directory.
                do {
                    try FileSystem.makeDirectories(mount.hostPath, mode: 0o755)
                } catch {
                    throw SkiffError(
                        .invalidArgument,
                        "mount source \(mount.hostPath) does not exist and cannot be created",
                        cause: error
                    )
                }
            }
            var options = ["rbind"]
            switch mount.propagation {
            case .private:
                options.append("rprivate")
            case .hostToContainer:
                options.append("rslave")
                if rootPropagation == nil { rootPropagation = "rslave" }
            case .bidirectional:
                guard context.spec.security.privileged else {
                    throw SkiffError.invalidArgument(
                        "bidirectional mount propagation for \(mount.containerPath) needs a privileged container"
                    )
                }
                options.append("rshared")
                rootPropagation = "rshared"
            }
            if mount.readOnly { options.append("ro") }
            if mount.recursiveReadOnly { options.append("rro") }
            mounts.append(
                .init(destination: mount.containerPath, type: "bind", source: mount.hostPath, options: options)
            )
        }
        return (mounts, rootPropagation)
    }

    static func normalized(_ path: String) -> String {
        "/" + path.split(separator: "/").joined(separator: "/")
    }
}
