import Foundation
import LinuxSys
import SkiffCommon
import Testing

@testable import RuntimeCore

/// What Skiff does differently for a handler that runs pods as sandboxes (gVisor): the specs'
/// CRI annotations and namespaces, runsc's command lines, its usage events, and the shim that
/// stands for a container as conmon's child. The whole path, with runsc itself, is in
/// IntegrationTests/SandboxedPodTests.
@Suite struct SandboxedRuntimeTests {
    static func sandboxedPod(sharedPID: Bool = false) -> PodSandbox {
        var sandbox = ContainerSpecBuilderTests.sandbox(sharedPID: sharedPID, shm: "/pods/p1/shm")
        sandbox.runtimeHandler = "runsc"
        sandbox.sandboxed = true
        sandbox.logDirectory = "/var/log/pods/p1"
        return sandbox
    }

    // MARK: Specs

    @Test func containersNameTheirSandboxOverTheKubeletsAnnotations() throws {
        var spec = ContainerSpec(name: "app", image: "registry.local/app:1")
        spec.command = ["/app"]
        spec.annotations = ["io.kubernetes.cri.sandbox-id": "someone-elses", "team": "a"]
        let built = try ContainerSpecBuilder.build(
            ContainerSpecBuilderTests.context(spec, sandbox: Self.sandboxedPod())
        )
        let annotations = built.annotations ?? [:]
        #expect(annotations["io.kubernetes.cri.container-type"] == "container")
        #expect(annotations["io.kubernetes.cri.sandbox-id"] == "pause-pod1", "the pause container is the sandbox")
        #expect(annotations["io.kubernetes.cri.sandbox-name"] == "web")
        #expect(annotations["io.kubernetes.cri.sandbox-namespace"] == "default")
        #expect(annotations["io.kubernetes.cri.sandbox-uid"] == "u1")
        #expect(annotations["io.kubernetes.cri.container-name"] == "app")
        #expect(annotations["io.kubernetes.cri.image-name"] == "registry.local/app:1")
        #expect(annotations["team"] == "a")
        let shm = built.mounts.first { $0.destination == "/dev/shm" }
        #expect(shm?.type == "tmpfs" && shm?.source == "/pods/p1/shm", "the pod's shm, as the sandbox's tmpfs")

        // An ordinary pod's container carries none of it.
        let plain = try ContainerSpecBuilder.build(
            ContainerSpecBuilderTests.context(spec, sandbox: ContainerSpecBuilderTests.sandbox(shm: "/pods/p1/shm"))
        )
        #expect(plain.annotations?["io.kubernetes.cri.container-type"] == nil)
        #expect(plain.annotations?["io.kubernetes.cri.sandbox-id"] == "someone-elses")
        #expect(plain.mounts.first { $0.destination == "/dev/shm" }?.type == "bind")
    }

    @Test func capabilitiesTheSandboxDoesNotKnowAreLeftOutOrRefusedByName() throws {
        var privileged = ContainerSpec(name: "p", image: "img")
        privileged.command = ["/app"]
        privileged.security.privileged = true
        let built = try ContainerSpecBuilder.build(
            ContainerSpecBuilderTests.context(privileged, sandbox: Self.sandboxedPod())
        )
        let bounding = built.process.capabilities?.bounding ?? []
        #expect(bounding.contains("CAP_SYS_ADMIN") && bounding.contains("CAP_AUDIT_READ"))
        #expect(!bounding.contains("CAP_BPF") && !bounding.contains("CAP_PERFMON"), "\(bounding)")
        var named = privileged
        named.security.privileged = false
        named.security.capabilitiesAdd = ["bpf"]
        let refused = #expect(throws: SkiffError.self) {
            try ContainerSpecBuilder.build(ContainerSpecBuilderTests.context(named, sandbox: Self.sandboxedPod()))
        }
        #expect(refused?.code == .invalidArgument && refused?.message.contains("bpf") == true)

        var propagating = privileged
        propagating.mounts = [.init(containerPath: "/shared", hostPath: "/srv/shared", propagation: .bidirectional)]
        let bidirectional = #expect(throws: SkiffError.self) {
            try ContainerSpecBuilder.build(ContainerSpecBuilderTests.context(propagating, sandbox: Self.sandboxedPod()))
        }
        #expect(bidirectional?.code == .invalidArgument && bidirectional?.message.contains("/shared") == true)
    }

    @Test func pidNamespacesAreTheSandboxKernels() throws {
        func pid(_ mode: ContainerSpec.PIDMode, sharedPID: Bool) throws -> [String] {
            var spec = ContainerSpec(name: "c", image: "img")
            spec.security.pidMode = mode
            return try ContainerSpecBuilder.namespaces(
                ContainerSpecBuilderTests.context(spec, sandbox: Self.sandboxedPod(sharedPID: sharedPID))
            )
            .filter { $0.type == "pid" }.map { $0.path ?? "new" }
        }
        #expect(try pid(.pod, sharedPID: true) == [], "no entry: the sandbox's own, which the pause holds")
        #expect(try pid(.pod, sharedPID: false) == ["new"])
        #expect(try pid(.container, sharedPID: true) == ["new"])
        let node = #expect(throws: SkiffError.self) { try pid(.node, sharedPID: false) }
        #expect(node?.code == .invalidArgument && node?.message.contains("runsc") == true)
        let target = #expect(throws: SkiffError.self) { try pid(.target("other"), sharedPID: false) }
        #expect(target?.code == .failedPrecondition)
    }

    @Test func thePauseStartsTheSandbox() throws {
        let sandbox = Self.sandboxedPod()
        let annotations = ContainerSpecBuilder.sandboxAnnotations(of: sandbox, sandboxContainerID: "pause-pod1")
        #expect(annotations["io.kubernetes.cri.container-type"] == "sandbox")
        #expect(annotations["io.kubernetes.cri.sandbox-id"] == "pause-pod1")
        #expect(annotations["io.kubernetes.cri.sandbox-log-directory"] == "/var/log/pods/p1")
        #expect(annotations["dev.gvisor.spec.mount.skiffdevshm.source"] == "/pods/p1/shm")
        #expect(annotations["dev.gvisor.spec.mount.skiffdevshm.share"] == "pod")
        #expect(sandbox.hasPause, "a sandboxed pod always has its pause, shared PIDs or not")
        #expect(!ContainerSpecBuilderTests.sandbox().hasPause)
    }

    @Test func podsThatASandboxCannotHoldAreRefused() throws {
        var spec = SandboxSpec(name: "p", namespace: "gvisor", uid: "u1")
        spec.hostPID = true
        let hostPID = #expect(throws: SkiffError.self) { try spec.checkRunsInSandbox(of: "runsc") }
        #expect(hostPID?.code == .invalidArgument)
        spec.hostPID = false
        try spec.checkRunsInSandbox(of: "runsc")
    }

    // MARK: Handlers and command lines

    @Test func runscIsASandboxHandlerWhateverItsName() {
        #expect(RuntimeHandlerSet.Handler.runsPodsAsSandboxes(path: "/usr/bin/runsc", configured: false))
        #expect(RuntimeHandlerSet.Handler.runsPodsAsSandboxes(path: "/opt/kata", configured: true))
        #expect(!RuntimeHandlerSet.Handler.runsPodsAsSandboxes(path: "/usr/sbin/runc", configured: false))
        #expect(!RuntimeHandlerSet.Handler.runsPodsAsSandboxes(path: "/opt/runsc-wrapper", configured: false))
    }

    @Test func runscGetsItsArgumentsAndAnExecWithoutTTYFlag() {
        let base = RuncCompatibleRuntime(
            name: "runsc",
            binary: "/usr/bin/runsc",
            root: "/run/skiff/runtime/runsc",
            globalArguments: ["--network=host"]
        )
        let runtime = SandboxedRuntime(base: base, shim: "/usr/local/bin/skiff-sandbox-shim")
        let exec = OCIExec(processFile: "/b/exec.json", pidFile: "/b/exec.pid", tty: true)
        #expect(
            runtime.execArguments(id: "c1", exec) == [
                "--root", "/run/skiff/runtime/runsc", "--network=host", "exec", "--process", "/b/exec.json",
                "--pid-file", "/b/exec.pid", "--internal-pid-file", "/b/exec.pid.sandbox", "c1",
            ]
        )
        #expect(base.execArguments(id: "c1", exec).contains("--tty"), "runc's takes --tty")
        #expect(
            runtime.shimArguments() == [
                "--skiff-runtime=/usr/bin/runsc", "--skiff-holders=/run/skiff/runtime/runsc.holders",
            ]
        )
    }

    @Test func usageEventsAreParsedAndGarbageIsAnError() throws {
        let output = Array(
            """
            some warning
            {"type":"stats","id":"c1","data":{"cpu":{"usage":{"total":343789388}},"memory":{"usage":{"usage":4472832,"max":0}},"pids":{"current":3}}}
            """.utf8
        )
        #expect(
            try SandboxedUsage.parse(output, id: "c1")
                == SandboxedUsage(cpuNanoseconds: 343_789_388, memoryBytes: 4_472_832, processes: 3)
        )
        let partial = try SandboxedUsage.parse(Array(#"{"type":"stats","data":{"pids":{"current":1}}}"#.utf8), id: "c1")
        #expect(partial == SandboxedUsage(cpuNanoseconds: nil, memoryBytes: nil, processes: 1))
        #expect(throws: SkiffError.self) { try SandboxedUsage.parse(Array("not json\n".utf8), id: "c1") }
        #expect(throws: SkiffError.self) {
            try SandboxedUsage.parse(Array(#"{"type":"stats","id":"c2","data":{}}"#.utf8), id: "c1")
        }
    }
}

/// skiff-sandbox-shim with a scripted runtime: conmon's create becomes the runtime's create plus
/// a holder process whose pid conmon gets; start runs with the holder's stdio and releases it
/// into `wait`, whose exit status the holder takes; a deleted container's holder ends on SIGTERM.
@Suite(.serialized) struct SandboxShimTests {
    static let shim = FileSystem.besideExecutable("skiff-sandbox-shim")

    final class Scratch {
        let root = "/tmp/skiff-shim-unit-\(UUID().uuidString.prefix(8).lowercased())"
        var runtime: String { root + "/fake-runsc" }
        var calls: String { root + "/calls" }
        var holders: String { root + "/holders" }

        init() throws {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            // Logs every call; `start` prints through the stdio it was given, `wait` reports 3.
            try """
            #!/bin/sh
            echo "$*" >> \(calls)
            for last; do :; done
            case " $* " in
              *" create "*) exit 0 ;;
              *" start "*) echo "output of $last"; exit 0 ;;
              *" wait "*) echo "{\\"id\\":\\"$last\\",\\"exitStatus\\":3}"; exit 0 ;;
            esac
            exit 0
            """.write(toFile: runtime, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: runtime)
        }

        deinit {
            // try?: private scratch directory; a leftover is visible under /tmp.
            try? FileManager.default.removeItem(atPath: root)
        }
    }

    /// Runs the shim to its end; returns its status and stderr (through a file: a holder keeps
    /// the shim's stdio open, as it keeps conmon's).
    static func run(_ arguments: [String], stdout: FileHandle? = nil) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: shim)
        process.arguments = arguments
        let errorFile = "/tmp/skiff-shim-unit-stderr-\(UUID().uuidString.prefix(8))"
        FileManager.default.createFile(atPath: errorFile, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errorFile) }  // try?: a scratch file
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorFile))
        process.standardOutput = stdout ?? FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? "")
    }

    static func create(_ id: String, _ scratch: Scratch, stdout: FileHandle) throws -> Int32 {
        let pidFile = scratch.root + "/\(id).pidfile"
        let (status, errors) = try run(
            [
                "--skiff-runtime=\(scratch.runtime)", "--root=/r", "--skiff-holders=\(scratch.holders)",
                "--network=host", "create", "--bundle", "/b", "--pid-file", pidFile, id,
            ],
            stdout: stdout
        )
        #expect(status == 0, "\(errors)")
        let pid = ProcessIDFile.read(pidFile) ?? 0
        #expect(pid > 0 && ProcessIDFile.read(scratch.holders + "/\(id).pid") == pid)
        return pid
    }

    @Test func theHolderStandsForTheContainerFromCreateToExit() throws {
        let scratch = try Scratch()
        let output = Pipe()
        let holder = try Self.create("c1", scratch, stdout: output.fileHandleForWriting)
        try output.fileHandleForWriting.close()
        let commandLine = ProcessTree.commandLine(of: holder) ?? ""
        #expect(commandLine.contains("skiff-sandbox-shim") && commandLine.contains("c1"))
        let created = try String(contentsOfFile: scratch.calls, encoding: .utf8)
        #expect(created == "--root=/r --network=host create --bundle /b --pid-file \(scratch.root)/c1.pidfile c1\n")

        let (status, errors) = try Self.run([
            "start", scratch.holders + "/c1.pid", "c1", "--", scratch.runtime, "--root=/r", "start", "c1",
        ])
        #expect(status == 0, "\(errors)")
        // start wrote through the holder's stdout (conmon's pipe); the holder then waits and
        // exits, which closes the pipe.
        let received = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(received == "output of c1\n")
        #expect(ProcessTree.waitUntilGone(holder, milliseconds: 5000))
        #expect(!FileManager.default.fileExists(atPath: scratch.holders + "/c1.pid"))
        let calls = try String(contentsOfFile: scratch.calls, encoding: .utf8)
        #expect(calls.hasSuffix("--root=/r start c1\n--root=/r --network=host wait c1\n"), "\(calls)")
    }

    @Test func aDeletedContainersHolderEndsAndAStrangerIsNeverBorrowedFrom() throws {
        let scratch = try Scratch()
        let output = Pipe()
        let holder = try Self.create("c2", scratch, stdout: output.fileHandleForWriting)
        try output.fileHandleForWriting.close()
        // A pid file naming another process (this test) is refused.
        let stranger = scratch.root + "/stranger.pid"
        try "\(getpid())\n".write(toFile: stranger, atomically: true, encoding: .utf8)
        let (refused, message) = try Self.run(["start", stranger, "c2", "--", scratch.runtime, "start", "c2"])
        #expect(refused == 125 && message.contains("holder process is gone"), "\(message)")

        kill(holder, SIGTERM)
        #expect(ProcessTree.waitUntilGone(holder, milliseconds: 5000))
        #expect(!FileManager.default.fileExists(atPath: scratch.holders + "/c2.pid"))
        let calls = try String(contentsOfFile: scratch.calls, encoding: .utf8)
        #expect(!calls.contains("start") && !calls.contains("wait"), "\(calls)")
    }
}
