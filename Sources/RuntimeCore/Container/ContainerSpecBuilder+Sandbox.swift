import SkiffCommon

/// The spec of a container that runs inside its pod's sandbox (gVisor, `SandboxedRuntime`):
/// the CRI annotations by which runsc finds the sandbox, the pod's /dev/shm as the sandbox's
/// shared tmpfs, and PID namespaces as the sandbox's kernel provides them.
extension ContainerSpecBuilder {
    /// The annotation keys containerd and cri-o set and runsc reads (`io.kubernetes.cri.`).
    enum SandboxAnnotation {
        static let containerType = "io.kubernetes.cri.container-type"
        static let sandboxID = "io.kubernetes.cri.sandbox-id"
        static let sandboxName = "io.kubernetes.cri.sandbox-name"
        static let sandboxNamespace = "io.kubernetes.cri.sandbox-namespace"
        static let sandboxUID = "io.kubernetes.cri.sandbox-uid"
        static let sandboxLogDirectory = "io.kubernetes.cri.sandbox-log-directory"
        static let containerName = "io.kubernetes.cri.container-name"
        static let imageName = "io.kubernetes.cri.image-name"
        /// gVisor's mount hint naming the pod's /dev/shm: one tmpfs in the sandbox that every
        /// container mounting that source shares (runsc/boot/mount_hints.go).
        static let shmHint = "dev.gvisor.spec.mount.skiffdevshm."
    }

    /// What the pod's sandbox container (its pause) carries.
    static func sandboxAnnotations(of sandbox: PodSandbox, sandboxContainerID: String) -> [String: String] {
        var annotations = [
            SandboxAnnotation.containerType: "sandbox",
            SandboxAnnotation.sandboxID: sandboxContainerID,
            SandboxAnnotation.sandboxName: sandbox.name,
            SandboxAnnotation.sandboxNamespace: sandbox.namespace,
            SandboxAnnotation.sandboxUID: sandbox.uid,
            SandboxAnnotation.sandboxLogDirectory: sandbox.logDirectory,
        ]
        if let shm = sandbox.shmPath {
            annotations[SandboxAnnotation.shmHint + "source"] = shm
            annotations[SandboxAnnotation.shmHint + "type"] = "tmpfs"
            annotations[SandboxAnnotation.shmHint + "share"] = "pod"
            annotations[SandboxAnnotation.shmHint + "options"] = "rw"
        }
        return annotations
    }

    /// The annotations naming the sandbox, over the kubelet's (a pod's own annotation must not
    /// send the container into another pod's sandbox), and /dev/shm as the sandbox's tmpfs.
    static func placeInSandbox(_ spec: inout RuntimeSpec, _ context: Context) throws(SkiffError) {
        let sandbox = context.sandbox
        // Mounts made inside the sandbox's kernel never reach the node's (and runsc refuses an
        // rshared root): said by name rather than as runsc's error at creation.
        if let mount = context.spec.mounts.first(where: { $0.propagation == .bidirectional }) {
            throw SkiffError.invalidArgument(
                "runtime handler \"\(sandbox.runtimeHandler)\" runs the pod in a sandbox with its own kernel, whose mounts cannot propagate back to the node (mount \(mount.containerPath) asks for PROPAGATION_BIDIRECTIONAL)"
            )
        }
        var annotations = spec.annotations ?? [:]
        annotations[SandboxAnnotation.containerType] = "container"
        annotations[SandboxAnnotation.sandboxID] = PauseProcesses.id(of: sandbox)
        annotations[SandboxAnnotation.sandboxName] = sandbox.name
        annotations[SandboxAnnotation.sandboxNamespace] = sandbox.namespace
        annotations[SandboxAnnotation.sandboxUID] = sandbox.uid
        annotations[SandboxAnnotation.containerName] = context.spec.name
        annotations[SandboxAnnotation.imageName] = context.spec.image
        spec.annotations = annotations
        // glibc's shm_open wants a tmpfs at /dev/shm; the hint makes it the pod's one.
        if let shm = sandbox.shmPath,
            let index = spec.mounts.firstIndex(where: { $0.destination == "/dev/shm" && $0.source == shm })
        {
            spec.mounts[index].type = "tmpfs"
            spec.mounts[index].options = ["rw", "nosuid", "noexec", "nodev"]
        }
        // A read-only volume in gVisor is read-only with everything below it (the gofer serves
        // it so): `rro` is plain `ro` there, and runsc refuses the option itself.
        for index in spec.mounts.indices {
            spec.mounts[index].options = spec.mounts[index].options?.map { $0 == "rro" ? "ro" : $0 }
        }
        try limitCapabilities(&spec, to: sandboxCapabilities, handler: sandbox.runtimeHandler, context.spec)
    }

    /// The capabilities runsc 20221219 knows: through CAP_AUDIT_READ (37). It refuses a spec
    /// naming CAP_PERFMON, CAP_BPF or CAP_CHECKPOINT_RESTORE, which a privileged container or
    /// `add: ALL` brings from the node's kernel.
    static let sandboxCapabilities = Set(CapabilitySet.knownNames.prefix(38))

    /// Leaves out of the process's sets what the sandbox does not know; one the container asks
    /// for by name is refused instead, naming it.
    static func limitCapabilities(
        _ spec: inout RuntimeSpec,
        to known: Set<String>,
        handler: String,
        _ container: ContainerSpec
    ) throws(SkiffError) {
        for name in container.security.capabilitiesAdd {
            let canonical = name.uppercased().hasPrefix("CAP_") ? name.uppercased() : "CAP_" + name.uppercased()
            guard canonical == "CAP_ALL" || known.contains(canonical) else {
                throw SkiffError.invalidArgument(
                    "capability \(name) is not supported by runtime handler \"\(handler)\" (a gVisor sandbox knows capabilities through CAP_AUDIT_READ)"
                )
            }
        }
        guard var capabilities = spec.process.capabilities else { return }
        capabilities.bounding = capabilities.bounding.filter(known.contains)
        capabilities.effective = capabilities.effective.filter(known.contains)
        capabilities.permitted = capabilities.permitted.filter(known.contains)
        capabilities.inheritable = capabilities.inheritable?.filter(known.contains)
        capabilities.ambient = capabilities.ambient?.filter(known.contains)
        spec.process.capabilities = capabilities
    }

    /// PID namespaces inside a sandbox: no entry shares the sandbox's (the pod's shared one), an
    /// entry without a path is a new one. The sandbox's kernel has no node PID namespace, and
    /// runsc shares another container's only by a path string, not by /proc.
    static func sandboxPIDNamespace(_ context: Context) throws(SkiffError) -> [RuntimeSpec.Linux.Namespace] {
        let handler = context.sandbox.runtimeHandler
        switch context.spec.security.pidMode {
        case .container:
            return [.init(type: "pid", path: nil)]
        case .pod where context.sandbox.sharedPID != true:
            return [.init(type: "pid", path: nil)]
        case .pod:
            return []
        case .node:
            throw SkiffError.invalidArgument(
                "runtime handler \"\(handler)\" runs the pod in a sandbox with its own kernel; a container cannot share the node's PID namespace (namespace_options.pid NODE)"
            )
        case .target(let id):
            throw SkiffError(
                .failedPrecondition,
                "runtime handler \"\(handler)\" runs the pod in a sandbox; sharing the PID namespace of container \(id) (namespace_options.pid TARGET) is not supported there"
            )
        }
    }
}
