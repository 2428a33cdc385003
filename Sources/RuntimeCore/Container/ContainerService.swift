import FoundationEssentials
import ImageCore
import LinuxSys
import Logging
import Metadata
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// The container lifecycle: an overlay root filesystem over the image's snapshots, an OCI spec
/// generated from the CRI config, `runtime create` under conmon, start/stop/remove, exits read
/// from conmon's exit files (`ExitFileWatcher`), resource updates, durable records and recovery
/// after a restart. Calls into a running container (exec, attach) are `ExecService`'s, usage
/// `StatsService`'s; pods, and the pause process, `PodService`'s.
public actor ContainerService {
    public struct Options: Sendable {
        public var stateDir: String
        public var rootDir: String
        public var handlers: RuntimeHandlerSet
        public var cgroupLayout: CgroupLayout?
        /// Parent cgroup for pods that name none.
        public var defaultCgroupParent: String
        public var commandTimeout: Duration
        /// CDI spec directories, lowest priority first (`runtime.cdi_spec_dirs`).
        public var cdiSpecDirectories: [String]

        public init(
            stateDir: String,
            rootDir: String,
            handlers: RuntimeHandlerSet,
            cgroupLayout: CgroupLayout?,
            defaultCgroupParent: String = "/skiff",
            commandTimeout: Duration = .seconds(60),
            cdiSpecDirectories: [String] = ["/etc/cdi", "/var/run/cdi"]
        ) {
            self.cdiSpecDirectories = cdiSpecDirectories
            self.stateDir = stateDir
            self.rootDir = rootDir
            self.handlers = handlers
            self.cgroupLayout = cgroupLayout
            self.defaultCgroupParent = defaultCgroupParent
            self.commandTimeout = commandTimeout
        }
    }

    public nonisolated let options: Options
    /// `<state_dir>/containers/<id>/container.json`, beside the bundle and conmon's files.
    let store: RecordDirectory<Container>
    let sandboxes: SandboxService
    let images: ImageManager
    let monitor: any ContainerMonitor
    let exits: ExitFileWatcher
    let makeRuntime: @Sendable (RuntimeHandlerSet.Handler) -> any OCIRuntime
    public let events = ContainerEventHub()
    let logger: Logger
    let minimumOOMScoreAdj: Int
    /// What request validation needs to know of the node (huge page sizes, AppArmor, cgroups).
    let nodeFacts: ContainerSpec.NodeFacts
    /// Resolves the CDI devices a container asks for.
    let cdi: CDIRegistry
    /// Containers whose StartContainer is between `runtime start` and its record.
    var starting: Set<String> = []
    /// Exit collections in progress, so that the watcher and an rpc never record one exit twice.
    var exitCollections: [String: Task<Void, Never>] = [:]
    /// CreateContainer calls in progress or finished unclaimed, for retries.
    let containerCreations = CreationLedger<ContainerSpec, Container>()
    /// Stops and removals, one at a time per container.
    let teardown = ObjectLocks()
    /// Name keys of CreateContainer calls in progress.
    var reserved: Set<String> = []

    /// conmon's attach sockets and control fifos, one directory per container.
    nonisolated var socketDirectory: String { options.stateDir + "/attach" }
    nonisolated var layersRoot: String { options.rootDir + "/containers" }

    public init(
        options: Options,
        sandboxes: SandboxService,
        images: ImageManager,
        monitor: any ContainerMonitor,
        exits: ExitFileWatcher,
        makeRuntime: @escaping @Sendable (RuntimeHandlerSet.Handler) -> any OCIRuntime = ContainerService
            .runcCompatible,
        logger: Logger
    ) async throws(SkiffError) {
        self.options = options
        self.sandboxes = sandboxes
        self.images = images
        self.monitor = monitor
        self.exits = exits
        self.makeRuntime = makeRuntime
        self.logger = logger
        store = try RecordDirectory(
            root: options.stateDir + "/containers",
            fileName: "container.json",
            id: \.id,
            createdAt: \.createdAt
        )
        nodeFacts = ContainerSpec.NodeFacts.current(cgroupLayout: options.cgroupLayout)
        cdi = CDIRegistry(directories: options.cdiSpecDirectories, logger: logger)
        minimumOOMScoreAdj = OOMScoreFloor.current()
        for directory in [options.stateDir + "/attach", options.rootDir + "/containers"] {
            do {
                try FileSystem.makeDirectories(directory, mode: 0o711)
            } catch {
                throw error.skiffError("cannot create \(directory)")
            }
        }
        // The watch first: recovery waits for exits too (of containers it stops).
        await exits.addListener { [weak self] notice in await self?.exitNotice(notice) }
        await exits.start()
        await recover()
    }

    /// runc and crun as they are; runsc (and any `sandbox` handler) through `SandboxedRuntime`.
    public static let runcCompatible: @Sendable (RuntimeHandlerSet.Handler) -> any OCIRuntime = { handler in
        let base = RuncCompatibleRuntime(
            name: handler.name,
            binary: handler.resolvedPath ?? handler.configuredPath,
            root: handler.root,
            globalArguments: handler.runtimeArguments
        )
        guard handler.sandboxed else { return base }
        return SandboxedRuntime(base: base, shim: sandboxShim)
    }

    /// `skiff-sandbox-shim` next to the running executable (skiffd, or the test runner).
    public static var sandboxShim: String { FileSystem.besideExecutable("skiff-sandbox-shim") }

    // MARK: Start

    /// Under the container's teardown lock: a concurrent RemoveContainer runs before or after,
    /// never between `runtime start` and the record (which would bring a removed record back).
    public func start(_ id: String) async throws(SkiffError) {
        try await teardown.withLock(await lockKey(ofContainer: id)) { () async throws(SkiffError) in
            try await startHoldingLock(id)
        }
    }

    private func startHoldingLock(_ id: String) async throws(SkiffError) {
        var container = try await existing(id)
        guard container.state == .created else {
            throw SkiffError(
                .failedPrecondition,
                "container \(container.id) is \(container.state.rawValue), not created; only a created container can be started"
            )
        }
        let startedAt = WallClock.nanoseconds()
        // A command that exits at once has its exit file before this records the start: the
        // exit is collected after it (never a STOPPED before STARTED, nor a start over an exit).
        starting.insert(container.id)
        defer { starting.remove(container.id) }
        try await runtime(for: container).start(id: container.id)
        container.state = .running
        container.startedAt = startedAt
        try await store.save(container)
        logger.info("container started", metadata: ["id": "\(container.id)", "name": "\(container.name)"])
        await events.publish(ContainerEvent(kind: .started, container: container, timestamp: container.startedAt))
        starting.remove(container.id)
        await collectExit(of: container.id)
    }

    // MARK: Queries

    public func container(_ id: String) async throws(SkiffError) -> Container {
        try await existing(id)
    }

    public func list(
        idPrefix: String? = nil,
        state: Container.State? = nil,
        sandboxID: String? = nil,
        labels: [String: String] = [:]
    ) async -> [Container] {
        await store.all.filter { container in
            (idPrefix.map { $0.isEmpty || container.id.hasPrefix($0) } ?? true)
                && (state.map { container.state == $0 } ?? true)
                && (sandboxID.map { $0.isEmpty || container.sandboxID.hasPrefix($0) } ?? true)
                && labels.allSatisfy { container.labels[$0.key] == $0.value }
        }
    }

    /// Whether a container has this ID or unique ID prefix.
    public func exists(_ id: String) async -> Bool {
        guard !id.isEmpty else { return false }
        return await store.find(id) != nil
    }

    /// The container, once any exit conmon wrote for it is recorded.
    public func current(_ id: String) async throws(SkiffError) -> Container {
        await collectExit(of: id)
        return try await existing(id)
    }

    /// The container, once any exit conmon wrote for it is recorded, if it runs; else
    /// FAILED_PRECONDITION saying it cannot `purpose` ("exec in it").
    public func running(_ id: String, toAllow purpose: String) async throws(SkiffError) -> Container {
        await collectExit(of: id)
        let container = try await existing(id)
        guard container.state == .running else {
            throw SkiffError(
                .failedPrecondition,
                "container \(container.id) is \(container.state.rawValue), not running; cannot \(purpose)"
            )
        }
        return container
    }

    /// Details for ContainerStatus's `verbose` info: the OCI spec the container was created with.
    public func runtimeSpecJSON(of id: String) async -> String? {
        guard let container = await store.find(id) else { return nil }
        let path = bundleDirectory(of: container.id) + "/config.json"
        do {
            return try FileSystem.readText(path, limit: 4 << 20)
        } catch {
            logger.warning("cannot read a container's spec", metadata: ["path": "\(path)", "error": "\(error)"])
            return nil
        }
    }

    /// `<state_dir>/containers/<id>`: the record, the OCI bundle and conmon's files.
    nonisolated func bundleDirectory(of id: String) -> String { store.directory(of: id) }

    // MARK: Helpers

    func existing(_ id: String) async throws(SkiffError) -> Container {
        guard !id.isEmpty else { throw SkiffError.invalidArgument("a container ID is required") }
        guard let container = await store.find(id) else {
            throw SkiffError.notFound("container \"\(id)\" does not exist")
        }
        return container
    }

    nonisolated func runtime(for container: Container) throws(SkiffError) -> any OCIRuntime {
        guard let handler = options.handlers[container.runtimeHandler] else {
            throw SkiffError(
                .failedPrecondition,
                "runtime handler \"\(container.runtimeHandler)\" of container \(container.id) is no longer configured"
            )
        }
        return makeRuntime(handler)
    }

    func targetPIDNamespace(_ mode: ContainerSpec.PIDMode, sandbox: PodSandbox) async throws(SkiffError) -> String? {
        if case .pod = mode, let pid = sandbox.pausePID, kill(pid, 0) == 0 { return "/proc/\(pid)/ns/pid" }
        guard case .target(let id) = mode else { return nil }
        let target = try await existing(id)
        guard target.state == .running, target.pid > 0 else { return nil }
        return "/proc/\(target.pid)/ns/pid"
    }

    /// Unmounts and deletes the writable layer and drops the image leases.
    func releaseFilesystem(id: String, layers: [Digest]) async {
        let directory = "\(layersRoot)/\(id)"
        unmountImageVolumes(in: directory)
        logger.logFailure(.warning, "cannot unmount a container's root filesystem", metadata: ["id": "\(id)"]) {
            () throws(SystemCallError) in try FileSystem.unmount(directory + "/rootfs")
        }
        do {
            try DirectoryTree.remove(directory)
        } catch {
            logger.warning(
                "cannot remove the writable layer of a container",
                metadata: ["id": "\(id)", "error": "\(error)"]
            )
        }
        if !layers.isEmpty { await images.releaseLayers(layers) }
    }

    static func terminationMessageHostPath(_ spec: ContainerSpec) -> String? {
        guard let path = spec.annotations["io.kubernetes.container.terminationMessagePath"] else { return nil }
        return spec.mounts.first {
            ContainerSpecBuilder.normalized($0.containerPath) == ContainerSpecBuilder.normalized(path)
        }?.hostPath
    }
}
