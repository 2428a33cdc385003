import CRIAPI
import Foundation
import GRPCCore
import ImageFixtures
import Testing

/// ExecSync, resources, mounts, log rotation, events and recovery, through a real skiffd.
@Suite(.serialized) struct ContainerFeatureTests {
    static func sleeper(
        _ harness: ContainerHarness,
        _ name: String,
        configure: (inout Runtime_V1_ContainerConfig) -> Void = { _ in }
    ) async throws -> String {
        try await harness.run(
            harness.config(name, ["/bin/sh", "-c", "echo ready; exec sleep 1000"], configure: configure)
        )
    }

    static func openFDs(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    @Test func execSyncReturnsOutputAndExitCodeAndHonoursItsTimeout() async throws {
        try await ContainerHarness.with { harness in
            let id = try await Self.sleeper(harness, "exec-target")
            try await harness.waitForLog("exec-target", containing: "ready")
            let result = try await harness.execSync(id, ["/bin/sh", "-c", "echo hi; echo oops >&2; id -u; exit 7"])
            #expect(String(decoding: result.stdout, as: UTF8.self) == "hi\n0\n")
            #expect(String(decoding: result.stderr, as: UTF8.self) == "oops\n")
            #expect(result.exitCode == 7)

            let started = ContinuousClock.now
            await expectCode(.deadlineExceeded) {
                _ = try await harness.execSync(id, ["/bin/sleep", "30"], timeout: 1)
            }
            #expect(ContinuousClock.now - started < .seconds(5))
            // The timed-out command is gone from the container.
            let ps = try await harness.execSync(id, ["/bin/ps"])
            #expect(
                !String(decoding: ps.stdout, as: UTF8.self).contains("sleep 30"),
                "\(String(decoding: ps.stdout, as: UTF8.self))"
            )

            // Probes call ExecSync every second: many calls leak nothing.
            let daemonPID = try #require(harness.daemon.process?.processIdentifier)
            _ = try await harness.execSync(id, ["/bin/true"])
            let before = Self.openFDs(daemonPID)
            for _ in 0..<100 {
                #expect(try await harness.execSync(id, ["/bin/true"]).exitCode == 0)
            }
            #expect(Self.openFDs(daemonPID) <= before + 2, "fds before \(before), after \(Self.openFDs(daemonPID))")
            // This daemon's execs only: other suites' daemons may be running theirs meanwhile.
            #expect(
                ContainerHarness.processes(mentioning: "exec --process").filter {
                    $0.contains(harness.daemon.directory)
                }.isEmpty
            )
            await expectCode(.invalidArgument) { _ = try await harness.execSync(id, []) }
            try await harness.stop(id, timeout: 0)
            await expectCode(.failedPrecondition) { _ = try await harness.execSync(id, ["/bin/true"]) }
        }
    }

    @Test func readOnlyRootfsAndABindMount() async throws {
        try await ContainerHarness.with { harness in
            let shared = harness.daemon.directory + "/shared"
            try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
            try "from the node\n".write(toFile: shared + "/note", atomically: false, encoding: .utf8)
            let script =
                "cat /mnt/node/note; touch /rootfile 2>/dev/null || echo rootfs-ro; touch /mnt/node/x 2>/dev/null || echo mount-ro; touch /mnt/rw/y && echo rw-ok"
            let scratch = harness.daemon.directory + "/scratch"
            let id = try await harness.run(
                harness.config("readonly", ["/bin/sh", "-c", script]) { config in
                    config.linux.securityContext.readonlyRootfs = true
                    var mount = Runtime_V1_Mount()
                    mount.containerPath = "/mnt/node"
                    mount.hostPath = shared
                    mount.readonly = true
                    var writable = Runtime_V1_Mount()
                    writable.containerPath = "/mnt/rw"
                    writable.hostPath = scratch
                    config.mounts = [mount, writable]
                }
            )
            #expect(try await harness.waitForExit(id).exitCode == 0)
            #expect(harness.stdout("readonly") == "from the node\nrootfs-ro\nmount-ro\nrw-ok\n")
            #expect(FileManager.default.fileExists(atPath: scratch + "/y"))
            let mounts = try await harness.status(id).status.mounts
            #expect(mounts.map(\.containerPath) == ["/mnt/node", "/mnt/rw"])
        }
    }

    /// A read-only bind of a directory with a tmpfs mounted inside it: plain `readonly` leaves
    /// the tmpfs writable (a bind's read-only flag covers its top mount only), `recursive_read_only`
    /// makes it read-only too (runc's `rro`). Requests the CRI forbids are refused by name, and
    /// only handlers whose runtime lists `rro` advertise the feature.
    @Test func aRecursiveReadOnlyMountReachesItsSubmounts() async throws {
        try await ContainerHarness.with(handler: "runc") { harness in
            let host = harness.daemon.directory + "/rro-host"
            try FileManager.default.createDirectory(atPath: host + "/tmpfs", withIntermediateDirectories: true)
            guard mount("none", host + "/tmpfs", "tmpfs", 0, nil) == 0 else {
                Issue.record("cannot mount a tmpfs: errno \(errno)")
                return
            }
            defer { umount2(host + "/tmpfs", Int32(MNT_DETACH)) }
            func bind(_ path: String, recursive: Bool) -> Runtime_V1_Mount {
                var mount = Runtime_V1_Mount()
                mount.containerPath = path
                mount.hostPath = host
                mount.readonly = true
                mount.recursiveReadOnly = recursive
                return mount
            }
            let script =
                "touch /mnt/ro/tmpfs/a && echo ro-submount-writable; touch /mnt/rro/tmpfs/b 2>&1 | grep -q 'Read-only file system' && echo rro-submount-read-only"
            let id = try await harness.run(
                harness.config("rro", ["/bin/sh", "-c", script]) { config in
                    config.mounts = [bind("/mnt/ro", recursive: false), bind("/mnt/rro", recursive: true)]
                }
            )
            #expect(try await harness.waitForExit(id).exitCode == 0)
            #expect(harness.stdout("rro") == "ro-submount-writable\nrro-submount-read-only\n")
            let mounts = try await harness.status(id).status.mounts
            #expect(mounts.map(\.recursiveReadOnly) == [false, true])

            var writable = bind("/mnt/rro", recursive: true)
            writable.readonly = false
            await expectCode(.invalidArgument) {
                _ = try await harness.create(harness.config("rro-rw", ["/bin/true"]) { $0.mounts = [writable] })
            }
            var slave = bind("/mnt/rro", recursive: true)
            slave.propagation = .propagationHostToContainer
            await expectCode(.invalidArgument) {
                _ = try await harness.create(harness.config("rro-slave", ["/bin/true"]) { $0.mounts = [slave] })
            }
            let status = try await harness.daemon.runtime { try await $0.status(.init()) }
            let features = Dictionary(
                status.runtimeHandlers.map { ($0.name, $0.features.recursiveReadOnlyMounts) },
                uniquingKeysWith: { first, _ in first }
            )
            #expect(features["runc"] == true, "runc 1.1 lists rro in `runc features`")
            #expect(features["crun"] == false, "crun 1.8 has no `crun features`: nothing is claimed for it")
        }
    }

    /// ContainerConfig.stop_signal (KEP-4960) replaces the image's StopSignal: StopContainer
    /// sends it, and ContainerStatus reports it.
    @Test func theConfiguredStopSignalIsSentAndReported() async throws {
        try await ContainerHarness.with { harness in
            let script = "trap 'echo got-usr1; exit 3' USR1; echo ready; while true; do sleep 0.1; done"
            let id = try await harness.run(
                harness.config("usr1", ["/bin/sh", "-c", script]) { $0.stopSignal = .sigusr1 }
            )
            try await harness.waitForLog("usr1", containing: "ready")
            #expect(try await harness.status(id).status.stopSignal == .sigusr1)
            try await harness.stop(id, timeout: 10)
            let status = try await harness.status(id).status
            #expect(status.exitCode == 3, "the trap ran: \(status)")
            #expect(harness.stdout("usr1").contains("got-usr1"))

            let plain = try await Self.sleeper(harness, "default-signal")
            #expect(try await harness.status(plain).status.stopSignal == .sigterm, "no stop signal: SIGTERM")
        }
    }

    /// Image volumes (KEP-4639): the image is mounted read-only (executable) at the container
    /// path, or one of its directories with image_sub_path; ContainerStatus names the image and
    /// its ID; bad requests are refused by name; removal unmounts it.
    @Test func anImageVolumeMountsTheImageReadOnly() async throws {
        try await ContainerHarness.with { harness in
            func volume(_ path: String, subPath: String = "", image: String? = nil) -> Runtime_V1_Mount {
                var mount = Runtime_V1_Mount()
                mount.containerPath = path
                mount.readonly = true
                mount.image.image = image ?? harness.image
                mount.imageSubPath = subPath
                return mount
            }
            let script =
                "ls /vol/app/message && /vol/bin/ls /vol >/dev/null && echo exec-ok; touch /vol/x 2>/dev/null || echo volume-ro; cat /etc-vol/passwd | head -1"
            let id = try await harness.run(
                harness.config("volumes", ["/bin/sh", "-c", script]) { config in
                    config.mounts = [volume("/vol"), volume("/etc-vol", subPath: "etc")]
                }
            )
            #expect(try await harness.waitForExit(id).exitCode == 0)
            #expect(
                harness.stdout("volumes") == "/vol/app/message\nexec-ok\nvolume-ro\nroot:x:0:0:root:/root:/bin/sh\n"
            )
            let mounts = try await harness.status(id).status.mounts
            #expect(mounts.map(\.image.image) == [harness.image, harness.image])
            #expect(mounts.allSatisfy { $0.image.imageRef.hasPrefix("sha256:") && $0.hostPath.isEmpty })
            #expect(mounts.map(\.imageSubPath) == ["", "etc"])
            #expect(nodeMountPoints(under: harness.daemon.directory).contains { $0.contains("/image-volumes/") })

            for (name, mount, code) in [
                ("missing-image", volume("/v", image: "example.com/nowhere/none:1"), RPCError.Code.notFound),
                ("parent", volume("/v", subPath: "etc/../.."), .invalidArgument),
                ("absent", volume("/v", subPath: "no/such/dir"), .invalidArgument),
                ("symlink", volume("/v", subPath: "bin/sh"), .invalidArgument),
            ] as [(String, Runtime_V1_Mount, RPCError.Code)] {
                await expectCode(code) {
                    _ = try await harness.create(harness.config(name, ["/bin/true"]) { $0.mounts = [mount] })
                }
            }
            var writable = volume("/v")
            writable.readonly = false
            await expectCode(.invalidArgument) {
                _ = try await harness.create(harness.config("writable", ["/bin/true"]) { $0.mounts = [writable] })
            }

            try await harness.remove(id)
            #expect(
                !nodeMountPoints(under: harness.daemon.directory).contains { $0.contains("/image-volumes/") },
                "removal and every refused creation unmount their image volumes"
            )
        }
    }

    @Test func aContainerOverItsMemoryLimitIsOOMKilled() async throws {
        try await ContainerHarness.with { harness in
            let id = try await harness.run(
                harness.config("hog", ["/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"]) { config in
                    config.linux.resources.memoryLimitInBytes = 32 << 20
                }
            )
            let status = try await harness.waitForExit(id)
            #expect(status.reason == "OOMKilled", "\(status)")
            #expect(status.exitCode == 137)
        }
    }

    @Test func updateContainerResourcesReachesTheCgroup() async throws {
        try await ContainerHarness.with { harness in
            let id = try await Self.sleeper(harness, "resized") { $0.linux.resources.memoryLimitInBytes = 64 << 20 }
            try await harness.waitForLog("resized", containing: "ready")
            let verbose = try await harness.status(id, verbose: true)
            let info = try #require(verbose.info["info"])
            let record = try #require(try JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any])
            let cgroupsPath = try #require(record["cgroupsPath"] as? String)
            let limitFile = CgroupPaths.memoryLimitFile(cgroupsPath)
            #expect(
                try String(contentsOfFile: limitFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                    == String(64 << 20)
            )
            var request = Runtime_V1_UpdateContainerResourcesRequest()
            request.containerID = id
            request.linux.memoryLimitInBytes = 128 << 20
            request.linux.cpuShares = 512
            _ = try await harness.daemon.runtime { try await $0.updateContainerResources(request) }
            #expect(
                try String(contentsOfFile: limitFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                    == String(128 << 20)
            )
            #expect(try await harness.status(id).status.resources.linux.memoryLimitInBytes == 128 << 20)
        }
    }

    @Test func reopenContainerLogAfterTheKubeletRotatesIt() async throws {
        try await ContainerHarness.with { harness in
            let id = try await harness.run(
                harness.config("ticker", ["/bin/sh", "-c", "while true; do echo tick; sleep 0.1; done"])
            )
            try await harness.waitForLog("ticker", containing: "tick")
            let path = harness.logPath("ticker")
            try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
            var request = Runtime_V1_ReopenContainerLogRequest()
            request.containerID = id
            _ = try await harness.daemon.runtime { try await $0.reopenContainerLog(request) }
            try await harness.waitForLog("ticker", containing: "tick")
            #expect(FileManager.default.fileExists(atPath: path + ".1"))
        }
    }

    @Test func eventsArriveInOrder() async throws {
        try await ContainerHarness.with { harness in
            let collected = Task { () -> [(Runtime_V1_ContainerEventType, String)] in
                try await harness.daemon.runtime { client in
                    try await client.getContainerEvents(Runtime_V1_GetEventsRequest()) { response in
                        var events: [(Runtime_V1_ContainerEventType, String)] = []
                        for try await event in response.messages {
                            events.append((event.containerEventType, event.containerID))
                            if event.containerEventType == .containerDeletedEvent { break }
                        }
                        return events
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            let id = try await harness.run(harness.config("evented", ["/bin/sh", "-c", "exit 0"]))
            _ = try await harness.waitForExit(id)
            try await harness.remove(id)
            let events = try await collected.value
            #expect(
                events.map(\.0) == [
                    .containerCreatedEvent, .containerStartedEvent, .containerStoppedEvent, .containerDeletedEvent,
                ]
            )
            #expect(events.allSatisfy { $0.1 == id })
        }
    }

    @Test func statsReportCPUMemoryAndTheWritableLayer() async throws {
        try await ContainerHarness.with { harness in
            let id = try await harness.run(
                harness.config(
                    "busy",
                    ["/bin/sh", "-c", "dd if=/dev/zero of=/tmp/blob bs=1M count=3; echo ready; while true; do :; done"]
                )
            )
            try await harness.waitForLog("busy", containing: "ready")
            var request = Runtime_V1_ContainerStatsRequest()
            request.containerID = id
            _ = try await harness.daemon.runtime { try await $0.containerStats(request) }
            try await Task.sleep(for: .milliseconds(500))
            let stats = try await harness.daemon.runtime { try await $0.containerStats(request) }.stats
            #expect(stats.attributes.id == id)
            #expect(stats.attributes.metadata.name == "busy")
            #expect(stats.cpu.usageCoreNanoSeconds.value > 100_000_000, "\(stats.cpu)")
            #expect(stats.cpu.usageNanoCores.value > 300_000_000, "a busy loop uses most of a core: \(stats.cpu)")
            #expect(stats.memory.workingSetBytes.value > 0 && stats.memory.usageBytes.value > 0, "\(stats.memory)")
            #expect(stats.writableLayer.usedBytes.value >= 3 << 20, "\(stats.writableLayer)")
            #expect(stats.writableLayer.inodesUsed.value >= 1)

            let listed = try await harness.daemon.runtime {
                try await $0.listContainerStats(Runtime_V1_ListContainerStatsRequest())
            }.stats
            #expect(listed.map(\.attributes.id) == [id])
            var podRequest = Runtime_V1_PodSandboxStatsRequest()
            podRequest.podSandboxID = harness.podID
            let pod = try await harness.daemon.runtime { try await $0.podSandboxStats(podRequest) }.stats
            #expect(pod.attributes.id == harness.podID)
            #expect(pod.linux.cpu.usageCoreNanoSeconds.value > 0)
            #expect(pod.linux.process.processCount.value >= 1)
            #expect(pod.linux.containers.map(\.attributes.id) == [id])
            await expectCode(.notFound) {
                var missing = Runtime_V1_ContainerStatsRequest()
                missing.containerID = "nope"
                _ = try await harness.daemon.runtime { try await $0.containerStats(missing) }
            }
        }
    }

    @Test func aSharedPIDPodRunsThePauseProcessAsItsInit() async throws {
        try await ContainerHarness.with(sharedPID: true) { harness in
            var statusRequest = Runtime_V1_PodSandboxStatusRequest()
            statusRequest.podSandboxID = harness.podID
            let pod = try await harness.daemon.runtime { try await $0.podSandboxStatus(statusRequest) }.status
            #expect(pod.linux.namespaces.options.pid == .pod)
            let first = try await Self.sleeper(harness, "first") {
                $0.linux.securityContext.namespaceOptions.pid = .pod
            }
            let second = try await Self.sleeper(harness, "second") {
                $0.linux.securityContext.namespaceOptions.pid = .pod
            }
            try await harness.waitForLog("second", containing: "ready")
            let ps = String(
                decoding: try await harness.execSync(second, ["/bin/ps", "-o", "pid,args"]).stdout,
                as: UTF8.self
            )
            let lines = ps.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(lines.contains { $0.hasPrefix("1 ") && $0.hasSuffix("/pause --confined") }, "\(ps)")
            // skiff-pause is plain static C with no Swift runtime linked in (Package.swift): a
            // shared-PID pod costs it ~0.7 MiB resident (4.8 MiB with the runtime).
            let pauseRSS = try #require(ContainerHarness.residentKiB(ofCgroup: "pause-" + harness.podID))
            #expect(pauseRSS < 1024, "skiff-pause VmRSS \(pauseRSS) KiB")
            #expect(
                lines.filter { $0.hasSuffix("sleep 1000") }.count == 2,
                "both containers' processes are visible: \(ps)"
            )
            // Containers of the pod share its /dev/shm (a tmpfs of runtime.shm_size_mib).
            _ = try await harness.execSync(first, ["/bin/sh", "-c", "echo shared > /dev/shm/note"])
            #expect(try await harness.execSync(second, ["/bin/cat", "/dev/shm/note"]).stdout == Data("shared\n".utf8))
            let df = String(
                decoding: try await harness.execSync(second, ["/bin/sh", "-c", "grep ' /dev/shm ' /proc/mounts"])
                    .stdout,
                as: UTF8.self
            )
            #expect(df.contains("tmpfs") && df.contains("size=65536k"), "\(df)")
            // The pause process reaps: a container's orphan does not linger as a zombie.
            _ = try await harness.execSync(first, ["/bin/sh", "-c", "(sleep 0.1 &) ; true"])
            try await Task.sleep(for: .milliseconds(400))
            let after = String(
                decoding: try await harness.execSync(second, ["/bin/ps", "-o", "stat,args"]).stdout,
                as: UTF8.self
            )
            #expect(!after.split(separator: "\n").contains { $0.hasPrefix("Z") }, "\(after)")
            try await PodSandboxTests.stop(harness.daemon, harness.podID)
            #expect(try await harness.status(first).status.state == .containerExited)
            #expect(ContainerHarness.processes(mentioning: "pause-" + harness.podID).isEmpty)
        }
    }

    @Test func afterSIGKILLOfSkiffdContainersAreReportedTruthfully() async throws {
        try await ContainerHarness.with { harness in
            let running = try await harness.run(
                harness.config("survivor", ["/bin/sh", "-c", "echo ready; while true; do echo tick; sleep 0.2; done"])
            )
            let exiting = try await harness.run(
                harness.config("leaver", ["/bin/sh", "-c", "sleep 1; echo bye; exit 5"])
            )
            try await harness.waitForLog("survivor", containing: "ready")
            try await harness.daemon.stop(signal: SIGKILL)
            try await Task.sleep(for: .seconds(2))
            let ticksBefore = harness.stdout("survivor").components(separatedBy: "tick").count
            try await harness.daemon.start()
            let survivor = try await harness.status(running).status
            // conmon kept the log going while skiffd was away, and still does.
            try await Task.sleep(for: .milliseconds(600))
            #expect(harness.stdout("survivor").components(separatedBy: "tick").count > ticksBefore + 1)
            #expect(survivor.state == .containerRunning)
            let leaver = try await harness.waitForExit(exiting)
            #expect(leaver.exitCode == 5)
            #expect(harness.stdout("leaver") == "bye\n")
            let result = try await harness.execSync(running, ["/bin/echo", "still here"])
            #expect(String(decoding: result.stdout, as: UTF8.self) == "still here\n")
            try await harness.stop(running, timeout: 0)
            #expect(try await harness.status(running).status.state == .containerExited)
        }
    }
}

/// Where the node keeps a container's cgroup files (cgroup v1 here, v2 on unified hosts).
enum CgroupPaths {
    static var unified: Bool { FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") }

    static func memoryLimitFile(_ cgroupsPath: String) -> String {
        unified
            ? "/sys/fs/cgroup\(cgroupsPath)/memory.max" : "/sys/fs/cgroup/memory\(cgroupsPath)/memory.limit_in_bytes"
    }
}
