import Foundation
import ImageCore
import LinuxSys
import Logging
import Metadata
import SkiffCommon

/// Containers: an overlay root filesystem over the image's snapshots, an OCI spec generated
/// from the CRI config, `runtime create` under conmon, start/stop/remove, exits read from
/// conmon's exit files, durable records and recovery after a restart.
public actor ContainerService {
    public struct Options: Sendable {
        public var stateDir: String
        public var rootDir: String
        public var handlers: RuntimeHandlerSet
        public var cgroupLayout: CgroupLayout?
        /// Parent cgroup for pods that name none.
        public var defaultCgroupParent: String
        public var commandTimeout: Duration
        /// How often running containers are checked for an exit file when the exit directory
        /// cannot be watched with inotify.
        public var exitPollInterval: Duration
        /// The static pause binary run as PID 1 of pods that share a PID namespace.
        public var pauseBinary: String

        public init(
            stateDir: String,
            rootDir: String,
            handlers: RuntimeHandlerSet,
            cgroupLayout: CgroupLayout?,
            defaultCgroupParent: String = "/skiff",
            commandTimeout: Duration = .seconds(60),
            exitPollInterval: Duration = .milliseconds(100),
            pauseBinary: String = ContainerService.pauseBesideExecutable()
        ) {
            self.pauseBinary = pauseBinary
            self.stateDir = stateDir
            self.rootDir = rootDir
            self.handlers = handlers
            self.cgroupLayout = cgroupLayout
            self.defaultCgroupParent = defaultCgroupParent
            self.commandTimeout = commandTimeout
            self.exitPollInterval = exitPollInterval
        }
    }

    let options: Options
    /// `<state_dir>/containers/<id>/container.json`, beside the bundle and conmon's files.
    let store: RecordDirectory<Container>
    let sandboxes: SandboxService
    let images: ImageManager
    let monitor: any ContainerMonitor
    let makeRuntime: @Sendable (RuntimeHandlerSet.Handler) -> any OCIRuntime
    public let events = ContainerEventHub()
    let logger: Logger
    let minimumOOMScoreAdj: Int
    /// What request validation needs to know of the node (huge page sizes, AppArmor, cgroups).
    let nodeFacts: ContainerSpec.NodeFacts
    var exitWatcher: Task<Void, Never>?
    /// The inotify watch on conmon's exit directory (nil when polling).
    var exitFiles: DirectoryWatcher?
    /// Callers waiting for an exit file, by file name, then by waiter.
    var exitWaiters: [String: [Int: CheckedContinuation<Void, Never>]] = [:]
    var nextExitWaiter = 0
    /// Containers whose StartContainer is between `runtime start` and its record.
    var starting: Set<String> = []
    /// Pods whose pause process skiffd is stopping itself (its exit is no news).
    var pausesBeingRemoved: Set<String> = []
    /// Exit collections in progress, so that the watcher and an rpc never record one exit twice.
    var exitCollections: [String: Task<Void, Never>] = [:]
    /// The last CPU sample per container, for nanocores.
    var cpuSamples: [String: (timestamp: Int64, usage: UInt64)] = [:]
    /// RunPodSandbox and CreateContainer calls in progress or finished unclaimed, for retries.
    let podCreations = CreationLedger<SandboxSpec, PodSandbox>()
    let containerCreations = CreationLedger<ContainerSpec, Container>()
    /// Stops and removals, one at a time per container and per pod.
    let teardown = ObjectLocks()
    /// Name keys of CreateContainer calls in progress.
    var reserved: Set<String> = []

    var exitDirectory: String { options.stateDir + "/exits" }
    var socketDirectory: String { options.stateDir + "/attach" }
    var layersRoot: String { options.rootDir + "/containers" }

    public init(
        options: Options,
        sandboxes: SandboxService,
        images: ImageManager,
        monitor: any ContainerMonitor,
        makeRuntime: @escaping @Sendable (RuntimeHandlerSet.Handler) -> any OCIRuntime = ContainerService
            .runcCompatible,
        logger: Logger
    ) async throws(SkiffError) {
        self.options = options
        self.sandboxes = sandboxes
        self.images = images
        self.monitor = monitor
        self.makeRuntime = makeRuntime
        self.logger = logger
        store = try RecordDirectory(
            root: options.stateDir + "/containers",
            fileName: "container.json",
            id: \.id,
            createdAt: \.createdAt
        )
        nodeFacts = ContainerSpec.NodeFacts.current(cgroupLayout: options.cgroupLayout)
        minimumOOMScoreAdj =
            (try? FileSystem.readText("/proc/self/oom_score_adj")).flatMap { Int($0.trimmingNewline) } ?? 0
        for directory in [options.stateDir + "/exits", options.stateDir + "/attach", options.rootDir + "/containers"] {
            do {
                try FileSystem.makeDirectories(directory, mode: 0o711)
            } catch {
                throw error.skiffError("cannot create \(directory)")
            }
        }
        // The watch first: recovery waits for exits too (pause processes it removes).
        startExitWatcher()
        await recover()
    }

    /// `skiff-pause` next to the running executable (skiffd, or the test runner).
    public static func pauseBesideExecutable() -> String {
        FileSystem.parentDirectory(of: (try? FileSystem.readLink("/proc/self/exe")) ?? "") + "/skiff-pause"
    }

    public static let runcCompatible: @Sendable (RuntimeHandlerSet.Handler) -> any OCIRuntime = { handler in
        RuncCompatibleRuntime(
            name: handler.name,
            binary: handler.resolvedPath ?? handler.configuredPath,
            root: handler.root
        )
    }

    public func shutdown() {
        exitWatcher?.cancel()
        exitWatcher = nil
        exitFiles = nil
    }

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
        let startedAt = SandboxService.nowNanoseconds()
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

    /// Details for ContainerStatus's `verbose` info.
    public func runtimeSpecJSON(of id: String) async -> String? {
        guard let container = await store.find(id) else { return nil }
        return try? FileSystem.readText(store.directory(of: container.id) + "/config.json", limit: 4 << 20)
    }

    // MARK: Helpers

    func existing(_ id: String) async throws(SkiffError) -> Container {
        guard !id.isEmpty else { throw SkiffError.invalidArgument("a container ID is required") }
        guard let container = await store.find(id) else {
            throw SkiffError.notFound("container \"\(id)\" does not exist")
        }
        return container
    }

    func runtime(for container: Container) throws(SkiffError) -> any OCIRuntime {
        guard let handler = options.handlers[container.runtimeHandler] else {
            throw SkiffError(
                .failedPrecondition,
                "runtime handler \"\(container.runtimeHandler)\" of container \(container.id) is no longer configured"
            )
        }
        return makeRuntime(handler)
    }

    /// `<the pod's cgroup_parent, else options.defaultCgroupParent>/skiff-<id>`, the cgroupfs
    /// path the OCI runtime creates for a container (or the pod's pause process).
    func cgroupsPath(of id: String, in sandbox: PodSandbox) -> String {
        let parent = (sandbox.cgroupParent ?? "").isEmpty ? options.defaultCgroupParent : sandbox.cgroupParent!
        return (parent.hasSuffix("/") ? String(parent.dropLast()) : parent) + "/skiff-" + id
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
        try? FileSystem.unmount(directory + "/rootfs")
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

    static func writeJSON<Value: Encodable>(_ value: Value, to path: String) throws(SkiffError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            try FileSystem.writeAtomically(path, Array(try encoder.encode(value)), mode: 0o600)
        } catch let error as SystemCallError {
            throw error.skiffError("cannot write \(path)")
        } catch {
            throw SkiffError(.internalError, "cannot encode \(path)", cause: DescribedError(error))
        }
    }

    static func terminationMessageHostPath(_ spec: ContainerSpec) -> String? {
        guard let path = spec.annotations["io.kubernetes.container.terminationMessagePath"] else { return nil }
        return spec.mounts.first {
            ContainerSpecBuilder.normalized($0.containerPath) == ContainerSpecBuilder.normalized(path)
        }?.hostPath
    }

    /// "SIGTERM", "TERM" or "15".
    static func signalNumber(_ name: String?) -> Int32? {
        guard var name = name?.uppercased(), !name.isEmpty else { return nil }
        if let number = Int32(name) { return number }
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        let table: [String: Int32] = [
            "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "KILL": SIGKILL, "USR1": SIGUSR1, "USR2": SIGUSR2,
            "TERM": SIGTERM, "STOP": SIGSTOP, "CONT": SIGCONT, "WINCH": SIGWINCH, "PWR": 30,
        ]
        return table[name]
    }
}
