import FoundationEssentials
import LinuxSys
import Logging
import Metadata
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Pod sandboxes: pinned namespaces, CNI networking, the pod's hostname/resolv.conf/hosts files,
/// durable records. No infra container: a pod costs no process and needs no registry.
public actor SandboxService {
    public struct Options: Sendable {
        public var stateDir: String
        public var cniConfDir: String
        public var cniBinDirs: [String]
        public var handlers: RuntimeHandlerSet
        public var cniTimeout: Duration
        /// Size of each pod's /dev/shm tmpfs.
        public var shmSizeBytes: Int

        public init(
            stateDir: String,
            cniConfDir: String,
            cniBinDirs: [String],
            handlers: RuntimeHandlerSet,
            cniTimeout: Duration = .seconds(60),
            shmSizeBytes: Int = 64 << 20
        ) {
            self.shmSizeBytes = shmSizeBytes
            self.stateDir = stateDir
            self.cniConfDir = cniConfDir
            self.cniBinDirs = cniBinDirs
            self.handlers = handlers
            self.cniTimeout = cniTimeout
        }
    }

    let options: Options
    /// `<state_dir>/sandboxes/<id>/sandbox.json`, beside the pod's files and pinned namespaces.
    let store: RecordDirectory<PodSandbox>
    let pinner: any NamespacePinning
    let cni: CNIPluginRunner
    let logger: Logger
    /// Name keys of RunPodSandbox calls in progress, so two calls for one pod cannot both win.
    private var reserved: Set<String> = []
    /// The provisional records of the pods a SIGKILLed skiffd was creating, which recovery
    /// removed: their owners' parts (a pause started beside CNI ADD) go too
    /// (`takeUnrecordedAtStart`).
    var unrecordedAtStart: [PodSandbox] = []

    public init(options: Options, pinner: any NamespacePinning, logger: Logger) async throws(SkiffError) {
        self.options = options
        self.pinner = pinner
        self.logger = logger
        cni = CNIPluginRunner(binDirs: options.cniBinDirs, timeout: options.cniTimeout)
        store = try RecordDirectory(
            root: options.stateDir + "/sandboxes",
            fileName: "sandbox.json",
            id: \.id,
            createdAt: \.createdAt
        )
        try await recover()
    }

    // MARK: Run

    ///
    /// - Parameter alongsideNetwork: work that needs the pod's pinned namespaces but not its
    ///   network (the pause of a shared-PID pod), run while CNI ADD runs instead of after it.
    ///   Called at most once, and only after the provisional record from which a restarted
    ///   skiffd learns of the pod (`unrecordedAtStart`) is written; awaited before `run` returns
    ///   or throws. The caller owns what it makes, and undoes it if `run` throws.
    public func run(
        _ spec: SandboxSpec,
        alongsideNetwork: (@Sendable (PodSandbox) async -> Void)? = nil
    ) async throws(SkiffError) -> PodSandbox {
        try spec.validate()
        guard let handler = options.handlers.handler(named: spec.runtimeHandler) else {
            let known = options.handlers.handlers.map(\.name).joined(separator: ", ")
            throw SkiffError.invalidArgument(
                "runtime handler \"\(spec.runtimeHandler)\" is not configured (configured: \(known))"
            )
        }
        let userNamespace = try spec.userNamespace?.validatedPodMapping()
        if userNamespace != nil, !handler.supportsUserNamespaces {
            throw SkiffError.invalidArgument(
                "runtime handler \"\(handler.name)\" cannot run pods with a user namespace on this node (its runtime must list the user namespace in `features`, and the node must make idmapped mounts of root_dir); RuntimeStatus lists the handlers that can"
            )
        }
        if handler.sandboxed { try spec.checkRunsInSandbox(of: handler.name) }
        let key = "\(spec.namespace)/\(spec.name)/\(spec.uid)/\(spec.attempt)"
        let duplicate = SkiffError(
            .alreadyExists,
            "pod sandbox \(spec.namespace)/\(spec.name) (uid \(spec.uid), attempt \(spec.attempt)) already exists; remove it first"
        )
        // Reserve before the first suspension point; a concurrent call sees the reservation or the record.
        guard reserved.insert(key).inserted else { throw duplicate }
        defer { reserved.remove(key) }
        if let holder = await store.all.first(where: { "\($0.namespace)/\($0.name)/\($0.uid)/\($0.attempt)" == key }) {
            throw SkiffError(
                .alreadyExists,
                "pod sandbox \(spec.namespace)/\(spec.name) (uid \(spec.uid), attempt \(spec.attempt)) already exists as \(holder.id); remove it first"
            )
        }

        let id = ObjectID.random()
        let directory = store.directory(of: id)
        var sandbox = PodSandbox(
            id: id,
            name: spec.name,
            namespace: spec.namespace,
            uid: spec.uid,
            attempt: spec.attempt,
            state: .ready,
            createdAt: WallClock.nanoseconds(),
            labels: spec.labels,
            annotations: spec.annotations,
            runtimeHandler: spec.runtimeHandler.isEmpty ? options.handlers.defaultName : spec.runtimeHandler,
            // No hostname asked for (crictl, critest; the kubelet always sends one): the ID's
            // first 12 characters, as cri-o does — a pod name may be longer than a hostname can be.
            hostname: spec.hostname.isEmpty ? String(id.prefix(12)) : spec.hostname,
            logDirectory: spec.logDirectory,
            hostNetwork: spec.hostNetwork,
            hostIPC: spec.hostIPC,
            hostPID: spec.hostPID,
            portMappings: spec.portMappings,
            cgroupParent: spec.cgroupParent,
            sharedPID: spec.sharedPID,
            pausePID: nil,
            dns: spec.dns,
            shmPath: nil,
            namespaces: nil,
            networkName: nil,
            networkResult: nil,
            ips: [],
            directory: directory,
            privileged: spec.privileged,
            runtimeBinary: handler.resolvedPath,
            runtimeRoot: handler.root
        )
        sandbox.userNamespace = userNamespace
        if handler.sandboxed { sandbox.sandboxed = true }
        if !handler.runtimeArguments.isEmpty { sandbox.runtimeArguments = handler.runtimeArguments }
        do throws(SkiffError) {
            do {
                try FileSystem.makeDirectories(directory, mode: 0o711)
            } catch {
                throw error.skiffError("cannot create \(directory)")
            }
            let request = NamespaceRequest(
                network: !spec.hostNetwork,
                ipc: !spec.hostIPC,
                uts: !spec.hostNetwork,
                hostname: spec.hostNetwork ? nil : sandbox.hostname,
                sysctls: Self.sysctls(of: spec, handler: handler),
                userNamespace: userNamespace
            )
            if request.network || request.ipc || request.uts {
                sandbox.namespaces = try await pinner.pin(request, in: directory + "/ns")
            }
            if !spec.hostNetwork, let netns = sandbox.namespaces?.network {
                guard let network = try CNINetworkList.load(directory: options.cniConfDir) else {
                    throw SkiffError(
                        .failedPrecondition,
                        "no CNI network config in \(options.cniConfDir): the pod network is not ready"
                    )
                }
                // What CNI DEL needs (port mappings, names), should skiffd die before the record
                // is written: `removeUnrecorded` reads it back.
                var provisional = sandbox
                provisional.networkName = network.name
                let alongsideWork = writeProvisionalRecord(provisional) ? alongsideNetwork : nil
                async let alongside: Void? = alongsideWork?(provisional)
                let result: CNIResult
                do throws(SkiffError) {
                    result = try await cni.add(network, attachment(for: sandbox, netns: netns))
                } catch {
                    await alongside
                    throw error
                }
                await alongside
                sandbox.networkName = network.name
                sandbox.networkResult = String(decoding: result.raw, as: UTF8.self)
                sandbox.ips = result.addresses.map(\.ip)
            }
            if !spec.hostIPC {
                sandbox.shmPath = try mountShm(in: directory, owner: userNamespace?.hostRoot)
            }
            try writePodFiles(sandbox, dns: spec.dns)
            try await store.save(sandbox)
        } catch {
            await undo(sandbox)
            throw error
        }
        logger.info(
            "pod sandbox running",
            metadata: [
                "id": "\(id)", "pod": "\(spec.namespace)/\(spec.name)", "ips": "\(sandbox.ips.joined(separator: ","))",
            ]
        )
        return sandbox
    }

    /// The pod's sysctls. A gVisor sandbox on the host's network stack (`--network=host`)
    /// binds its sockets through the host kernel from a process with no capabilities, so a
    /// server on a port below 1024 (nginx on 80) is refused: the pod's own network namespace
    /// lets every process bind any port, as the sandbox's kernel does its own checks.
    static func sysctls(of spec: SandboxSpec, handler: RuntimeHandlerSet.Handler) -> [String: String] {
        var sysctls = spec.sysctls
        if handler.sandboxed, !spec.hostNetwork, handler.runtimeArguments.contains("--network=host"),
            sysctls[unprivilegedPortStart] == nil
        {
            sysctls[unprivilegedPortStart] = "0"
        }
        return sysctls
    }

    static let unprivilegedPortStart = "net.ipv4.ip_unprivileged_port_start"

    // MARK: Stop, remove

    /// Tears down the network and releases the namespaces; the record stays. Idempotent.
    public func stop(_ id: String) async throws(SkiffError) {
        guard var sandbox = await store.find(id) else { return }
        try await releaseNetwork(of: &sandbox, required: true)
        if let namespaces = sandbox.namespaces {
            try pinner.unpin(namespaces)
            sandbox.namespaces = nil
        }
        try unmountShm(of: &sandbox)
        sandbox.state = .notReady
        try await store.save(sandbox)
    }

    /// Removes everything of the sandbox; works when the CNI config is gone. Idempotent.
    public func remove(_ id: String) async throws(SkiffError) {
        guard var sandbox = await store.find(id) else { return }
        try await releaseNetwork(of: &sandbox, required: false)
        if let namespaces = sandbox.namespaces { try pinner.unpin(namespaces) }
        try unmountShm(of: &sandbox)
        try await store.delete(sandbox.id)
        logger.info(
            "pod sandbox removed",
            metadata: ["id": "\(sandbox.id)", "pod": "\(sandbox.namespace)/\(sandbox.name)"]
        )
    }

    /// UpdatePodSandboxResources: the pod-level resources the kubelet applied, kept in the record.
    public func recordResources(_ id: String, _ resources: PodResources) async throws(SkiffError) {
        guard var sandbox = await store.find(id) else {
            throw SkiffError(.notFound, "pod sandbox \(id) not found")
        }
        guard sandbox.state == .ready else {
            throw SkiffError(.failedPrecondition, "pod sandbox \(sandbox.id) is not ready; its resources cannot change")
        }
        sandbox.resources = resources
        try await store.save(sandbox)
    }

    /// Records (or clears) the pod's pause process.
    public func recordPause(_ id: String, pid: Int32?, startTime: UInt64? = nil) async throws(SkiffError) {
        guard var sandbox = await store.find(id) else { return }
        sandbox.pausePID = pid
        sandbox.pauseStartTime = pid == nil ? nil : startTime
        try await store.save(sandbox)
    }

    /// A pod that lost something it cannot run without (its pause process) is not ready.
    public func markNotReady(_ id: String, reason: String) async {
        guard var sandbox = await store.find(id), sandbox.state == .ready else { return }
        sandbox.state = .notReady
        do {
            try await store.save(sandbox)
        } catch {
            // Reported as not ready all the same until skiffd restarts and looks again.
            logger.error("cannot record that a pod is not ready", metadata: ["id": "\(id)", "error": "\(error)"])
        }
        logger.warning("pod sandbox is not ready any more", metadata: ["id": "\(id)", "reason": "\(reason)"])
    }

    // MARK: Queries

    public func sandbox(_ id: String) async throws(SkiffError) -> PodSandbox {
        guard let sandbox = await store.find(id) else {
            throw SkiffError.notFound("pod sandbox \"\(id)\" does not exist")
        }
        return sandbox
    }

    /// The pod by its ID or a unique prefix of it, if there is one.
    public func find(_ id: String) async -> PodSandbox? {
        await store.find(id)
    }

    public func exists(_ id: String) async -> Bool {
        await store.find(id) != nil
    }

    public func list(
        idPrefix: String? = nil,
        state: PodSandbox.State? = nil,
        labels: [String: String] = [:]
    ) async -> [PodSandbox] {
        await store.all.filter { sandbox in
            (idPrefix.map { $0.isEmpty || sandbox.id.hasPrefix($0) } ?? true)
                && (state.map { sandbox.state == $0 } ?? true)
                && labels.allSatisfy { sandbox.labels[$0.key] == $0.value }
        }
    }

    private func releaseNetwork(of sandbox: inout PodSandbox, required: Bool) async throws(SkiffError) {
        guard let networkName = sandbox.networkName, let netns = sandbox.namespaces?.network else { return }
        guard let network = networkForRelease(of: sandbox.id), network.name == networkName else {
            if required {
                logger.warning(
                    "the pod's CNI network is no longer configured; skipping its teardown",
                    metadata: ["id": "\(sandbox.id)", "network": "\(networkName)"]
                )
            }
            sandbox.networkName = nil
            return
        }
        // A namespace already gone (its pin unmounted by a stop that skiffd did not live to
        // record, or by someone else) is passed as no namespace, as containerd does: the CNI
        // spec lets a DEL release the rest (addresses, port mappings) without it, where plugins
        // refuse a path that is no namespace ("unknown FS magic") and the pod could never stop.
        let namespace = isStillPinned(netns) ? netns : ""
        do {
            try await cni.delete(
                network,
                attachment(for: sandbox, netns: namespace),
                previousResult: sandbox.networkResult.map { Data($0.utf8) }
            )
        } catch {
            if required { throw error }
            logger.warning("CNI DEL failed during removal", metadata: ["id": "\(sandbox.id)", "error": "\(error)"])
        }
        sandbox.networkName = nil
        sandbox.networkResult = nil
    }

    private func undo(_ sandbox: PodSandbox) async {
        var copy = sandbox
        // Each step on its own: one that fails must not keep the others from running.
        await undoStep("release the network", of: sandbox) { () async throws(SkiffError) in
            try await releaseNetwork(of: &copy, required: false)
        }
        if let namespaces = sandbox.namespaces {
            await undoStep("unpin the namespaces", of: sandbox) { () throws(SkiffError) in try pinner.unpin(namespaces)
            }
        }
        await undoStep("unmount /dev/shm", of: sandbox) { () throws(SkiffError) in try unmountShm(of: &copy) }
        await undoStep("remove the record", of: sandbox) { () async throws(SkiffError) in
            try await store.delete(sandbox.id)
        }
    }

    /// One step of undoing a failed RunPodSandbox; a failure is logged (the error reported is
    /// the one that made the run fail), and what is left goes when skiffd restarts.
    private func undoStep(
        _ what: String,
        of sandbox: PodSandbox,
        _ step: () async throws(SkiffError) -> Void
    ) async {
        await logger.logFailure(
            .error,
            "cannot undo a pod sandbox that failed: \(what)",
            metadata: ["id": "\(sandbox.id)"],
            of: step
        )
    }

    /// Whether a pinned namespace file is still a mount (of the namespace). When the mount
    /// table cannot be read it is assumed to be, as before this check existed.
    func isStillPinned(_ path: String) -> Bool {
        do {
            return try MountTable.current().isMountPoint(path)
        } catch {
            logger.warning("cannot read the mount table", metadata: ["error": "\(error)"])
            return true
        }
    }

    /// The configured network, to release a pod's; nil (logged) when none can be read.
    func networkForRelease(of id: String) -> CNINetworkList? {
        do {
            return try CNINetworkList.load(directory: options.cniConfDir)
        } catch {
            logger.warning(
                "cannot read the CNI network config to release a pod's network",
                metadata: ["id": "\(id)", "error": "\(error)"]
            )
            return nil
        }
    }

    /// What CNI DEL needs (port mappings, names), should skiffd die before the record is
    /// written: `removeUnrecorded` reads it back. Without it an interrupted pod loses only
    /// portmap's rules at recovery, so a failure is logged, not thrown; false then.
    private func writeProvisionalRecord(_ sandbox: PodSandbox) -> Bool {
        let path = sandbox.directory + "/" + Self.provisionalRecordName
        do {
            try FileSystem.writeAtomically(path, Array(try JSONEncoder().encode(sandbox)))
            return true
        } catch {
            logger.warning(
                "cannot write a pod's provisional record",
                metadata: ["path": "\(path)", "error": "\(error)"]
            )
            return false
        }
    }

    func attachment(for sandbox: PodSandbox, netns: String) -> CNIAttachment {
        CNIAttachment(
            containerID: sandbox.id,
            netnsPath: netns,
            arguments: [
                ("K8S_POD_NAMESPACE", sandbox.namespace), ("K8S_POD_NAME", sandbox.name),
                ("K8S_POD_INFRA_CONTAINER_ID", sandbox.id), ("K8S_POD_UID", sandbox.uid),
            ],
            capabilities: CNICapabilities(sandbox).values
        )
    }
}
