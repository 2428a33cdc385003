import DaemonConfig
import Foundation
import ImageCore
import ImageFixtures
import LinuxSys
import Logging
import SkiffCommon
import Synchronization
import Testing

@testable import RuntimeCore

/// The container lifecycle's failure paths, with the OCI runtime and the monitor faked and
/// everything else real (an image imported into a real store, the overlay mount, the records):
/// what each failure leaves behind is checked on the node, not assumed.
@Suite(.serialized) struct ContainerLifecycleFailureTests {
    /// An OCI runtime that does what the test says and records what it was asked. It never
    /// writes an exit file: a kill it takes ends nothing, as with a wedged runtime.
    final class ScriptedRuntime: OCIRuntime, Sendable {
        struct Script {
            var startFails = false
        }

        let name = "scripted"
        let script: Mutex<Script>
        let calls = Mutex<[String]>([])

        init(_ script: Script = Script()) { self.script = Mutex(script) }

        private func record(_ call: String) { calls.withLock { $0.append(call) } }

        func run(id: String, bundle: String, timeout: Duration) async throws(SkiffError) -> ChildProcess.Result {
            throw SkiffError.unimplemented("not used")
        }

        func start(id: String) async throws(SkiffError) {
            record("start \(id)")
            if script.withLock({ $0.startFails }) {
                throw SkiffError(.internalError, "scripted start failure: exec format error")
            }
        }

        func exec(
            id: String,
            _ exec: OCIExec,
            timeout: Duration,
            outputLimit: Int
        ) async throws(SkiffError)
            -> ChildProcess.Result
        { throw SkiffError.unimplemented("not used") }

        func startExec(id: String, _ exec: OCIExec) throws(SkiffError) -> RunningChild {
            throw SkiffError.unimplemented("not used")
        }

        func update(id: String, resourcesFile: String) async throws(SkiffError) { record("update \(id)") }
        func state(id: String) async throws(SkiffError) -> OCIState? { nil }
        func kill(id: String, signal: Int32) async throws(SkiffError) { record("kill \(id) \(signal)") }
        func delete(id: String, force: Bool) async throws(SkiffError) { record("delete \(id)") }
    }

    /// conmon, faked: `create` fails when told to, else reports a container init that is
    /// not there (pid 0 values are never signalled).
    struct ScriptedMonitor: ContainerMonitor {
        var createFails = false

        func create(_ request: MonitorRequest) async throws(SkiffError) -> MonitorStarted {
            if createFails { throw SkiffError(.internalError, "scripted monitor failure: runtime create failed") }
            return MonitorStarted(pid: 0, monitorPID: 0)
        }

        func reopenLog(bundle: String) throws(SkiffError) {}
    }

    struct NoNamespaces: NamespacePinning {
        func pin(_ request: NamespaceRequest, in directory: String) async throws(SkiffError) -> PinnedNamespaces {
            throw SkiffError.unimplemented("host-network pods pin nothing")
        }
        func unpin(_ namespaces: PinnedNamespaces) throws(SkiffError) {}
    }

    /// A node in a directory: an image store with the standard fixture image, a host-network
    /// pod, and a container service over the scripted runtime and monitor.
    struct Node {
        let directory: String
        let images: ImageManager
        let sandboxes: SandboxService
        let containers: ContainerService
        let exits: ExitFileWatcher
        let pod: PodSandbox
        static let image = "example.com/lifecycle/app:1.0"

        static func make(runtime: ScriptedRuntime, monitor: ScriptedMonitor) async throws -> Node {
            let directory = "/tmp/skiff-lc-\(UUID().uuidString.prefix(8).lowercased())"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let logger = Logger(label: "test")
            let images = try ImageManager(
                options: .init(rootDir: directory + "/root", registry: RegistrySettings()),
                logger: logger
            )
            let archive = directory + "/image.tar"
            let fixture = BusyboxImages.standard(busybox: try BusyboxImages.busyboxBinary())
            try Data(fixture.ociLayoutArchive(name: image)).write(to: URL(fileURLWithPath: archive))
            _ = try await images.importArchive(at: archive)
            let configuration = try ConfigLoader.parse("[network]\ncni_conf_dir = \"/nonexistent\"", file: "t.toml")
            let handlers = NodeStatusProbe(configuration: configuration, lookup: { "/usr/bin/\($0)" }).handlers()
            let sandboxes = try await SandboxService(
                options: .init(
                    stateDir: directory + "/state",
                    cniConfDir: "/nonexistent",
                    cniBinDirs: [],
                    handlers: handlers
                ),
                pinner: NoNamespaces(),
                logger: logger
            )
            let exits = try ExitFileWatcher(directory: directory + "/state/exits", logger: logger)
            let containers = try await ContainerService(
                options: .init(
                    stateDir: directory + "/state",
                    rootDir: directory + "/root",
                    handlers: handlers,
                    cgroupLayout: nil,
                    commandTimeout: .seconds(1)
                ),
                sandboxes: sandboxes,
                images: images,
                monitor: monitor,
                exits: exits,
                makeRuntime: { _ in runtime },
                logger: logger
            )
            let pod = try await sandboxes.run(
                SandboxSpec(name: "p", namespace: "lifecycle", uid: "u1", hostNetwork: true, hostIPC: true)
            )
            return Node(
                directory: directory,
                images: images,
                sandboxes: sandboxes,
                containers: containers,
                exits: exits,
                pod: pod
            )
        }

        func spec() -> ContainerSpec {
            ContainerSpec(name: "c", image: Self.image, command: ["/bin/sh"])
        }

        /// Mounts anywhere under the node's directory.
        func mounts() throws -> [String] {
            try MountTable.current().entries.map(\.mountPoint).filter { $0.hasPrefix(directory + "/") }
        }

        func entries(_ path: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/" + path)) ?? []).sorted()
        }

        /// Removes the image: with no lease left, its snapshots go with it.
        func snapshotsAfterImageRemoval() async throws -> [String] {
            try await images.remove(Self.image)
            return entries("root/snapshots").filter { !$0.hasPrefix(".") }
        }

        func tearDown() async {
            await exits.shutdown()
            await images.shutdown()
            for mount in (try? mounts()) ?? [] { _ = umount2(mount, Int32(MNT_DETACH)) }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    struct NoEvent: Error {}

    /// The first event, or a failure after `limit` (never a hang).
    static func firstEvent(
        of events: AsyncStream<ContainerEvent>,
        within limit: Duration = .seconds(10)
    ) async throws -> ContainerEvent {
        try await withThrowingTaskGroup(of: ContainerEvent?.self) { group in
            group.addTask {
                var iterator = events.makeAsyncIterator()
                return await iterator.next()
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let event = first else { throw NoEvent() }
            return event
        }
    }

    @Test func aCreateThatFailsAfterTheMountLeavesNothing() async throws {
        let runtime = ScriptedRuntime()
        let node = try await Node.make(runtime: runtime, monitor: ScriptedMonitor(createFails: true))
        do {
            let error = await #expect(throws: SkiffError.self) {
                _ = try await node.containers.create(in: node.pod.id, node.spec())
            }
            #expect(error?.message.contains("scripted monitor failure") == true)
            #expect(await node.containers.list().isEmpty)
            #expect(try node.mounts().isEmpty, "the overlay root is unmounted")
            #expect(node.entries("root/containers").isEmpty, "the writable layer is removed")
            #expect(node.entries("state/containers").isEmpty, "no bundle and no record")
            let deletes = runtime.calls.withLock { $0 }.filter { $0.hasPrefix("delete ") }
            #expect(deletes.count == 1, "what the runtime may have made is deleted: \(deletes)")
            #expect(try await node.snapshotsAfterImageRemoval().isEmpty, "the image's layers are no longer leased")
        } catch {
            await node.tearDown()
            throw error
        }
        await node.tearDown()
    }

    @Test func aStartThatFailsLeavesACreatedContainerThatCanBeRemoved() async throws {
        let runtime = ScriptedRuntime(.init(startFails: true))
        let node = try await Node.make(runtime: runtime, monitor: ScriptedMonitor())
        do {
            let container = try await node.containers.create(in: node.pod.id, node.spec())
            #expect(try node.mounts().count == 1)
            let error = await #expect(throws: SkiffError.self) { try await node.containers.start(container.id) }
            #expect(error?.message.contains("exec format error") == true)
            #expect(try await node.containers.container(container.id).state == .created)

            try await node.containers.remove(container.id)
            #expect(await node.containers.list().isEmpty)
            #expect(try node.mounts().isEmpty)
            #expect(node.entries("root/containers").isEmpty)
            #expect(node.entries("state/containers").isEmpty)
            #expect(runtime.calls.withLock { $0 }.contains("delete \(container.id)"))
            #expect(try await node.snapshotsAfterImageRemoval().isEmpty)
        } catch {
            await node.tearDown()
            throw error
        }
        await node.tearDown()
    }

    /// The runtime takes the kill but the container never exits (a wedged runtime or kernel):
    /// StopContainer still ends, within the kill grace, with the exit recorded by skiffd.
    @Test func aContainerTheRuntimeCannotEndIsForcedAndRecorded() async throws {
        let runtime = ScriptedRuntime()
        let node = try await Node.make(runtime: runtime, monitor: ScriptedMonitor())
        do {
            let container = try await node.containers.create(in: node.pod.id, node.spec())
            try await node.containers.start(container.id)
            let events = await node.containers.events.subscribe()
            let began = ContinuousClock.now
            try await node.containers.stop(container.id, timeout: 0)
            let took = ContinuousClock.now - began
            let stopped = try await node.containers.container(container.id)
            #expect(stopped.state == .exited && stopped.exitCode == 137)
            #expect(stopped.message.contains("killed by skiffd"))
            #expect(took < .seconds(10), "bounded by the kill grace (1 s here) and the forced delete's wait")
            let calls = runtime.calls.withLock { $0 }
            #expect(calls.contains("kill \(container.id) \(SIGKILL)") && calls.contains("delete \(container.id)"))
            let event = try await Self.firstEvent(of: events)
            #expect(event.kind == .stopped && event.container.exitCode == 137)
        } catch {
            await node.tearDown()
            throw error
        }
        await node.tearDown()
    }

    /// conmon's exit file is the truth about an exit: written while the container runs, it is
    /// recorded through the watch, with the code and the file's time, and published.
    @Test func anExitFileIsRecordedAsTheContainersExit() async throws {
        let node = try await Node.make(runtime: ScriptedRuntime(), monitor: ScriptedMonitor())
        do {
            let container = try await node.containers.create(in: node.pod.id, node.spec())
            try await node.containers.start(container.id)
            let events = await node.containers.events.subscribe()
            try "3".write(toFile: node.exits.path(of: container.id), atomically: true, encoding: .utf8)
            #expect(try await Self.firstEvent(of: events).kind == .stopped)
            let exited = try await node.containers.container(container.id)
            #expect(exited.state == .exited && exited.exitCode == 3 && exited.reason == "Error")
            #expect(exited.finishedAt >= exited.startedAt)
        } catch {
            await node.tearDown()
            throw error
        }
        await node.tearDown()
    }
}
