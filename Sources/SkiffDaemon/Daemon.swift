import CRIServer
import DaemonConfig
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import ImageCore
import LinuxSys
import Logging
import RuntimeCore
import ServiceLifecycle
import SkiffCommon
import StreamingServer

#if canImport(Glibc)
import Glibc
#endif

/// Assembles skiffd: takes the locks, prepares directories and the socket, wires the domain
/// services to the gRPC adapter, and runs everything in one ServiceGroup until SIGTERM/SIGINT.
public struct Daemon {
    public let configuration: DaemonConfiguration
    /// The file the configuration came from, for the start-up line ("defaults" when none).
    public let configSource: String
    let logger: Logger

    public init(configuration: DaemonConfiguration, configSource: String, logger: Logger) {
        self.configuration = configuration
        self.configSource = configSource
        self.logger = logger
    }

    public func run() async throws(SkiffError) {
        guard configuration.runtime.cgroupDriver == .cgroupfs else {
            throw SkiffError(
                .failedPrecondition,
                "runtime.cgroup_driver = \"systemd\" is not supported yet; set it to \"cgroupfs\" (and the kubelet's cgroupDriver to cgroupfs)"
            )
        }
        // Before anything is spawned: commands whose runtime dies (an exec killed on its timeout)
        // are re-parented to skiffd and reaped, whatever the node's init does.
        do {
            try ChildReaper.adoptOrphans()
        } catch {
            throw SkiffError(
                .internalError,
                "cannot become the reaper of skiffd's orphaned processes: \(error.description)"
            )
        }
        let directories = try prepareDirectories()
        // Held until run() returns; the kernel releases them if the process dies.
        let locks = try takeLocks()
        defer { withExtendedLifetime(locks) {} }
        let socketPath = configuration.grpc.socketPath
        let listener = try listen(on: socketPath)
        defer { unlink(socketPath) }

        let statusProbe = NodeStatusProbe(configuration: configuration)
        await OCIRuntimeFeatureProbe.probe(statusProbe.handlers(), logger: logger)
        await IDMappedMountSupport.probe(
            directory: directories.root,
            helper: PinnsNamespacePinner.besideExecutable().helper,
            logger: logger
        )
        let sandboxes = try await SandboxService(
            options: .init(
                stateDir: directories.state,
                cniConfDir: configuration.network.cniConfDir,
                cniBinDirs: configuration.network.cniBinDirs,
                handlers: statusProbe.handlers(),
                shmSizeBytes: configuration.runtime.shmSizeMiB << 20
            ),
            pinner: PinnsNamespacePinner.besideExecutable(),
            logger: logger
        )
        let imageManager = try ImageManager(options: imageOptions(), logger: logger)
        let monitor = try conmon()
        let exits = try ExitFileWatcher(directory: directories.state + "/exits", logger: logger)
        let containers = try await ContainerService(
            options: .init(
                stateDir: directories.state,
                rootDir: directories.root,
                handlers: statusProbe.handlers(),
                cgroupLayout: try cgroupLayout(),
                cdiSpecDirectories: configuration.runtime.cdiSpecDirs
            ),
            sandboxes: sandboxes,
            images: imageManager,
            monitor: monitor,
            exits: exits,
            logger: logger
        )
        let pods = await PodService(
            options: try podOptions(),
            sandboxes: sandboxes,
            containers: containers,
            monitor: monitor,
            exits: exits,
            logger: logger
        )
        let exec = ExecService(containers: containers, logger: logger)
        let streaming = StreamingHTTPServer(
            address: configuration.streaming.address,
            port: configuration.streaming.port,
            starter: ContainerStreamingBackend(exec: exec, sandboxes: sandboxes),
            idleTimeout: configuration.streaming.idleTimeout,
            tls: configuration.streaming.tlsCertFile.isEmpty
                ? nil : (configuration.streaming.tlsCertFile, configuration.streaming.tlsKeyFile),
            logger: logger
        )
        let streamingPort = try await streaming.start()
        let runtimeService = RuntimeService(
            statusProbe: statusProbe,
            settings: try RuntimeSettings(stateDir: directories.state),
            cgroupDriver: configuration.runtime.cgroupDriver,
            sandboxes: sandboxes,
            pods: pods,
            containers: containers,
            exec: exec,
            stats: StatsService(containers: containers, sandboxes: sandboxes, logger: logger),
            metrics: PodMetricsCollector(containers: containers, sandboxes: sandboxes),
            streaming: streaming
        )
        let server = GRPCServer(
            transport: .http2NIOPosix(
                listeningSocketDescriptor: Int(listener),
                transportSecurity: .plaintext,
                config: Self.transportConfig
            ),
            services: [runtimeService, ImageService(images: imageManager), AdminService(images: imageManager)],
            interceptors: [RequestLoggingInterceptor(logger: logger)]
        )

        // Stopped in the reverse order: the gRPC server first, the image manager last.
        var groupConfiguration = ServiceGroupConfiguration(
            services: [
                .init(service: StoppedOnShutdown { await imageManager.shutdown() }, serviceName: "images"),
                .init(service: HeapTrimmer(interval: .seconds(5)), serviceName: "heap-trimmer"),
                .init(service: StoppedOnShutdown { await exits.shutdown() }, serviceName: "exit-files"),
                .init(service: StoppedOnShutdown { await streaming.shutdown() }, serviceName: "streaming"),
                .init(
                    service: GRPCServerService(
                        server: server,
                        forcedExitGrace: .seconds(5),
                        socketPath: socketPath,
                        logger: logger
                    ),
                    serviceName: "grpc"
                ),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        groupConfiguration.maximumGracefulShutdownDuration = configuration.grpc.shutdownTimeout
        // No ServiceGroup limit (it ends in a fatal error): GRPCServerService exits cleanly instead.
        groupConfiguration.maximumCancellationDuration = nil

        let handlers = statusProbe.handlers().handlers
            .map { "\($0.name)=\($0.resolvedPath ?? "missing:\($0.configuredPath)")" }.joined(separator: ",")
        logger.info(
            "skiffd started",
            metadata: [
                "version": "\(SkiffVersion.current)", "pid": "\(getpid())", "socket": "\(socketPath)",
                "config": "\(configSource)", "handlers": "\(handlers)",
                "default_handler": "\(configuration.runtime.defaultHandler)",
                "root": "\(directories.root)", "state": "\(directories.state)",
                "streaming": "\(configuration.streaming.address):\(streamingPort)",
            ]
        )
        do {
            try await ServiceGroup(configuration: groupConfiguration).run()
        } catch {
            throw SkiffError(.internalError, "skiffd stopped on an error", cause: DescribedError(error))
        }
        logger.info("skiffd stopped")
    }

    /// The gRPC transport: grpc-swift's defaults (no idle or age limit, so a connection the
    /// kubelet keeps for weeks is never sent GOAWAY while in use; keepalive pings from the server
    /// every 2 h), plus `HTTP2PingResponder` first in each connection's pipeline, which answers
    /// the client's PINGs before swift-nio-http2's control-frame budget can count them (see there
    /// for why: a GOAWAY naming stream 0 makes grpc-go replay rpcs skiffd already ran).
    /// The largest request message: the kubelet's own limit (16 MiB, k8s.io/cri-client's
    /// maxMsgSize). A larger one is answered RESOURCE_EXHAUSTED by `OversizedRequestResponder`.
    /// Each stream's `grpc-timeout` is kept by `RequestDeadlineHandler` on an event-loop timer
    /// instead of grpc-swift's `Task.sleep` (which holds memory until the deadline).
    static let maxRequestSize = 16 << 20

    static var transportConfig: HTTP2ServerTransport.Posix.Config {
        .defaults { config in
            config.rpc.maxRequestPayloadSize = maxRequestSize
            config.channelDebuggingCallbacks.onAcceptTCPConnection = { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(HTTP2PingResponder(), position: .first)
                }
            }
            config.channelDebuggingCallbacks.onAcceptHTTP2Stream = { channel in
                HeapTrimmer.noteActivity()
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        [OversizedRequestResponder(limit: maxRequestSize), RequestDeadlineHandler()],
                        position: .first
                    )
                }
            }
        }
    }

    /// The node's cgroup hierarchy, from the mount table.
    private func cgroupLayout() throws(SkiffError) -> CgroupLayout? {
        do {
            return CgroupLayout.detect(in: try MountTable.current())
        } catch {
            throw SkiffError(.internalError, "cannot read the mount table to find the cgroup hierarchy", cause: error)
        }
    }

    /// skiff-pause as configured (`runtime.pause_path`), else the one beside skiffd.
    private func podOptions() throws(SkiffError) -> PodService.Options {
        let configured = configuration.runtime.pausePath
        guard !configured.isEmpty else { return PodService.Options() }
        guard FileSystem.isExecutableFile(configured) else {
            throw SkiffError(.failedPrecondition, "runtime.pause_path \(configured) is not an executable file")
        }
        return PodService.Options(pauseBinary: configured)
    }

    /// conmon, as configured (`runtime.conmon`) or found on PATH.
    private func conmon() throws(SkiffError) -> ConmonMonitor {
        let configured = configuration.runtime.conmonPath.isEmpty ? "conmon" : configuration.runtime.conmonPath
        guard let path = ExecutableLookup.resolve(configured) else {
            throw SkiffError(
                .failedPrecondition,
                "conmon (\(configured)) is not installed; install Debian's conmon package or set runtime.conmon_path"
            )
        }
        return ConmonMonitor(binary: path)
    }

    private func imageOptions() -> ImageManager.Options {
        let images = configuration.images
        let registries = images.registries.mapValues {
            RegistrySettings.Host(mirrors: $0.mirrors, insecure: $0.insecure, caFile: $0.caFile)
        }
        return ImageManager.Options(
            rootDir: configuration.rootDir,
            registry: RegistrySettings(registries: registries, stallTimeout: images.stallTimeout),
            pinnedImage: configuration.runtime.pauseImage,
            maxConcurrentDownloads: images.maxConcurrentDownloads
        )
    }

    private func prepareDirectories() throws(SkiffError) -> (root: String, state: String) {
        for directory in [configuration.rootDir, configuration.stateDir] {
            do {
                try FileSystem.makeDirectories(directory, mode: directory == configuration.stateDir ? 0o755 : 0o711)
            } catch {
                throw error.skiffError("cannot create \(directory)")
            }
        }
        return (configuration.rootDir, configuration.stateDir)
    }

    private func takeLocks() throws(SkiffError) -> [DaemonLock] {
        var locks: [DaemonLock] = []
        for path in [configuration.lockFilePath, configuration.rootDir + "/skiffd.lock"] {
            do {
                locks.append(try DaemonLock(path: path))
            } catch {
                throw SkiffError(.failedPrecondition, error.description)
            }
        }
        return locks
    }

    private func listen(on path: String) throws(SkiffError) -> Int32 {
        var group: gid_t?
        let groupName = configuration.grpc.socketGroup
        if !groupName.isEmpty {
            guard let id = UnixListeningSocket.groupID(groupName) else {
                throw SkiffError.invalidArgument("grpc.socket_group \"\(groupName)\" is not a group on this node")
            }
            group = id
        }
        do {
            return try UnixListeningSocket.listen(path: path, mode: 0o660, group: group)
        } catch {
            throw error.skiffError("cannot listen on \(path)")
        }
    }
}
