import FoundationEssentials
import ImageCore
import LinuxSys
import Logging
import Metadata
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// CreateContainer: the writable layer over the image's snapshots, the OCI spec, `runtime
/// create` under conmon, and the record written last; every failure undoes what was made.
extension ContainerService {
    /// CreateContainer. Runs to its end even when the caller gives up, and a retry gets the
    /// container it made (`CreationLedger`).
    public func create(in sandboxID: String, _ spec: ContainerSpec) async throws(SkiffError) -> Container {
        let store = self.store
        return try await containerCreations.create(
            key: "\(sandboxID)/\(spec.name)/\(spec.attempt)",
            spec: spec,
            what: "container \"\(spec.name)\" (attempt \(spec.attempt)) of pod sandbox \(sandboxID)",
            stillExists: { container in await store.find(container.id) != nil },
            work: { [self] in
                do throws(SkiffError) {
                    return .success(try await self.createOnce(in: sandboxID, spec))
                } catch {
                    return .failure(error)
                }
            }
        )
    }

    func createOnce(in sandboxID: String, _ spec: ContainerSpec) async throws(SkiffError) -> Container {
        let sandbox = try await sandboxes.sandbox(sandboxID)
        try spec.validate(in: sandbox, node: nodeFacts)
        guard sandbox.state == .ready else {
            throw SkiffError(
                .failedPrecondition,
                "pod sandbox \(sandbox.id) is not ready (it was stopped); create a new sandbox"
            )
        }
        // Before anything is made: an unknown or broken CDI device fails the request here.
        let cdiEdits = try await cdi.edits(
            for: try CDIRequest.devices(cdiDevices: spec.cdiDevices, annotations: spec.annotations)
        )
        let key = "\(sandbox.id)/\(spec.name)/\(spec.attempt)"
        let duplicate = SkiffError(
            .alreadyExists,
            "container \"\(spec.name)\" (attempt \(spec.attempt)) already exists in pod sandbox \(sandbox.id); remove it first"
        )
        guard reserved.insert(key).inserted else { throw duplicate }
        defer { reserved.remove(key) }
        if let holder = await store.all.first(where: { "\($0.sandboxID)/\($0.name)/\($0.attempt)" == key }) {
            throw SkiffError(
                .alreadyExists,
                "container \"\(spec.name)\" (attempt \(spec.attempt)) already exists in pod sandbox \(sandbox.id) as \(holder.id); remove it first"
            )
        }

        guard let image = await images.image(spec.image) else {
            throw SkiffError(.notFound, "image \"\(spec.image)\" is not present on this node; pull it first")
        }
        // The image's user, entrypoint and environment: a config that cannot be read fails the
        // creation (running with empty defaults could run as root an image that names a user).
        guard let configuration = try await images.configuration(of: image) else {
            throw SkiffError(
                .failedPrecondition,
                "the config of image \(image.id) is missing from the content store; remove and pull the image again"
            )
        }
        let defaults = configuration.config ?? ImageConfiguration.Defaults()
        guard let handler = options.handlers.handler(named: sandbox.runtimeHandler),
            let runtimePath = handler.resolvedPath
        else {
            throw SkiffError(
                .failedPrecondition,
                "runtime handler \"\(sandbox.runtimeHandler)\" of pod \(sandbox.id) is not available on this node"
            )
        }

        let id = ObjectID.random()
        let bundle = store.directory(of: id)
        let layerDirectory = "\(layersRoot)/\(id)"
        let rootfs = layerDirectory + "/rootfs"
        var container = Container(
            id: id,
            sandboxID: sandbox.id,
            name: spec.name,
            attempt: spec.attempt,
            image: spec.image,
            imageID: image.id.description,
            imageRef: image.repoDigests.first ?? image.id.description,
            labels: spec.labels,
            annotations: spec.annotations,
            state: .created,
            createdAt: WallClock.nanoseconds(),
            startedAt: 0,
            finishedAt: 0,
            exitCode: 0,
            reason: "",
            message: "",
            logPath: sandbox.logDirectory.isEmpty || spec.logPath.isEmpty
                ? "" : sandbox.logDirectory + "/" + spec.logPath,
            mounts: spec.mounts,
            resources: spec.resources,
            runtimeHandler: handler.name,
            cgroupsPath: sandbox.cgroupsPath(of: id, defaultParent: options.defaultCgroupParent),
            layers: image.chainIDs.map(\.description),
            // The CRI's stop_signal, else the image's StopSignal, else SIGTERM.
            stopSignal: SignalNames.number(spec.stopSignal) ?? SignalNames.number(defaults.stopSignal) ?? SIGTERM,
            pid: 0,
            monitorPID: 0,
            stdin: spec.stdin,
            stdinOnce: spec.stdinOnce,
            tty: spec.tty,
            terminationMessageHostPath: Self.terminationMessageHostPath(spec),
            runtimeBinary: runtimePath,
            runtimeRoot: handler.root
        )
        if handler.sandboxed { container.runtimeSandboxed = true }
        if !handler.runtimeArguments.isEmpty { container.runtimeArguments = handler.runtimeArguments }
        var leasedLayers: [Digest] = []
        var runtimeCreated = false
        do throws(SkiffError) {
            do {
                try FileSystem.makeDirectories(bundle, mode: 0o700)
                for directory in ["upper", "work", "rootfs"] {
                    try FileSystem.makeDirectories(layerDirectory + "/" + directory, mode: 0o755)
                }
            } catch {
                throw error.skiffError("cannot create the directories of container \(id)")
            }
            let lowerDirectories = try await images.leaseLayers(of: image)
            leasedLayers += image.chainIDs
            let userNamespace = sandbox.userNamespace.flatMap { _ in sandbox.namespaces?.user }
            if let mapping = sandbox.userNamespace {
                try SnapshotOwners.checkCovered(lowerDirectories, by: mapping, image: spec.image)
            }
            do {
                if let owner = sandbox.userNamespace?.hostRoot {
                    // What the pod's root writes is stored with its node IDs (see OverlayMount).
                    try FileSystem.changeOwner(layerDirectory + "/upper", uid: owner.uid, gid: owner.gid)
                }
                try OverlayMount.mount(
                    lowerDirectories: lowerDirectories,
                    upper: layerDirectory + "/upper",
                    work: layerDirectory + "/work",
                    target: rootfs,
                    idmappedBy: userNamespace
                )
            } catch {
                throw error.skiffError("cannot mount the root filesystem of container \(id)")
            }
            var volumes = try await mountImageVolumes(
                spec,
                in: layerDirectory,
                idmappedBy: userNamespace,
                leasing: &leasedLayers
            )
            volumes.spec = try mountIDMappedVolumes(volumes.spec, in: layerDirectory, userNamespace: userNamespace)
            container.mounts = volumes.recorded
            container.layers = leasedLayers.map(\.description)
            let security = spec.security
            let user = try UserResolver(rootfs: rootfs).resolve(
                runAsUser: security.runAsUser,
                runAsUsername: security.runAsUsername,
                runAsGroup: security.runAsGroup,
                imageUser: defaults.user ?? "",
                supplementalGroups: security.supplementalGroups,
                strictSupplementalGroups: spec.strictSupplementalGroups
            )
            container.user = user
            try sandbox.userNamespace?.checkCovers(user)
            let runtimeSpec = try ContainerSpecBuilder.build(
                .init(
                    id: id,
                    spec: volumes.spec,
                    image: defaults,
                    sandbox: sandbox,
                    user: user,
                    rootfs: rootfs,
                    cgroupsPath: container.cgroupsPath,
                    cgroupLayout: options.cgroupLayout,
                    minimumOOMScoreAdj: minimumOOMScoreAdj,
                    targetPIDNamespace: try await targetPIDNamespace(spec.security.pidMode, sandbox: sandbox),
                    recursiveReadOnlyMounts: handler.features.recursiveReadOnlyMounts,
                    cdiEdits: cdiEdits
                )
            )
            try CommandCheck.check(runtimeSpec, runtimePath: runtimePath)
            try JSONFile.write(runtimeSpec, to: bundle + "/config.json")
            if !container.logPath.isEmpty {
                do {
                    try FileSystem.makeDirectories(FileSystem.parentDirectory(of: container.logPath), mode: 0o755)
                } catch {
                    throw error.skiffError("cannot create the log directory of container \(id)")
                }
            }
            runtimeCreated = true
            // A container inside a sandbox (gVisor) is stood for by the shim's holder process.
            let sandboxed = (makeRuntime(handler) as? SandboxedRuntime).map { ($0.shim, $0.shimArguments()) }
            let started = try await monitor.create(
                MonitorRequest(
                    id: id,
                    name: spec.name,
                    bundle: bundle,
                    runtimePath: sandboxed?.0 ?? runtimePath,
                    runtimeRoot: handler.root,
                    runtimeArguments: (sandboxed?.1 ?? []) + handler.runtimeArguments,
                    logPath: container.logPath,
                    exitDirectory: exits.directory,
                    socketDirectory: socketDirectory,
                    stdin: spec.stdin,
                    stdinOnce: spec.stdinOnce,
                    tty: spec.tty,
                    timeout: options.commandTimeout
                )
            )
            container.pid = started.pid
            container.monitorPID = started.monitorPID
            try await store.save(container)
        } catch {
            if runtimeCreated {
                // The error reported is the create's; one of the delete is logged (a create that
                // made nothing leaves nothing to delete, and that delete succeeds).
                await logger.logFailure(
                    .warning,
                    "cannot delete a container whose creation failed",
                    metadata: ["id": "\(id)"]
                ) {
                    () async throws(SkiffError) in try await makeRuntime(handler).delete(id: id, force: true)
                }
            }
            await releaseFilesystem(id: id, layers: leasedLayers)
            do {
                try await store.delete(id)
            } catch let undoError {
                logger.error(
                    "cannot remove a container that failed",
                    metadata: ["id": "\(id)", "error": "\(undoError)"]
                )
            }
            exits.remove(id)
            // conmon's attach socket link, left when the runtime refused the container.
            removeAttachSocket(of: id)
            throw error
        }
        var createdMetadata: Logger.Metadata = [
            "id": "\(id)", "name": "\(spec.name)", "pod": "\(sandbox.id)", "image": "\(spec.image)",
        ]
        if !cdiEdits.devices.isEmpty {
            createdMetadata["cdiDevices"] = "\(cdiEdits.devices.map(\.description).joined(separator: ","))"
        }
        logger.info("container created", metadata: createdMetadata)
        await events.publish(ContainerEvent(kind: .created, container: container, timestamp: container.createdAt))
        return container
    }
}
