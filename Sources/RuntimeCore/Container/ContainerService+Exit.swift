import Foundation
import ImageCore
import LinuxSys
import SkiffCommon

/// Learning of exits: conmon writes `<state_dir>/exits/<id>` with the exit code when a
/// container's process ends, whether skiffd was running then or not.
extension ContainerService {
    // MARK: Exits

    /// Learns of exits as conmon writes its exit files (inotify on the exit directory), then
    /// sweeps once for files written before the watch began. Without inotify (its limits
    /// reached), the directory is polled every `exitPollInterval` instead.
    func startExitWatcher() {
        do {
            let watcher = try DirectoryWatcher(directory: exitDirectory)
            exitFiles = watcher
            // The task holds the stream, not the watcher: dropping the watcher ends the stream.
            let events = watcher.events
            exitWatcher = Task { [weak self] in
                await self?.collectExits()
                for await event in events {
                    switch event {
                    case .file(let name): await self?.exitFileWritten(name)
                    case .overflow: await self?.exitFilesOverflowed()
                    }
                }
            }
        } catch {
            logger.warning("cannot watch conmon's exit files; polling them instead", metadata: ["error": "\(error)"])
            let interval = options.exitPollInterval
            exitWatcher = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    await self?.exitFilesOverflowed()
                }
            }
        }
    }

    /// conmon wrote `name` into the exit directory: a container's exit, or a pod's pause.
    func exitFileWritten(_ name: String) async {
        if name.hasPrefix(Self.pausePrefix) {
            let sandboxID = String(name.dropFirst(Self.pausePrefix.count))
            if !pausesBeingRemoved.contains(sandboxID) {
                await sandboxes.markNotReady(sandboxID, reason: "its pause process exited")
            }
        } else if await store.find(name) != nil {
            await collectExit(of: name)
        } else if exitWaiters[name] == nil, !name.contains(".") {
            // A container removed at recovery (being created when skiffd stopped) whose conmon
            // wrote its exit afterwards: nobody will read it.
            try? FileSystem.removeIfPresent(exitDirectory + "/" + name)
        }
        if let waiting = exitWaiters.removeValue(forKey: name) {
            for continuation in waiting.values { continuation.resume() }
        }
    }

    /// Events were lost (or there is no watch): every running container and every waiter looks again.
    func exitFilesOverflowed() async {
        await collectExits()
        for name in exitWaiters.keys where FileSystem.exists(exitDirectory + "/" + name) {
            await exitFileWritten(name)
        }
    }

    /// Returns once conmon has written the exit file `name`, or at `deadline`.
    func waitForExitFile(_ name: String, until deadline: ContinuousClock.Instant) async {
        if FileSystem.exists(exitDirectory + "/" + name) { return }
        let token = nextExitWaiter
        nextExitWaiter += 1
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            exitWaiters[name, default: [:]][token] = continuation
            Task { [weak self] in
                try? await Task.sleep(until: deadline)
                await self?.exitWaitExpired(name, token: token)
            }
        }
    }

    private func exitWaitExpired(_ name: String, token: Int) {
        guard let continuation = exitWaiters[name]?.removeValue(forKey: token) else { return }
        if exitWaiters[name]?.isEmpty == true { exitWaiters[name] = nil }
        continuation.resume()
    }

    func collectExits() async {
        for container in await store.all where container.state == .running || container.state == .created {
            await collectExit(of: container.id)
        }
    }

    /// Records the exit of a container whose exit file conmon has written. Collections of one
    /// container run one at a time (recording spans suspension points, and two at once would
    /// each publish a STOPPED event), and every caller runs its own after the one in progress:
    /// joining it instead lost exits, when the one in progress had looked while StartContainer
    /// was still recording the start (and so left the exit for later) and StartContainer's own
    /// collection then joined it.
    func collectExit(of id: String) async {
        while let inProgress = exitCollections[id] {
            await inProgress.value
            // Its owner may not have resumed to clear it yet: a finished collection is no longer in progress.
            if exitCollections[id] == inProgress { exitCollections[id] = nil }
        }
        let collection = Task { await self.recordExit(of: id) }
        exitCollections[id] = collection
        await collection.value
        if exitCollections[id] == collection { exitCollections[id] = nil }
    }

    private func recordExit(of id: String) async {
        guard !starting.contains(id), var container = await store.find(id),
            container.state == .running || container.state == .created
        else { return }
        let exitFile = exitDirectory + "/" + container.id
        guard let text = try? FileSystem.readText(exitFile), let code = Int32(text.trimmingNewline) else { return }
        var status = stat()
        let finishedAt = max(
            container.startedAt,
            stat(exitFile, &status) == 0
                ? Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
                : SandboxService.nowNanoseconds()
        )
        let bundle = store.directory(of: container.id)
        let oomKilled = FileSystem.exists(bundle + "/oom")
        container.state = .exited
        container.exitCode = code
        container.finishedAt = finishedAt
        container.reason = oomKilled ? "OOMKilled" : (code == 0 ? "Completed" : "Error")
        if let path = container.terminationMessageHostPath, let bytes = try? FileSystem.readBytes(path, limit: 4096) {
            container.message = String(decoding: bytes, as: UTF8.self)
        }
        do {
            try await store.save(container)
        } catch {
            logger.error("cannot record a container's exit", metadata: ["id": "\(container.id)", "error": "\(error)"])
            return
        }
        logger.info(
            "container exited",
            metadata: [
                "id": "\(container.id)", "name": "\(container.name)", "exit_code": "\(code)",
                "reason": "\(container.reason)",
            ]
        )
        await events.publish(ContainerEvent(kind: .stopped, container: container, timestamp: finishedAt))
    }

    // MARK: Recovery

    /// After a restart: leases are taken again, exits that happened while skiffd was down are
    /// read from the exit files, containers whose runtime state is gone are marked exited, and
    /// writable layers without a container are removed.
    func recover() async {
        let all = await store.all
        for container in all {
            await images.leaseLayers(container.layers.compactMap { try? Digest(parsing: $0) })
        }
        for container in all where container.state == .running || container.state == .created {
            await collectExit(of: container.id)
            guard var current = await store.find(container.id), current.state == .running || current.state == .created,
                let runtime = try? teardownRuntime(for: current)
            else { continue }
            let state: OCIState?
            let gone: Bool
            do {
                state = try await runtime.state(id: current.id)
                gone = state == nil
            } catch {
                state = nil
                gone = false
            }
            if current.state == .created, let state, state.status == "running" {
                // skiffd died between `runtime start` and recording it: the container runs.
                current.state = .running
                current.startedAt = SandboxService.nowNanoseconds()
                try? await store.save(current)
                logger.warning(
                    "container was started while skiffd went down; recorded as running",
                    metadata: ["id": "\(current.id)"]
                )
                continue
            }
            if gone {
                current.state = .exited
                current.exitCode = 255
                current.reason = "Error"
                current.message = "the container and its monitor were gone when skiffd restarted (node reboot?)"
                current.finishedAt = SandboxService.nowNanoseconds()
                try? await store.save(current)
                logger.warning("container lost while skiffd was down", metadata: ["id": "\(current.id)"])
            }
        }
        await recoverPauses()
        let unreadable = await store.unreadable
        for (id, reason) in unreadable.sorted(by: { $0.key < $1.key }) {
            logger.error(
                "a container's record cannot be read; its files and root filesystem are left as they are",
                metadata: ["id": "\(id)", "error": "\(reason)"]
            )
        }
        let known = Set(all.map(\.id)).union(unreadable.keys)
        for name in FileSystem.directoryEntries(layersRoot) ?? [] where !known.contains(name) {
            logger.warning("removing the writable layer of a container without a record", metadata: ["id": "\(name)"])
            await releaseFilesystem(id: name, layers: [])
        }
        // Exit files of containers and pauses that no longer exist (skiffd stopped between a
        // removal's record and its files).
        let sandboxIDs = Set(await sandboxes.list().map(\.id))
        for name in FileSystem.directoryEntries(exitDirectory) ?? [] where !known.contains(name) {
            if name.hasPrefix(Self.pausePrefix), sandboxIDs.contains(String(name.dropFirst(Self.pausePrefix.count))) {
                continue
            }
            try? FileSystem.removeIfPresent(exitDirectory + "/" + name)
        }
        // A CreateContainer that skiffd did not live to record: its runtime container (and
        // with it the process, conmon's child, and the cgroup) and bundle go; an exit file
        // went with the sweep above, or goes when conmon writes it (exitFileWritten).
        for name in FileSystem.directoryEntries(store.root) ?? [] where !known.contains(name) && !name.hasPrefix(".") {
            logger.warning(
                "removing a container that was being created when skiffd stopped",
                metadata: ["id": "\(name)"]
            )
            let monitors = await settleLeftoverMonitors(of: name, pidFile: store.directory(of: name) + "/pidfile")
            for handler in options.handlers.handlers where handler.resolvedPath != nil {
                try? await makeRuntime(handler).delete(id: name, force: true)
            }
            killLeftoverMonitors(monitors, of: name)
            try? DirectoryTree.remove(store.directory(of: name))
            try? FileSystem.removeIfPresent(socketDirectory + "/" + name)
        }
    }
}
