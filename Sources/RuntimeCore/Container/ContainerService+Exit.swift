import FoundationEssentials
import ImageCore
import LinuxSys
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Learning of exits: conmon writes `<state_dir>/exits/<id>` with the exit code when a
/// container's process ends, whether skiffd was running then or not.
extension ContainerService {
    // MARK: Exits

    /// conmon wrote an exit file (or events were lost: every live container looks again).
    func exitNotice(_ notice: ExitFileWatcher.Notice) async {
        switch notice {
        case .eventsLost:
            await collectExits()
        case .written(let name, let awaited):
            if await store.find(name) != nil {
                await collectExit(of: name)
            } else if !awaited, ObjectID.isWellFormed(name) {
                // A container removed at recovery (being created when skiffd stopped) whose
                // conmon wrote its exit afterwards: nobody will read it.
                exits.remove(name)
            }
        }
    }

    /// Returns once conmon has written the exit file of `id`, or at `deadline`.
    func waitForExitFile(_ id: String, until deadline: ContinuousClock.Instant) async {
        await exits.wait(for: id, until: deadline)
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
        let exitFile = exits.path(of: container.id)
        guard let code = exits.exitCode(of: container.id) else { return }
        var status = stat()
        let finishedAt = max(
            container.startedAt,
            stat(exitFile, &status) == 0
                ? Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
                : WallClock.nanoseconds()
        )
        let bundle = store.directory(of: container.id)
        let oomKilled = FileSystem.exists(bundle + "/oom")
        container.state = .exited
        container.exitCode = code
        container.finishedAt = finishedAt
        container.reason = oomKilled ? "OOMKilled" : (code == 0 ? "Completed" : "Error")
        if let path = container.terminationMessageHostPath, FileSystem.exists(path) {
            do {
                container.message = String(decoding: try FileSystem.readBytes(path, limit: 4096), as: UTF8.self)
            } catch {
                logger.warning(
                    "cannot read a container's termination message",
                    metadata: ["id": "\(container.id)", "path": "\(path)", "error": "\(error)"]
                )
            }
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
            await images.leaseLayers(container.layerDigests)
        }
        for container in all where container.state == .running || container.state == .created {
            await collectExit(of: container.id)
            guard var current = await store.find(container.id), current.state == .running || current.state == .created
            else { continue }
            let runtime: any OCIRuntime
            do {
                runtime = try teardownRuntime(for: current)
            } catch {
                logger.error("cannot recover a container", metadata: ["id": "\(current.id)", "error": "\(error)"])
                continue
            }
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
                current.startedAt = WallClock.nanoseconds()
                await saveRecovered(current)
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
                current.finishedAt = WallClock.nanoseconds()
                await saveRecovered(current)
                logger.warning("container lost while skiffd was down", metadata: ["id": "\(current.id)"])
            }
        }
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
        // Exit files of containers that no longer exist (skiffd stopped between a removal's
        // record and its files). Pauses' are their pods' (`PodService`).
        for name in exits.names() where ObjectID.isWellFormed(name) && !known.contains(name) {
            exits.remove(name)
        }
        // A CreateContainer that skiffd did not live to record: its runtime container (and
        // with it the process, conmon's child, and the cgroup) and bundle go; an exit file
        // went with the sweep above, or goes when conmon writes it (exitFileWritten).
        for name in FileSystem.directoryEntries(store.root) ?? [] where !known.contains(name) && !name.hasPrefix(".") {
            logger.warning(
                "removing a container that was being created when skiffd stopped",
                metadata: ["id": "\(name)"]
            )
            let monitors = await LeftoverMonitors.settle(
                of: name,
                pidFile: store.directory(of: name) + "/pidfile",
                deadline: options.commandTimeout
            )
            for handler in options.handlers.handlers where handler.resolvedPath != nil {
                // The container is in at most one handler's runtime; the others know none (delete
                // succeeds on what a runtime does not have, so a failure is a real one).
                await logger.logFailure(
                    .warning,
                    "cannot delete a container that was being created when skiffd stopped",
                    metadata: ["id": "\(name)", "handler": "\(handler.name)"]
                ) { () async throws(SkiffError) in try await makeRuntime(handler).delete(id: name, force: true) }
            }
            LeftoverMonitors.kill(monitors, of: name)
            removeAttachSocket(of: name)
            logger.logFailure(.warning, "cannot remove a container's bundle", metadata: ["id": "\(name)"]) {
                () throws(SystemCallError) in try DirectoryTree.remove(store.directory(of: name))
            }
        }
    }

    /// Records what recovery learnt; a record that cannot be written keeps its old state, which
    /// the next start recovers again.
    private func saveRecovered(_ container: Container) async {
        do {
            try await store.save(container)
        } catch {
            logger.error(
                "cannot record a recovered container",
                metadata: ["id": "\(container.id)", "error": "\(error)"]
            )
        }
    }

    /// Removes conmon's link to the container's attach socket once the container is gone
    /// (conmon removes it itself only when it exits cleanly).
    func removeAttachSocket(of id: String) {
        logger.logFailure(.warning, "cannot remove a container's attach socket", metadata: ["id": "\(id)"]) {
            () throws(SystemCallError) in try FileSystem.removeIfPresent(socketDirectory + "/" + id)
        }
    }
}
