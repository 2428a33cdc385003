import LinuxSys
import Logging
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// The pause of a runc or crun pod whose containers share one PID namespace, made by Skiff's own
/// helper instead of an OCI runtime under conmon: `skiff-pause start` joins the pod's cgroup and
/// pinned namespaces, unshares the PID namespace and forks the pause as its PID 1, in an empty
/// read-only root, without capabilities, with no_new_privs and a seccomp filter that leaves it
/// waiting, reaping and exiting (Sources/skiff-pause/launch.c). No runc, no conmon, no bundle:
/// the pod costs one 0.7 MiB process.
///
/// The pause is named by its pid and start time, recorded with the pod, so a restarted skiffd
/// finds it (or learns it is gone) and never signals a process that reused the pid. It sits in
/// its own cgroup, `<pod parent>/skiff-pause-<pod>`, which also finds it when skiffd stopped
/// before recording it.
struct DirectPause: Sendable {
    /// What names a running pause.
    struct Identity: Sendable, Equatable {
        var pid: Int32
        var startTime: UInt64
    }

    var pauseBinary: String
    /// An empty directory the pause mounts its empty root on, in its own mount namespace.
    var emptyRoot: String
    var cgroupLayout: CgroupLayout?
    /// Where the node's cgroup hierarchies are mounted (each one the pause joins).
    var hierarchies: [String]
    var defaultCgroupParent: String
    var minimumOOMScoreAdj: Int
    var timeout: Duration
    var logger: Logger

    /// The pause's cgroup in every hierarchy: `<hierarchy>/<pod parent>/skiff-pause-<pod>`.
    func cgroupDirectories(of sandbox: PodSandbox) -> [String] {
        let path = cgroupPath(of: sandbox)
        guard CgroupFiles.isConfined(path) else { return [] }
        let relative = CgroupFiles.components(of: path).joined(separator: "/")
        return hierarchies.map { $0 + "/" + relative }
    }

    /// The pause's cgroup as a cgroupfs path (`<pod parent>/skiff-pause-<pod>`).
    private func cgroupPath(of sandbox: PodSandbox) -> String {
        sandbox.cgroupsPath(of: PauseProcesses.id(of: sandbox), defaultParent: defaultCgroupParent)
    }

    /// The mount points of the cgroup hierarchies a pause joins: every cgroup v1 hierarchy but
    /// cpuset (a new cpuset cgroup takes no process until its cpus and mems are copied in; the
    /// pause keeps skiffd's), and every cgroup2 mount (unified, or hybrid's `unified`).
    static func hierarchies(in mounts: MountTable, root: String = "/sys/fs/cgroup") -> [String] {
        var found: [String] = []
        for entry in mounts.entries where entry.mountPoint == root || entry.mountPoint.hasPrefix(root + "/") {
            switch entry.fileSystemType {
            case "cgroup2":
                found.append(entry.mountPoint)
            case "cgroup" where !entry.superOptions.contains("cpuset"):
                found.append(entry.mountPoint)
            default:
                continue
            }
        }
        return Array(Set(found)).sorted()
    }

    /// Makes the pod's PID namespace and its pause; returns what names the pause.
    func start(for sandbox: PodSandbox) async throws(SkiffError) -> Identity {
        guard FileSystem.isExecutableFile(pauseBinary) else {
            throw SkiffError(
                .failedPrecondition,
                "the pause binary \(pauseBinary) is missing; reinstall skiffd (scripts/setup-node.sh installs skiff-pause beside it)"
            )
        }
        let cgroups = cgroupDirectories(of: sandbox)
        do {
            try FileSystem.makeDirectories(emptyRoot, mode: 0o555)
            for directory in cgroups { try FileSystem.makeDirectories(directory, mode: 0o755) }
        } catch {
            await removeCgroups(cgroups, of: sandbox)
            throw error.skiffError("cannot prepare the pause of pod \(sandbox.id)")
        }
        var arguments = ["start", "--root", emptyRoot, "--oom-score-adj", "\(max(-998, minimumOOMScoreAdj))"]
        for directory in cgroups { arguments += ["--cgroup", directory] }
        if let path = sandbox.namespaces?.network, !sandbox.hostNetwork { arguments += ["--net", path] }
        if let path = sandbox.namespaces?.ipc, !sandbox.hostIPC { arguments += ["--ipc", path] }
        if let path = sandbox.namespaces?.uts, !sandbox.hostNetwork { arguments += ["--uts", path] }
        if sandbox.userNamespace != nil, let path = sandbox.namespaces?.user { arguments += ["--user", path] }
        let result: ChildProcess.Result
        do {
            result = try await ChildProcess.run(pauseBinary, arguments: arguments, timeout: timeout)
        } catch {
            await removeCgroups(cgroups, of: sandbox)
            throw error.skiffError("cannot run \(pauseBinary) to start the pod's pause", ifMissing: .failedPrecondition)
        }
        let fields = result.stdoutText.trimmingNewline.split(separator: " ")
        guard result.status == 0, !result.timedOut, fields.count == 2, let pid = Int32(fields[0]),
            let startTime = UInt64(fields[1])
        else {
            await remove(of: sandbox, recorded: nil)
            let reason = result.timedOut ? "timed out" : result.stderrText.trimmingNewline
            throw SkiffError(.internalError, "cannot start the pause of pod \(sandbox.id): \(reason)")
        }
        return Identity(pid: pid, startTime: startTime)
    }

    /// The running pause `recorded` names, if it still runs.
    func handle(of recorded: Identity) -> ProcessHandle? {
        guard let handle = ProcessHandle.matching(pid: recorded.pid, startTime: recorded.startTime),
            !handle.hasExited
        else { return nil }
        return handle
    }

    /// Kills the pod's pause (the recorded one, and anything left in its cgroup), waits for its
    /// exit (the kernel then ends every process left in the PID namespace) and removes its
    /// cgroup. Never fails: what cannot be removed is logged.
    func remove(of sandbox: PodSandbox, recorded: Identity?) async {
        let cgroups = cgroupDirectories(of: sandbox)
        var handles = recorded.flatMap(handle(of:)).map { [$0] } ?? []
        if let layout = cgroupLayout {
            // Anything in the pause's cgroup is its: a pause started but never recorded.
            let strays = CgroupFiles.processes(ofCgroup: cgroupPath(of: sandbox), layout: layout)
            handles += strays.filter { pid in !handles.contains { $0.pid == pid } }.compactMap(ProcessHandle.init)
        }
        if !handles.isEmpty {
            for handle in handles { handle.kill() }
            let milliseconds = Int(timeout.components.seconds) * 1000
            let exited = await DedicatedThread.run { [handles] in
                handles.allSatisfy { $0.waitForExit(milliseconds: milliseconds) }
            }
            if !exited {
                logger.warning("a pod's pause did not exit after SIGKILL", metadata: ["pod": "\(sandbox.id)"])
            }
        }
        await removeCgroups(cgroups, of: sandbox)
    }

    /// rmdir of the pause's cgroups. A cgroup whose last process has exited but not yet been
    /// reaped by the kernel's accounting may refuse (EBUSY) for a moment: it is tried again for
    /// up to a second.
    private func removeCgroups(_ directories: [String], of sandbox: PodSandbox) async {
        for directory in directories {
            var attempts = 0
            while rmdir(directory) != 0 {
                let error = errno
                if error == ENOENT { break }
                attempts += 1
                if error != EBUSY || attempts > 100 {
                    logger.warning(
                        "cannot remove a pause's cgroup",
                        metadata: [
                            "pod": "\(sandbox.id)", "cgroup": "\(directory)",
                            "error": "\(String(cString: strerror(error)))",
                        ]
                    )
                    break
                }
                // try?: cancelled, the next attempt only comes sooner.
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
    }
}
