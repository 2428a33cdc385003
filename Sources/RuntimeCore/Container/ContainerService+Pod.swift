import Foundation
import LinuxSys
import SkiffCommon

/// Pod-level lifecycle that involves containers: the pause process of pods that share one PID
/// namespace, and stopping or removing a pod with its containers. Pods that do not share a PID
/// namespace run no process at all.
extension ContainerService {
    /// RunPodSandbox: the sandbox, then its pause process when the pod shares PIDs. Runs to its
    /// end even when the caller gives up, and a retry gets the pod it made (`CreationLedger`).
    public func runPod(_ spec: SandboxSpec) async throws(SkiffError) -> PodSandbox {
        let sandboxes = self.sandboxes
        return try await podCreations.create(
            key: "\(spec.namespace)/\(spec.name)/\(spec.uid)/\(spec.attempt)",
            spec: spec,
            what: "pod sandbox \(spec.namespace)/\(spec.name) (uid \(spec.uid), attempt \(spec.attempt))",
            stillExists: { pod in (try? await sandboxes.sandbox(pod.id)) != nil },
            work: { [self] in
                do throws(SkiffError) {
                    return .success(try await self.runPodOnce(spec))
                } catch {
                    return .failure(error)
                }
            }
        )
    }

    /// One RunPodSandbox. A pause that cannot start undoes the sandbox.
    func runPodOnce(_ spec: SandboxSpec) async throws(SkiffError) -> PodSandbox {
        var sandbox = try await sandboxes.run(spec)
        guard spec.sharedPID && !spec.hostPID else { return sandbox }
        do {
            let pid = try await startPause(for: sandbox)
            try await sandboxes.recordPause(sandbox.id, pid: pid)
            sandbox.pausePID = pid
        } catch {
            await removePause(of: sandbox)
            try? await sandboxes.remove(sandbox.id)
            throw error
        }
        return sandbox
    }

    /// Stops every container of a pod (StopPodSandbox), its pause process, then the sandbox.
    /// Concurrent stops and removals of one pod run one after the other and all answer.
    public func stopPod(_ sandboxID: String) async throws(SkiffError) {
        try await teardown.withLock(await lockKey(ofPod: sandboxID)) { () async throws(SkiffError) in
            guard let sandbox = try? await sandboxes.sandbox(sandboxID) else { return }
            for container in await list(sandboxID: sandbox.id)
            where container.state == .running || container.state == .created {
                do throws(SkiffError) {
                    try await stop(container.id, timeout: 0)
                } catch {
                    // Removed by a RemoveContainer that ran first: nothing of it to stop.
                    guard error.code == .notFound else { throw error }
                }
            }
            await removePause(of: sandbox)
            if sandbox.pausePID != nil { try await sandboxes.recordPause(sandbox.id, pid: nil) }
            try await sandboxes.stop(sandbox.id)
        }
    }

    /// Removes every container of a pod (RemovePodSandbox), its pause process, then the sandbox.
    public func removePod(_ sandboxID: String) async throws(SkiffError) {
        try await teardown.withLock(await lockKey(ofPod: sandboxID)) { () async throws(SkiffError) in
            guard let sandbox = try? await sandboxes.sandbox(sandboxID) else { return }
            for container in await list(sandboxID: sandbox.id) {
                try await remove(container.id)
            }
            await removePause(of: sandbox)
            try await sandboxes.remove(sandbox.id)
        }
    }

    /// The lock of a pod, by its full ID (see `lockKey(ofContainer:)`).
    func lockKey(ofPod id: String) async -> String {
        "pod/" + ((try? await sandboxes.sandbox(id))?.id ?? id)
    }

    /// The runtime of the pod's handler: configured, else as recorded when the pod was made.
    func pauseRuntime(of sandbox: PodSandbox) -> (any OCIRuntime)? {
        if let handler = options.handlers.handler(named: sandbox.runtimeHandler) { return makeRuntime(handler) }
        guard let binary = sandbox.runtimeBinary, let root = sandbox.runtimeRoot else { return nil }
        return makeRuntime(.recorded(name: sandbox.runtimeHandler, binary: binary, root: root))
    }

    static let pausePrefix = "pause-"
    static func pauseID(of sandbox: PodSandbox) -> String { pausePrefix + sandbox.id }

    var pauseRootfs: String { options.rootDir + "/pause/rootfs" }

    /// The pause binary's root filesystem: one read-only directory shared by every pod.
    func preparePauseRootfs() throws(SkiffError) {
        guard FileSystem.isExecutableFile(options.pauseBinary) else {
            throw SkiffError(
                .failedPrecondition,
                "the pause binary \(options.pauseBinary) is missing; reinstall skiffd (scripts/setup-node.sh installs skiff-pause beside it)"
            )
        }
        do {
            for directory in ["proc", "dev", "sys"] {
                try FileSystem.makeDirectories(pauseRootfs + "/" + directory, mode: 0o755)
            }
            let installed = pauseRootfs + "/pause"
            let wanted = try FileSystem.readBytes(options.pauseBinary, limit: 64 << 20)
            if (try? FileSystem.readBytes(installed, limit: 64 << 20)) != wanted {
                try FileSystem.writeAtomically(installed, wanted, mode: 0o755)
            }
        } catch {
            throw error.skiffError("cannot prepare the pause root filesystem in \(pauseRootfs)")
        }
    }

    func startPause(for sandbox: PodSandbox) async throws(SkiffError) -> Int32 {
        try preparePauseRootfs()
        guard let handler = options.handlers.handler(named: sandbox.runtimeHandler),
            let runtimePath = handler.resolvedPath
        else {
            throw SkiffError(
                .failedPrecondition,
                "runtime handler \"\(sandbox.runtimeHandler)\" is not available on this node"
            )
        }
        let id = Self.pauseID(of: sandbox)
        let bundle = sandbox.directory + "/pause"
        do {
            try FileSystem.makeDirectories(bundle, mode: 0o700)
        } catch {
            throw error.skiffError("cannot create \(bundle)")
        }
        var spec = RuntimeSpec.basic(
            args: ["/pause"],
            rootfs: pauseRootfs,
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
        spec.linux.cgroupsPath = cgroupsPath(of: id, in: sandbox)
        spec.linux.maskedPaths = nil
        spec.linux.readonlyPaths = nil
        spec.process.oomScoreAdj = max(-998, minimumOOMScoreAdj)
        try Self.writeJSON(spec, to: bundle + "/config.json")
        let started = try await monitor.create(
            MonitorRequest(
                id: id,
                name: "pause",
                bundle: bundle,
                runtimePath: runtimePath,
                runtimeRoot: handler.root,
                logPath: "",
                exitDirectory: exitDirectory,
                socketDirectory: socketDirectory,
                stdin: false,
                stdinOnce: false,
                tty: false,
                timeout: options.commandTimeout
            )
        )
        try await makeRuntime(handler).start(id: id)
        logger.info("pod pause process started", metadata: ["pod": "\(sandbox.id)", "pid": "\(started.pid)"])
        return started.pid
    }

    /// Kills and deletes the pod's pause container, if it has one. Never fails: what cannot be
    /// removed is logged.
    func removePause(of sandbox: PodSandbox) async {
        let id = Self.pauseID(of: sandbox)
        let bundle = sandbox.directory + "/pause"
        guard FileSystem.exists(bundle), let runtime = pauseRuntime(of: sandbox) else { return }
        pausesBeingRemoved.insert(sandbox.id)
        defer { pausesBeingRemoved.remove(sandbox.id) }
        // A pause never recorded may still be being created by an earlier skiffd's conmon.
        let leftovers =
            sandbox.pausePID == nil ? await settleLeftoverMonitors(of: id, pidFile: bundle + "/pidfile") : []
        defer { killLeftoverMonitors(leftovers, of: id) }
        // Not there (never started, or already deleted): no exit file will come.
        if (try? await runtime.kill(id: id, signal: SIGKILL)) != nil {
            await waitForExitFile(id, until: ContinuousClock.now + .seconds(10))
        }
        do {
            try await runtime.delete(id: id, force: true)
        } catch {
            logger.warning(
                "cannot delete a pod's pause container",
                metadata: ["pod": "\(sandbox.id)", "error": "\(error)"]
            )
        }
        try? FileSystem.removeIfPresent(exitDirectory + "/" + id)
        try? FileSystem.removeIfPresent(socketDirectory + "/" + id)
        try? DirectoryTree.remove(bundle)
    }

    /// After a restart: a pod whose pause process exited while skiffd was down is not ready.
    func recoverPauses() async {
        // skiffd died between the pod's record and its pause: RunPodSandbox never answered, so
        // no client knows the pod; it goes, and the client's retry makes it anew.
        for sandbox in await sandboxes.list(state: .ready)
        where sandbox.sharedPID == true && !sandbox.hostPID && sandbox.pausePID == nil {
            logger.warning(
                "removing a pod whose pause process was being started when skiffd stopped",
                metadata: ["id": "\(sandbox.id)"]
            )
            do {
                try await removePod(sandbox.id)
            } catch {
                await sandboxes.markNotReady(
                    sandbox.id,
                    reason: "its pause process was never recorded and it cannot be removed: \(error)"
                )
            }
        }
        for sandbox in await sandboxes.list(state: .ready) where sandbox.pausePID != nil {
            let id = Self.pauseID(of: sandbox)
            let exited = FileSystem.exists(exitDirectory + "/" + id)
            var gone = exited
            if !exited, let runtime = pauseRuntime(of: sandbox) {
                do throws(SkiffError) {
                    let state = try await runtime.state(id: id)
                    gone = state == nil || state?.status == "stopped"
                } catch {
                    // The runtime could not say: the pod keeps its state rather than being
                    // declared broken on no evidence (the kubelet would recreate it).
                    logger.warning(
                        "cannot read the state of a pod's pause process",
                        metadata: ["pod": "\(sandbox.id)", "error": "\(error)"]
                    )
                }
            }
            if gone { await sandboxes.markNotReady(sandbox.id, reason: "its pause process is gone") }
        }
    }
}
