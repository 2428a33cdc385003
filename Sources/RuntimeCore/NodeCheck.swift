import DaemonConfig
import LinuxSys

#if canImport(Glibc)
import Glibc
#endif

/// What `skiff check` verifies: that this node has everything skiffd needs, and for whatever is
/// missing, how to get it.
public struct NodeCheck: Sendable {
    public enum Outcome: String, Sendable { case ok, warning, failure }

    public struct Finding: Sendable, Equatable {
        public var outcome: Outcome
        public var subject: String
        /// What was found, or what is wrong and how to fix it.
        public var detail: String
    }

    /// What the checks read from the node; a seam so tests can describe any node.
    public struct Node: Sendable {
        public var isRoot: Bool
        public var resolveProgram: @Sendable (String) -> String?
        public var isExecutable: @Sendable (String) -> Bool
        public var mounts: MountTable
        public var filesystems: String
        public var overlayModuleAvailable: Bool
        public var seccompAvailable: Bool
        /// What `PROGRAM --version` prints (first line), nil when it does not run.
        public var programVersion: @Sendable (String) async -> String? = Node.versionLine(of:)
        /// Why `RUNSC do /bin/true` fails on this node; nil when a sandbox runs.
        public var sandboxFailure: @Sendable (String) async -> String? = Node.runscFailure(_:)

        public static func current() -> Node {
            let release = uname().map { "/lib/modules/\($0)/kernel/fs/overlayfs" } ?? ""
            return Node(
                isRoot: geteuid() == 0,
                resolveProgram: { ExecutableLookup.resolve($0) },
                isExecutable: { FileSystem.isExecutableFile($0) },
                // try?: an unreadable /proc file reads as the feature missing, which the check reports with its fix.
                mounts: (try? MountTable.current()) ?? MountTable(entries: []),
                filesystems: (try? FileSystem.readText("/proc/filesystems")) ?? "",
                overlayModuleAvailable: !release.isEmpty && FileSystem.exists(release),
                seccompAvailable: ((try? FileSystem.readText("/proc/self/status")) ?? "").contains("Seccomp:")
            )
        }

        /// `program --version`'s first line, within 10 s.
        public static func versionLine(of program: String) async -> String? {
            do {
                let result = try await ChildProcess.run(program, arguments: ["--version"], timeout: .seconds(10))
                guard result.status == 0, !result.timedOut else { return nil }
                return result.stdoutText.split(whereSeparator: \.isNewline).first.map(String.init)
            } catch {
                return nil
            }
        }

        /// Runs `/bin/true` in a throwaway gVisor sandbox (no network, a private root; ~1 s),
        /// which proves the platform works here; nil when it does, else runsc's last words.
        public static func runscFailure(_ runsc: String) async -> String? {
            let root = "/tmp/skiff-check-runsc-\(getpid())"
            defer {
                // try?: a private scratch directory; runsc leaves it empty after `do`.
                try? DirectoryTree.remove(root)
            }
            do {
                try FileSystem.makeDirectories(root, mode: 0o700)
                let result = try await ChildProcess.run(
                    runsc,
                    arguments: ["--root", root, "--network=none", "do", "/bin/true"],
                    timeout: .seconds(60)
                )
                if result.timedOut {
                    return "runsc do /bin/true did not finish within 60 s (a KVM platform that cannot run here?)"
                }
                guard result.status == 0 else {
                    let text = result.stderrText.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
                    return "runsc do /bin/true failed (exit \(result.status)): \(text)"
                }
                return nil
            } catch {
                return "cannot run \(runsc): \(error)"
            }
        }

        private static func uname() -> String? {
            var names = utsname()
            guard Glibc.uname(&names) == 0 else { return nil }
            return withUnsafeBytes(of: names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
    }

    /// CNI plugins the default pod network (bridge + host-local + portmap + loopback) uses.
    public static let requiredCNIPlugins = ["bridge", "host-local", "loopback", "portmap"]
    /// cgroup v1 controllers pods need limits and stats from.
    public static let requiredV1Controllers = ["cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer"]

    let configuration: DaemonConfiguration
    let node: Node

    public init(configuration: DaemonConfiguration, node: Node = .current()) {
        self.configuration = configuration
        self.node = node
    }

    public func run() async -> [Finding] {
        var findings: [Finding] = []
        findings.append(
            node.isRoot
                ? Finding(outcome: .ok, subject: "privileges", detail: "running as root")
                : Finding(
                    outcome: .failure,
                    subject: "privileges",
                    detail: "skiffd must run as root (it mounts, creates namespaces and cgroups)"
                )
        )
        findings += await runtimeFindings()
        findings += networkFindings()
        findings += cgroupFindings()
        findings.append(overlayFinding())
        findings.append(
            node.seccompAvailable
                ? Finding(outcome: .ok, subject: "seccomp", detail: "supported by the kernel")
                : Finding(
                    outcome: .warning,
                    subject: "seccomp",
                    detail: "the kernel does not report seccomp; RuntimeDefault profiles cannot be enforced"
                )
        )
        return findings
    }

    func runtimeFindings() async -> [Finding] {
        let handlers = RuntimeHandlerSet(configuration: configuration, lookup: node.resolveProgram)
        var findings: [Finding] = []
        for handler in handlers.handlers {
            let subject = "runtime handler \(handler.name)"
            if let path = handler.resolvedPath {
                findings.append(
                    handler.sandboxed
                        ? await sandboxFinding(handler, path: path)
                        : Finding(outcome: .ok, subject: subject, detail: path)
                )
                continue
            }
            let isDefault = handler.name == handlers.defaultName
            findings.append(
                Finding(
                    outcome: isDefault ? .failure : .warning,
                    subject: subject,
                    detail:
                        "\(handler.configuredPath) not found\(isDefault ? " (it is the default handler)" : ""); apt-get install \(Self.debianPackage(for: handler.configuredPath))"
                )
            )
        }
        let conmon = configuration.runtime.conmonPath
        findings.append(
            node.resolveProgram(conmon).map { Finding(outcome: .ok, subject: "conmon", detail: $0) }
                ?? Finding(outcome: .failure, subject: "conmon", detail: "\(conmon) not found; apt-get install conmon")
        )
        return findings
    }

    func networkFindings() -> [Finding] {
        var findings: [Finding] = []
        for plugin in Self.requiredCNIPlugins {
            let found = configuration.network.cniBinDirs.map { "\($0)/\(plugin)" }.first(where: node.isExecutable)
            findings.append(
                found.map { Finding(outcome: .ok, subject: "CNI plugin \(plugin)", detail: $0) }
                    ?? Finding(
                        outcome: .failure,
                        subject: "CNI plugin \(plugin)",
                        detail:
                            "not in \(configuration.network.cniBinDirs.joined(separator: ":")); apt-get install containernetworking-plugins"
                    )
            )
        }
        let directory = configuration.network.cniConfDir
        findings.append(
            NodeStatusProbe.firstNetworkConfig(in: directory).map {
                Finding(outcome: .ok, subject: "CNI network config", detail: $0)
            }
                ?? Finding(
                    outcome: .warning,
                    subject: "CNI network config",
                    detail:
                        "none in \(directory): pods cannot get a network and the node stays NotReady until one is written (the README's set-up installs a bridge network)"
                )
        )
        return findings
    }

    func cgroupFindings() -> [Finding] {
        guard let layout = CgroupLayout.detect(in: node.mounts) else {
            return [
                Finding(
                    outcome: .failure,
                    subject: "cgroups",
                    detail: "no cgroup filesystem is mounted under /sys/fs/cgroup"
                )
            ]
        }
        if layout == .unified {
            return [Finding(outcome: .ok, subject: "cgroups", detail: "cgroup v2 (unified) at /sys/fs/cgroup")]
        }
        let mounted = CgroupLayout.v1Controllers(in: node.mounts)
        let missing = Self.requiredV1Controllers.filter { !mounted.contains($0) }
        var findings = [
            missing.isEmpty
                ? Finding(
                    outcome: .ok,
                    subject: "cgroups",
                    detail: "cgroup v1 (\(layout.rawValue)) with \(Self.requiredV1Controllers.joined(separator: ", "))"
                )
                : Finding(
                    outcome: .failure,
                    subject: "cgroups",
                    detail:
                        "cgroup v1 (\(layout.rawValue)) lacks the \(missing.joined(separator: ", ")) controller(s); mount them under /sys/fs/cgroup"
                )
        ]
        if layout == .hybrid && !mounted.contains("hugetlb") {
            findings.append(
                Finding(
                    outcome: .warning,
                    subject: "cgroups (crun)",
                    detail:
                        "hugetlb is not mounted as a v1 hierarchy; crun refuses hybrid layouts until it is (mkdir /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb)"
                )
            )
        }
        return findings
    }

    func overlayFinding() -> Finding {
        if node.filesystems.split(separator: "\n").contains(where: { $0.hasSuffix("\toverlay") }) {
            return Finding(outcome: .ok, subject: "overlayfs", detail: "supported by the kernel")
        }
        if node.overlayModuleAvailable {
            return Finding(
                outcome: .warning,
                subject: "overlayfs",
                detail: "the overlay module is not loaded; skiffd loads it on first use, or run modprobe overlay"
            )
        }
        return Finding(
            outcome: .failure,
            subject: "overlayfs",
            detail: "the kernel has no overlay filesystem; image layers cannot be mounted"
        )
    }

    static func debianPackage(for program: String) -> String {
        String(program.split(separator: "/").last ?? Substring(program))
    }

    /// A handler that runs pods as sandboxes (gVisor): it must run here, the shim must be
    /// installed, and runsc releases before 20240807 cannot start their own network stack on
    /// kernels where `net.core.rmem_default` is per network namespace (6.x) unless they are
    /// told `--network=host` (or `none`).
    func sandboxFinding(_ handler: RuntimeHandlerSet.Handler, path: String) async -> Finding {
        let subject = "runtime handler \(handler.name)"
        let shim = FileSystem.besideExecutable("skiff-sandbox-shim")
        guard node.isExecutable(shim) else {
            return Finding(
                outcome: .warning,
                subject: subject,
                detail:
                    "\(shim) is missing: the pods of this sandbox handler cannot run (scripts/setup-node.sh installs it)"
            )
        }
        guard let version = await node.programVersion(path) else {
            return Finding(
                outcome: .warning,
                subject: subject,
                detail:
                    "\(path) --version does not run; gVisor needs the ptrace platform (or systrap, runsc ≥ 20230227) and no KVM"
            )
        }
        if let failure = await node.sandboxFailure(path) {
            return Finding(
                outcome: .warning,
                subject: subject,
                detail:
                    "\(path) (\(version)) cannot run a sandbox here: \(failure). gVisor needs the ptrace platform (its default here; systrap from runsc 20230227) and no KVM"
            )
        }
        let networkChosen = handler.runtimeArguments.contains { $0 == "--network=host" || $0 == "--network=none" }
        if let release = Self.runscRelease(version), release < 20_240_807, !networkChosen {
            return Finding(
                outcome: .warning,
                subject: subject,
                detail:
                    "\(path) (\(version)) runs pods as gVisor sandboxes, but its own network stack does not start on kernels that give each network namespace its own net.core.rmem_default (6.x: \"cannot run with network enabled in root network namespace\"): set runtime_args = [\"--network=host\"] for this handler, or install runsc 20240807 or later"
            )
        }
        return Finding(outcome: .ok, subject: subject, detail: "\(path) (\(version)), gVisor sandboxes run here")
    }

    /// runsc's release date from `runsc version 0.0~20221219.0` or `release-20240807.0`.
    static func runscRelease(_ version: String) -> Int? {
        let digits = version.split(whereSeparator: { !$0.isNumber }).first { $0.count == 8 }
        return digits.flatMap { Int(String($0)) }
    }
}
