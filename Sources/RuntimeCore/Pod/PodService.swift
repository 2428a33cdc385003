import FoundationEssentials
import LinuxSys
import Logging
import SkiffCommon
import Synchronization

/// The pod lifecycle: RunPodSandbox, StopPodSandbox and RemovePodSandbox. A pod is its sandbox
/// (namespaces, network, files: `SandboxService`), the pause process of pods that share one PID
/// namespace (`PauseProcesses`), and its containers, which `ContainerService` owns: stopping or
/// removing a pod stops or removes them through it, first.
public actor PodService {
    public struct Options: Sendable {
        /// The static pause binary run as PID 1 of pods that share a PID namespace.
        public var pauseBinary: String

        public init(pauseBinary: String = PodService.pauseBesideExecutable()) {
            self.pauseBinary = pauseBinary
        }
    }

    let sandboxes: SandboxService
    let containers: ContainerService
    let pauses: PauseProcesses
    let exits: ExitFileWatcher
    let logger: Logger
    /// RunPodSandbox calls in progress or finished unclaimed, for retries.
    let creations = CreationLedger<SandboxSpec, PodSandbox>()
    /// Stops and removals, one at a time per pod.
    let teardown = ObjectLocks()
    /// Pods whose pause process skiffd is stopping itself (its exit is no news).
    var pausesBeingRemoved: Set<String> = []
    /// Tells of the exit of pauses Skiff started itself, by pod ID (nil: it could not be made;
    /// such an exit is then found only by the recovery of a restarted skiffd).
    let pauseExits: ProcessExitWatcher?

    /// Takes over the pods `sandboxes` recovered: a pod whose pause process ended while skiffd
    /// was down is marked not ready, and one whose pause was being started is removed.
    public init(
        options: Options,
        sandboxes: SandboxService,
        containers: ContainerService,
        monitor: any ContainerMonitor,
        exits: ExitFileWatcher,
        makeRuntime: @escaping @Sendable (RuntimeHandlerSet.Handler) -> any OCIRuntime = ContainerService
            .runcCompatible,
        logger: Logger
    ) async {
        let settings = containers.options
        self.sandboxes = sandboxes
        self.containers = containers
        self.exits = exits
        self.logger = logger
        let oomScoreFloor = OOMScoreFloor.current()
        pauses = PauseProcesses(
            rootDir: settings.rootDir,
            pauseBinary: options.pauseBinary,
            handlers: settings.handlers,
            defaultCgroupParent: settings.defaultCgroupParent,
            commandTimeout: settings.commandTimeout,
            socketDirectory: containers.socketDirectory,
            monitor: monitor,
            makeRuntime: makeRuntime,
            exits: exits,
            minimumOOMScoreAdj: oomScoreFloor,
            direct: DirectPause(
                pauseBinary: options.pauseBinary,
                emptyRoot: settings.rootDir + "/pause/empty",
                cgroupLayout: settings.cgroupLayout,
                // try?: without a mount table the pause joins no cgroup and stays in skiffd's.
                hierarchies: DirectPause.hierarchies(in: (try? MountTable.current()) ?? MountTable(entries: [])),
                defaultCgroupParent: settings.defaultCgroupParent,
                minimumOOMScoreAdj: oomScoreFloor,
                timeout: settings.commandTimeout,
                logger: logger
            ),
            logger: logger
        )
        do {
            pauseExits = try ProcessExitWatcher()
        } catch {
            pauseExits = nil
            logger.error("cannot watch pause processes for their exit", metadata: ["error": "\(error)"])
        }
        await exits.addListener { [weak self] notice in await self?.exitNotice(notice) }
        if let stream = pauseExits?.exits {
            Task { [weak self] in
                for await sandboxID in stream { await self?.pauseExited(sandboxID) }
            }
        }
        await recover()
    }

    /// `skiff-pause` next to the running executable (skiffd, or the test runner).
    public static func pauseBesideExecutable() -> String {
        FileSystem.besideExecutable("skiff-pause")
    }

    // MARK: Run

    /// RunPodSandbox: the sandbox, then its pause process when the pod shares PIDs or runs in a
    /// sandbox of its handler (gVisor: the pause is the sandbox's first container). Runs to its
    /// end even when the caller gives up, and a retry gets the pod it made (`CreationLedger`).
    public func run(_ spec: SandboxSpec) async throws(SkiffError) -> PodSandbox {
        let sandboxes = self.sandboxes
        return try await creations.create(
            key: "\(spec.namespace)/\(spec.name)/\(spec.uid)/\(spec.attempt)",
            spec: spec,
            what: "pod sandbox \(spec.namespace)/\(spec.name) (uid \(spec.uid), attempt \(spec.attempt))",
            stillExists: { pod in await sandboxes.exists(pod.id) },
            work: { [self] in
                do throws(SkiffError) {
                    return .success(try await self.runOnce(spec))
                } catch {
                    return .failure(error)
                }
            }
        )
    }

    /// One RunPodSandbox. A pause that cannot start undoes the sandbox, and a sandbox that
    /// cannot be made stops the pause. Skiff's own pause needs the pod's namespaces, not its
    /// network, so it starts while CNI ADD runs (its cgroup attach alone waits ~6 ms for the
    /// kernel on cgroup v1).
    private func runOnce(_ spec: SandboxSpec) async throws(SkiffError) -> PodSandbox {
        let early = EarlyPause()
        let pauses = self.pauses
        var sandbox: PodSandbox
        do throws(SkiffError) {
            sandbox = try await sandboxes.run(spec) { sandbox in
                guard sandbox.hasPause, !sandbox.runsInSandbox else { return }
                let result: Result<(pid: Int32, startTime: UInt64?), SkiffError>
                do throws(SkiffError) {
                    result = .success(try await pauses.start(for: sandbox))
                } catch {
                    result = .failure(error)
                }
                early.outcome.withLock { $0 = (sandbox, result) }
            }
        } catch {
            if let (provisional, result) = early.outcome.withLock({ $0 }), case .success(let started) = result {
                var stopping = provisional
                stopping.pausePID = started.pid
                stopping.pauseStartTime = started.startTime
                await removePause(of: stopping)
            }
            throw error
        }
        guard sandbox.hasPause else { return sandbox }
        do {
            let started: (pid: Int32, startTime: UInt64?)
            if let (_, result) = early.outcome.withLock({ $0 }) {
                started = try result.get()
            } else {
                started = try await pauses.start(for: sandbox)
            }
            try await sandboxes.recordPause(sandbox.id, pid: started.pid, startTime: started.startTime)
            sandbox.pausePID = started.pid
            sandbox.pauseStartTime = started.startTime
            watchPause(of: sandbox)
        } catch {
            await removePause(of: sandbox)
            do {
                try await sandboxes.remove(sandbox.id)
            } catch let undoError {
                logger.error(
                    "cannot remove a pod whose pause process did not start",
                    metadata: ["id": "\(sandbox.id)", "error": "\(undoError)"]
                )
            }
            throw error
        }
        return sandbox
    }

    /// What the pause started beside CNI ADD came to, and the sandbox it was started for.
    private final class EarlyPause: Sendable {
        let outcome = Mutex<(PodSandbox, Result<(pid: Int32, startTime: UInt64?), SkiffError>)?>(nil)
    }

    // MARK: Stop, remove

    /// Stops every container of a pod (StopPodSandbox), its pause process, then the sandbox.
    /// Concurrent stops and removals of one pod run one after the other and all answer.
    public func stop(_ sandboxID: String) async throws(SkiffError) {
        try await teardown.withLock(await lockKey(of: sandboxID)) { () async throws(SkiffError) in
            guard let sandbox = await sandboxes.find(sandboxID) else { return }
            try await containers.stopAll(inPod: sandbox.id)
            await removePause(of: sandbox)
            if sandbox.pausePID != nil { try await sandboxes.recordPause(sandbox.id, pid: nil) }
            try await sandboxes.stop(sandbox.id)
        }
    }

    /// Removes every container of a pod (RemovePodSandbox), its pause process, then the sandbox.
    public func remove(_ sandboxID: String) async throws(SkiffError) {
        try await teardown.withLock(await lockKey(of: sandboxID)) { () async throws(SkiffError) in
            guard let sandbox = await sandboxes.find(sandboxID) else { return }
            try await containers.removeAll(inPod: sandbox.id)
            await removePause(of: sandbox)
            try await sandboxes.remove(sandbox.id)
        }
    }

    /// UpdatePodSandboxResources, which the kubelet sends after it has resized the pod-level
    /// cgroup itself (the CRI's contract): the values are checked as a container's would be and
    /// recorded with the pod (PodSandboxStatus' verbose info shows them). The containers' own
    /// limits are left as they are: each is changed by its own UpdateContainerResources.
    public func updateResources(_ sandboxID: String, _ resources: PodResources) async throws(SkiffError) {
        if let overhead = resources.overhead { try overhead.validate(node: containers.nodeFacts, field: "overhead") }
        if let total = resources.resources { try total.validate(node: containers.nodeFacts, field: "resources") }
        try await teardown.withLock(await lockKey(of: sandboxID)) { () async throws(SkiffError) in
            guard let sandbox = await sandboxes.find(sandboxID) else {
                throw SkiffError(.notFound, "pod sandbox \(sandboxID) not found")
            }
            try await sandboxes.recordResources(sandbox.id, resources)
        }
    }

    /// The lock of a pod, by its full ID: a unique prefix (crictl's) and the full ID (the
    /// kubelet's) name one pod and must wait for each other.
    private func lockKey(of id: String) async -> String {
        (await sandboxes.find(id))?.id ?? id
    }

    private func removePause(of sandbox: PodSandbox) async {
        pauseExits?.unwatch(sandbox.id)
        pausesBeingRemoved.insert(sandbox.id)
        defer { pausesBeingRemoved.remove(sandbox.id) }
        await pauses.remove(of: sandbox)
    }

    // MARK: Pause exits, recovery

    /// Watches the pause Skiff started itself for its exit, if it runs.
    private func watchPause(of sandbox: PodSandbox) {
        guard let identity = PauseProcesses.directIdentity(of: sandbox), let watcher = pauseExits else { return }
        if let handle = pauses.direct.handle(of: identity) {
            do {
                try watcher.watch(handle, as: sandbox.id)
            } catch {
                logger.error(
                    "cannot watch a pod's pause for its exit",
                    metadata: ["pod": "\(sandbox.id)", "error": "\(error)"]
                )
            }
        } else {
            Task { await pauseExited(sandbox.id) }
        }
    }

    /// A pause Skiff started itself has exited.
    private func pauseExited(_ sandboxID: String) async {
        guard !pausesBeingRemoved.contains(sandboxID) else { return }
        await sandboxes.markNotReady(sandboxID, reason: "its pause process exited")
    }

    /// A pause process that ended while its pod runs leaves the pod without its PID namespace.
    private func exitNotice(_ notice: ExitFileWatcher.Notice) async {
        switch notice {
        case .written(let name, _):
            guard let sandboxID = PauseProcesses.sandboxID(ofPause: name),
                !pausesBeingRemoved.contains(sandboxID)
            else { return }
            await sandboxes.markNotReady(sandboxID, reason: "its pause process exited")
        case .eventsLost:
            for sandbox in await sandboxes.list(state: .ready)
            where sandbox.pausePID != nil && !pausesBeingRemoved.contains(sandbox.id)
                && exits.exists(PauseProcesses.id(of: sandbox))
            {
                await sandboxes.markNotReady(sandbox.id, reason: "its pause process exited")
            }
        }
    }

    private func recover() async {
        // skiffd died while a pod's CNI ADD ran, and its pause had started beside it: recovery
        // removed the sandbox; the pause, found in its cgroup, goes with it.
        for provisional in await sandboxes.takeUnrecordedAtStart() where provisional.hasPause {
            await pauses.remove(of: provisional)
        }
        // skiffd died between the pod's record and its pause: RunPodSandbox never answered, so
        // no client knows the pod; it goes, and the client's retry makes it anew.
        for sandbox in await sandboxes.list(state: .ready)
        where sandbox.hasPause && sandbox.pausePID == nil {
            logger.warning(
                "removing a pod whose pause process was being started when skiffd stopped",
                metadata: ["id": "\(sandbox.id)"]
            )
            do {
                try await remove(sandbox.id)
            } catch {
                await sandboxes.markNotReady(
                    sandbox.id,
                    reason: "its pause process was never recorded and it cannot be removed: \(error)"
                )
            }
        }
        // The runtime could not say (nil): the pod keeps its state rather than being declared
        // broken on no evidence (the kubelet would recreate it).
        for sandbox in await sandboxes.list(state: .ready) where sandbox.pausePID != nil {
            if await pauses.isGone(of: sandbox) == true {
                await sandboxes.markNotReady(sandbox.id, reason: "its pause process is gone")
            } else {
                watchPause(of: sandbox)
            }
        }
        // Exit files of pauses whose pod no longer exists (skiffd stopped between a removal's
        // record and its files).
        let sandboxIDs = Set(await sandboxes.list().map(\.id))
        for name in exits.names() {
            if let sandboxID = PauseProcesses.sandboxID(ofPause: name), !sandboxIDs.contains(sandboxID) {
                exits.remove(name)
            }
        }
    }
}
