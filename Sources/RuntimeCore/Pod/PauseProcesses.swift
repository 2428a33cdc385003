import FoundationEssentials
import LinuxSys
import Logging
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// The pause process of pods that share one PID namespace, and of pods run by a sandbox handler.
///
/// - A runc or crun pod gets its pause from Skiff's own helper (`DirectPause`): no runtime, no
///   conmon. Its pid and start time are recorded with the pod.
/// - In a pod of a sandbox handler (gVisor) the pause is the sandbox's first container, which
///   starts the sandbox itself: `/pause` run by the handler's runtime under conmon from one
///   read-only root filesystem shared by every pod. Its container ID is `pause-<pod ID>`, its
///   bundle `<pod directory>/pause`, and conmon writes its exit file as `pause-<pod ID>` into
///   the exit directory. Pods recorded by an earlier skiffd, whose pause runc runs, are torn
///   down the same way.
///
/// Other pods that do not share a PID namespace run no process at all.
struct PauseProcesses: Sendable {
    var rootDir: String
    var pauseBinary: String
    var handlers: RuntimeHandlerSet
    var defaultCgroupParent: String
    var commandTimeout: Duration
    var socketDirectory: String
    var monitor: any ContainerMonitor
    var makeRuntime: @Sendable (RuntimeHandlerSet.Handler) -> any OCIRuntime
    var exits: ExitFileWatcher
    var minimumOOMScoreAdj: Int
    var direct: DirectPause
    var logger: Logger

    static let idPrefix = "pause-"
    static func id(of sandbox: PodSandbox) -> String { idPrefix + sandbox.id }

    /// The pod whose pause process an exit file (or runtime container) named `name` is, if any.
    static func sandboxID(ofPause name: String) -> String? {
        name.hasPrefix(idPrefix) ? String(name.dropFirst(idPrefix.count)) : nil
    }

    var rootfs: String { rootDir + "/pause/rootfs" }

    /// The runtime of the pod's handler: configured, else as recorded when the pod was made.
    func runtime(of sandbox: PodSandbox) -> (any OCIRuntime)? {
        if let handler = handlers.handler(named: sandbox.runtimeHandler) { return makeRuntime(handler) }
        guard let binary = sandbox.runtimeBinary, let root = sandbox.runtimeRoot else { return nil }
        return makeRuntime(
            .recorded(
                name: sandbox.runtimeHandler,
                binary: binary,
                root: root,
                sandboxed: sandbox.runsInSandbox,
                runtimeArguments: sandbox.runtimeArguments ?? []
            )
        )
    }

    /// The pause binary's root filesystem: one read-only directory shared by every pod.
    func prepareRootfs() throws(SkiffError) {
        guard FileSystem.isExecutableFile(pauseBinary) else {
            throw SkiffError(
                .failedPrecondition,
                "the pause binary \(pauseBinary) is missing; reinstall skiffd (scripts/setup-node.sh installs skiff-pause beside it)"
            )
        }
        do {
            for directory in ["proc", "dev", "sys"] {
                try FileSystem.makeDirectories(rootfs + "/" + directory, mode: 0o755)
            }
            let installed = rootfs + "/pause"
            let wanted = try FileSystem.readBytes(pauseBinary, limit: 64 << 20)
            // try?: an installed copy that cannot be read is replaced like one that differs.
            if (try? FileSystem.readBytes(installed, limit: 64 << 20)) != wanted {
                try FileSystem.writeAtomically(installed, wanted, mode: 0o755)
            }
        } catch {
            throw error.skiffError("cannot prepare the pause root filesystem in \(rootfs)")
        }
    }

    /// Creates and starts the pod's pause process; returns its host pid, and its start time when
    /// Skiff started it itself.
    func start(for sandbox: PodSandbox) async throws(SkiffError) -> (pid: Int32, startTime: UInt64?) {
        guard sandbox.runsInSandbox else {
            let started = try await direct.start(for: sandbox)
            logger.info("pod pause process started", metadata: ["pod": "\(sandbox.id)", "pid": "\(started.pid)"])
            return (started.pid, started.startTime)
        }
        return (try await startInRuntime(for: sandbox), nil)
    }

    /// The pause as the first container of the pod's sandbox, through the handler's runtime.
    private func startInRuntime(for sandbox: PodSandbox) async throws(SkiffError) -> Int32 {
        try prepareRootfs()
        guard let handler = handlers.handler(named: sandbox.runtimeHandler), let runtimePath = handler.resolvedPath
        else {
            throw SkiffError(
                .failedPrecondition,
                "runtime handler \"\(sandbox.runtimeHandler)\" is not available on this node"
            )
        }
        let id = Self.id(of: sandbox)
        let bundle = sandbox.directory + "/pause"
        do {
            try FileSystem.makeDirectories(bundle, mode: 0o700)
        } catch {
            throw error.skiffError("cannot create \(bundle)")
        }
        try JSONFile.write(spec(for: sandbox), to: bundle + "/config.json")
        let started = try await monitor.create(
            MonitorRequest(
                id: id,
                name: "pause",
                bundle: bundle,
                runtimePath: runtimePath,
                runtimeRoot: handler.root,
                runtimeArguments: handler.runtimeArguments,
                logPath: "",
                exitDirectory: exits.directory,
                socketDirectory: socketDirectory,
                stdin: false,
                stdinOnce: false,
                tty: false,
                timeout: commandTimeout
            )
        )
        try await makeRuntime(handler).start(id: id)
        logger.info("pod pause process started", metadata: ["pod": "\(sandbox.id)", "pid": "\(started.pid)"])
        return started.pid
    }

    /// `/pause` alone in new PID and mount namespaces, in the pod's network, IPC and UTS ones.
    func spec(for sandbox: PodSandbox) -> RuntimeSpec {
        var spec = RuntimeSpec.basic(
            args: ["/pause"],
            rootfs: rootfs,
            hostname: sandbox.hostNetwork ? nil : sandbox.hostname
        )
        spec.root.readonly = true
        // runc needs /proc; /dev on a tmpfs keeps its device nodes out of the shared rootfs.
        spec.mounts = RuntimeSpec.standardMounts.filter { $0.destination == "/proc" || $0.destination == "/dev" }
        spec.process.capabilities = .init([])
        spec.linux.namespaces = [.init(type: "pid", path: nil), .init(type: "mount", path: nil)]
        if let path = sandbox.namespaces?.network, !sandbox.hostNetwork {
            spec.linux.namespaces.append(.init(type: "network", path: path))
        }
        if let path = sandbox.namespaces?.ipc, !sandbox.hostIPC {
            spec.linux.namespaces.append(.init(type: "ipc", path: path))
        }
        if let path = sandbox.namespaces?.uts, !sandbox.hostNetwork {
            spec.linux.namespaces.append(.init(type: "uts", path: path))
        }
        if let mapping = sandbox.userNamespace, let path = sandbox.namespaces?.user {
            spec.linux.joinUserNamespace(at: path, mapping: mapping)
        }
        spec.linux.cgroupsPath = sandbox.cgroupsPath(of: Self.id(of: sandbox), defaultParent: defaultCgroupParent)
        spec.linux.maskedPaths = nil
        spec.linux.readonlyPaths = nil
        spec.process.oomScoreAdj = max(-998, minimumOOMScoreAdj)
        if sandbox.runsInSandbox {
            // The sandbox (gVisor) starts with this container: the CRI annotations make it the
            // root of the pod's sandbox, which the pod's containers name.
            spec.annotations = ContainerSpecBuilder.sandboxAnnotations(
                of: sandbox,
                sandboxContainerID: Self.id(of: sandbox)
            )
        }
        return spec
    }

    /// Whether the pod's pause runs as a container of its runtime (a sandbox's first container,
    /// or a pause an earlier skiffd had runc run), rather than as Skiff's own process.
    private func runsInRuntime(_ sandbox: PodSandbox) -> Bool {
        sandbox.pauseStartTime == nil && (sandbox.runsInSandbox || FileSystem.exists(sandbox.directory + "/pause"))
    }

    /// The identity of the pod's pause, when Skiff started it itself and recorded it.
    static func directIdentity(of sandbox: PodSandbox) -> DirectPause.Identity? {
        guard let pid = sandbox.pausePID, let startTime = sandbox.pauseStartTime else { return nil }
        return DirectPause.Identity(pid: pid, startTime: startTime)
    }

    /// Kills and removes the pod's pause process, if it has one. Never fails: what cannot be
    /// removed is logged.
    func remove(of sandbox: PodSandbox) async {
        guard runsInRuntime(sandbox) else {
            await direct.remove(of: sandbox, recorded: Self.directIdentity(of: sandbox))
            return
        }
        let id = Self.id(of: sandbox)
        let bundle = sandbox.directory + "/pause"
        guard FileSystem.exists(bundle), let runtime = runtime(of: sandbox) else { return }
        // A pause never recorded may still be being created by an earlier skiffd's conmon.
        let leftovers =
            sandbox.pausePID == nil
            ? await LeftoverMonitors.settle(of: id, pidFile: bundle + "/pidfile", deadline: commandTimeout) : []
        defer { LeftoverMonitors.kill(leftovers, of: id) }
        do {
            try await runtime.kill(id: id, signal: SIGKILL)
            await exits.wait(for: id, until: ContinuousClock.now + .seconds(10))
        } catch {
            // Not there (never started, or already deleted): no exit file will come.
            logger.debug(
                "the pause container takes no signal",
                metadata: ["pod": "\(sandbox.id)", "error": "\(error)"]
            )
        }
        do {
            try await runtime.delete(id: id, force: true)
        } catch {
            logger.warning(
                "cannot delete a pod's pause container",
                metadata: ["pod": "\(sandbox.id)", "error": "\(error)"]
            )
        }
        exits.remove(id)
        logger.logFailure(
            .warning,
            "cannot remove a pause container's attach socket",
            metadata: ["pod": "\(sandbox.id)"]
        ) {
            () throws(SystemCallError) in try FileSystem.removeIfPresent(socketDirectory + "/" + id)
        }
        logger.logFailure(.warning, "cannot remove a pause container's bundle", metadata: ["pod": "\(sandbox.id)"]) {
            () throws(SystemCallError) in try DirectoryTree.remove(bundle)
        }
    }

    /// Whether the pod's recorded pause process is gone: it wrote its exit file, or its runtime
    /// no longer has it running. nil when the runtime cannot say.
    func isGone(of sandbox: PodSandbox) async -> Bool? {
        if let identity = Self.directIdentity(of: sandbox) { return direct.handle(of: identity) == nil }
        let id = Self.id(of: sandbox)
        if exits.exists(id) { return true }
        guard let runtime = runtime(of: sandbox) else { return nil }
        do throws(SkiffError) {
            let state = try await runtime.state(id: id)
            return state == nil || state?.status == "stopped"
        } catch {
            logger.warning(
                "cannot read the state of a pod's pause process",
                metadata: ["pod": "\(sandbox.id)", "error": "\(error)"]
            )
            return nil
        }
    }
}
