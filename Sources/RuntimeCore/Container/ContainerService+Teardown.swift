import FoundationEssentials
import ImageCore
import LinuxSys
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// StopContainer and RemoveContainer: serialised per container (`teardown`), and never wedged by
/// a runtime that cannot end a container — that one is forced.
extension ContainerService {
    // MARK: Stop

    /// Sends the stop signal, waits up to `timeout` seconds, then SIGKILL. 0 kills at once.
    /// Stopping a container that is not running succeeds; concurrent stops and removes of one
    /// container run one after the other and all answer.
    public func stop(_ id: String, timeout: Int64) async throws(SkiffError) {
        try await teardown.withLock(await lockKey(ofContainer: id)) { () async throws(SkiffError) in
            try await stopHoldingLock(id, timeout: timeout)
        }
    }

    /// The lock of a container, by its full ID: a unique prefix (crictl's) and the full ID (the
    /// kubelet's) name one container and must wait for each other.
    func lockKey(ofContainer id: String) async -> String {
        "container/" + ((await store.find(id))?.id ?? id)
    }

    /// How long a SIGKILLed container may take to be reported by conmon before it is forced.
    var killGrace: Duration { min(options.commandTimeout, .seconds(10)) }

    private func stopHoldingLock(_ id: String, timeout: Int64) async throws(SkiffError) {
        await collectExit(of: id)
        let container = try await existing(id)
        guard container.state == .running || container.state == .created else { return }
        let runtime = try teardownRuntime(for: container)
        if container.state == .created {
            // Never started: there is nothing to stop gracefully, and some runtimes (runsc) do
            // not end a created container on a signal. delete --force ends it and its helpers.
            await ask("delete --force", container) { () async throws(SkiffError) in
                try await runtime.delete(id: container.id, force: true)
            }
            if await waitForExit(container.id, within: killGrace) { return }
            try await forceEnd(container, runtime: runtime, why: "its runtime did not end the created container")
            return
        }
        if timeout > 0 {
            await ask("kill -\(container.stopSignal)", container) { () async throws(SkiffError) in
                try await runtime.kill(id: container.id, signal: container.stopSignal)
            }
            if await waitForExit(container.id, within: .seconds(timeout)) { return }
            logger.info(
                "container did not stop within its grace period; killing it",
                metadata: ["id": "\(container.id)", "grace": "\(timeout)s"]
            )
        }
        await ask("kill -KILL", container) { () async throws(SkiffError) in
            try await runtime.kill(id: container.id, signal: SIGKILL)
        }
        if await waitForExit(container.id, within: killGrace) { return }
        try await forceEnd(container, runtime: runtime, why: "it did not exit within \(killGrace) of SIGKILL")
    }

    /// The runtime could not end the container: `delete --force`, then conmon and every process
    /// left in the container's cgroup are killed, and the exit is recorded by skiffd (137).
    func forceEnd(_ container: Container, runtime: any OCIRuntime, why: String) async throws(SkiffError) {
        logger.warning("forcing a container's end", metadata: ["id": "\(container.id)", "reason": "\(why)"])
        await ask("delete --force", container) { () async throws(SkiffError) in
            try await runtime.delete(id: container.id, force: true)
        }
        if await waitForExit(container.id, within: .seconds(2)) { return }
        // conmon's command line names the container (--cid): a reused pid is never killed.
        if container.monitorPID > 0, ProcessTree.commandLine(of: container.monitorPID)?.contains(container.id) == true {
            kill(container.monitorPID, SIGKILL)
        }
        if let layout = options.cgroupLayout {
            for pid in CgroupFiles.processes(ofCgroup: container.cgroupsPath, layout: layout) { kill(pid, SIGKILL) }
        }
        guard var current = await store.find(container.id), current.state == .running || current.state == .created
        else { return }
        current.state = .exited
        current.exitCode = 137
        current.finishedAt = WallClock.nanoseconds()
        current.reason = "Error"
        current.message = "killed by skiffd: \(why)"
        try await store.save(current)
        await events.publish(ContainerEvent(kind: .stopped, container: current, timestamp: current.finishedAt))
    }

    /// Asks the runtime to end the container. A refusal is logged, not thrown (the container may
    /// have exited meanwhile): the wait for conmon's exit file that follows, then a forced end,
    /// find out whether it worked.
    private func ask(_ what: String, _ container: Container, _ call: () async throws(SkiffError) -> Void) async {
        await logger.logFailure(
            .debug,
            "the runtime refused to end a container",
            metadata: ["id": "\(container.id)", "call": "\(what)"],
            of: call
        )
    }

    /// Waits for the container's exit to be recorded, woken by conmon's exit file; true once it is.
    func waitForExit(_ id: String, within duration: Duration) async -> Bool {
        let deadline = ContinuousClock.now + duration
        while true {
            await collectExit(of: id)
            if let container = await store.find(id), container.state != .running && container.state != .created {
                return true
            }
            if await store.find(id) == nil { return true }
            if ContinuousClock.now >= deadline { return false }
            await waitForExitFile(id, until: deadline)
        }
    }

    // MARK: Remove

    /// Kills a running container, deletes it from the OCI runtime, unmounts and deletes its root
    /// filesystem and files. Removing a container that does not exist succeeds.
    public func remove(_ id: String) async throws(SkiffError) {
        guard !id.isEmpty else { throw SkiffError.invalidArgument("a container ID is required") }
        try await teardown.withLock(await lockKey(ofContainer: id)) { () async throws(SkiffError) in
            try await removeHoldingLock(id)
        }
    }

    private func removeHoldingLock(_ id: String) async throws(SkiffError) {
        guard let container = await store.find(id) else { return }
        if container.state == .running || container.state == .created {
            try await stopHoldingLock(container.id, timeout: 0)
        }
        let runtime: (any OCIRuntime)?
        do {
            runtime = try teardownRuntime(for: container)
        } catch {
            // An exited container of a handler no longer known: nothing of it runs; its files go.
            logger.warning("removing a container without its runtime", metadata: ["id": "\(id)", "error": "\(error)"])
            runtime = nil
        }
        try await runtime?.delete(id: container.id, force: true)
        await releaseFilesystem(id: container.id, layers: container.layerDigests)
        try await store.delete(container.id)
        exits.remove(container.id)
        removeAttachSocket(of: container.id)
        logger.info("container removed", metadata: ["id": "\(container.id)", "name": "\(container.name)"])
        await events.publish(
            ContainerEvent(kind: .deleted, container: container, timestamp: WallClock.nanoseconds())
        )
    }

    /// The runtime that created the container, for ending it: the configured handler, else (the
    /// handler was removed from the config since) the binary and root recorded at creation, so a
    /// container can always be stopped and removed.
    func teardownRuntime(for container: Container) throws(SkiffError) -> any OCIRuntime {
        if let handler = options.handlers[container.runtimeHandler] { return makeRuntime(handler) }
        guard let binary = container.runtimeBinary, let root = container.runtimeRoot else {
            throw SkiffError(
                .failedPrecondition,
                "runtime handler \"\(container.runtimeHandler)\" of container \(container.id) is no longer configured and its record predates the runtime path being kept"
            )
        }
        return makeRuntime(
            .recorded(
                name: container.runtimeHandler,
                binary: binary,
                root: root,
                sandboxed: container.runtimeSandboxed ?? false,
                runtimeArguments: container.runtimeArguments ?? []
            )
        )
    }

    // MARK: Pods

    /// Stops every live container of a pod at once (StopPodSandbox), side by side: each waits
    /// for its own exit, so the pod takes as long as its slowest container, not their sum. One
    /// removed meanwhile by a RemoveContainer that ran first has nothing left to stop.
    public func stopAll(inPod sandboxID: String) async throws(SkiffError) {
        let live = await list(sandboxID: sandboxID).filter { $0.state == .running || $0.state == .created }
        try await eachConcurrently(live.map(\.id)) { [self] id throws(SkiffError) in
            do throws(SkiffError) {
                try await stop(id, timeout: 0)
            } catch {
                guard error.code == .notFound else { throw error }
            }
        }
    }

    /// Removes every container of a pod (RemovePodSandbox), side by side.
    public func removeAll(inPod sandboxID: String) async throws(SkiffError) {
        try await eachConcurrently(await list(sandboxID: sandboxID).map(\.id)) { [self] id throws(SkiffError) in
            try await remove(id)
        }
    }

    /// Runs `body` for every ID at once and waits for all of them; the first failure is thrown
    /// once every one has ended (none is left running behind the answer).
    private func eachConcurrently(
        _ ids: [String],
        _ body: @escaping @Sendable (String) async throws(SkiffError) -> Void
    ) async throws(SkiffError) {
        if ids.count == 1 { return try await body(ids[0]) }
        let failures = await withTaskGroup(of: SkiffError?.self, returning: [SkiffError].self) { group in
            for id in ids {
                group.addTask {
                    do throws(SkiffError) {
                        try await body(id)
                        return nil
                    } catch {
                        return error
                    }
                }
            }
            var failures: [SkiffError] = []
            for await failure in group { if let failure { failures.append(failure) } }
            return failures
        }
        if let first = failures.first { throw first }
    }
}
