import FoundationEssentials
import LinuxSys
import SkiffCommon
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One pod's attachment to the network, as the CNI protocol's environment describes it.
public struct CNIAttachment: Sendable {
    public var containerID: String
    public var netnsPath: String
    public var interfaceName: String
    /// CNI_ARGS pairs: K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID.
    public var arguments: [(String, String)]
    /// runtimeConfig values by capability name (portMappings, bandwidth, dns …).
    public var capabilities: [String: JSONValue]

    public init(
        containerID: String,
        netnsPath: String,
        interfaceName: String = "eth0",
        arguments: [(String, String)] = [],
        capabilities: [String: JSONValue] = [:]
    ) {
        self.containerID = containerID
        self.netnsPath = netnsPath
        self.interfaceName = interfaceName
        self.arguments = arguments
        self.capabilities = capabilities
    }
}

/// Runs a network's plugin chain with the CNI protocol: environment variables, the plugin's
/// configuration on stdin (with prevResult chaining and runtimeConfig for the capabilities it
/// declares), the result or error JSON on stdout. Every plugin run has a deadline.
public struct CNIPluginRunner: Sendable {
    public let binDirs: [String]
    public let timeout: Duration
    /// Plugin runs an earlier skiffd left going, found once when the runner is made (at start,
    /// before recovery). Only a dead skiffd leaves runs behind, so none appear later, and the
    /// DEL of every other pod looks at nothing.
    let leftovers: LeftoverPluginRuns

    public init(binDirs: [String], timeout: Duration = .seconds(60)) {
        self.binDirs = binDirs
        self.timeout = timeout
        self.leftovers = LeftoverPluginRuns.found()
    }

    /// ADD through the whole chain. If a plugin fails, DEL runs for the chain (best effort) so
    /// nothing is left half-attached, and the failure is thrown.
    public func add(_ network: CNINetworkList, _ attachment: CNIAttachment) async throws(SkiffError) -> CNIResult {
        var previous: Data?
        do throws(SkiffError) {
            for plugin in network.plugins {
                previous = try await invoke(
                    "ADD",
                    plugin: plugin,
                    network: network,
                    attachment: attachment,
                    previous: previous
                )
            }
            return try CNIResult(raw: previous ?? Data("{}".utf8))
        } catch {
            // try?: the ADD's failure is what the caller must hear; a DEL failure after it is
            // the same network's trouble, and DEL is retried with the pod's removal.
            try? await delete(network, attachment, previousResult: previous)
            throw error
        }
    }

    /// DEL through the chain in reverse order; every plugin is tried, the first failure thrown.
    /// Plugin runs for the same attachment that an earlier skiffd left behind are settled first.
    public func delete(
        _ network: CNINetworkList,
        _ attachment: CNIAttachment,
        previousResult: Data?
    ) async throws(SkiffError) {
        await settleLeftoverRuns(for: attachment.containerID)
        var firstFailure: SkiffError?
        for plugin in network.plugins.reversed() {
            do throws(SkiffError) {
                _ = try await invoke(
                    "DEL",
                    plugin: plugin,
                    network: network,
                    attachment: attachment,
                    previous: previousResult
                )
            } catch {
                firstFailure = firstFailure ?? error
            }
        }
        if let firstFailure { throw firstFailure }
    }

    /// A SIGKILLed skiffd leaves its plugin runs going, re-parented away from it. A DEL
    /// interleaved with such an ADD undoes half of it and then fails (portmap's chain is still
    /// referenced by the jump rule the ADD adds meanwhile), leaving NAT rules for a pod that no
    /// longer exists. So the leftover runs for this container ID are waited for, and killed with
    /// everything they started once the plugin deadline has passed.
    func settleLeftoverRuns(for containerID: String) async {
        let runs = leftovers.take(containerID)
        guard !runs.isEmpty else { return }
        let deadline = Int(timeout.components.seconds) * 1000
        await DedicatedThread.run {
            for run in runs where !run.waitForExit(milliseconds: deadline) {
                // Still running, so its pid is still its own.
                ProcessTree.kill(run.pid)
            }
        }
    }

    /// CHECK through the chain (CNI 0.4.0 and later): each plugin verifies the attachment the
    /// ADD result describes is still in place. Networks of an older version are not checked.
    public func check(
        _ network: CNINetworkList,
        _ attachment: CNIAttachment,
        previousResult: Data
    ) async throws(SkiffError) {
        guard Self.supportsCheck(network.cniVersion) else { return }
        for plugin in network.plugins {
            _ = try await invoke(
                "CHECK",
                plugin: plugin,
                network: network,
                attachment: attachment,
                previous: previousResult
            )
        }
    }

    static func supportsCheck(_ version: String) -> Bool {
        let parts = version.split(separator: ".").compactMap { Int($0) }
        guard let major = parts.first else { return false }
        return major >= 1 || (major == 0 && (parts.count > 1 ? parts[1] : 0) >= 4)
    }

    func invoke(
        _ command: String,
        plugin: CNIPluginConfig,
        network: CNINetworkList,
        attachment: CNIAttachment,
        previous: Data?
    ) async throws(SkiffError) -> Data? {
        guard let binary = binDirs.map({ "\($0)/\(plugin.type)" }).first(where: FileSystem.isExecutableFile) else {
            throw SkiffError(
                .failedPrecondition,
                "CNI plugin \"\(plugin.type)\" of network \(network.name) is not in \(binDirs.joined(separator: ":")) (apt-get install containernetworking-plugins)"
            )
        }
        var config = plugin.fields
        if let previous {
            do {
                config["prevResult"] = try JSONValue.parse(previous)
            } catch  where command == "DEL" {
                // A DEL must release what it can even when the recorded result is unreadable;
                // plugins delete by container ID and interface without it.
            } catch {
                throw SkiffError(.internalError, "the CNI result before plugin \(plugin.type) is not JSON: \(error)")
            }
        }
        let runtimeConfig = attachment.capabilities.filter { plugin.capabilities.contains($0.key) }
        if !runtimeConfig.isEmpty { config["runtimeConfig"] = .object(runtimeConfig) }
        let stdin = Array(JSONValue.object(config).encoded())
        let arguments = (["IgnoreUnknown=1"] + attachment.arguments.map { "\($0.0)=\($0.1)" }).joined(separator: ";")
        let environment = [
            "CNI_COMMAND=\(command)", "CNI_CONTAINERID=\(attachment.containerID)", "CNI_NETNS=\(attachment.netnsPath)",
            "CNI_IFNAME=\(attachment.interfaceName)", "CNI_ARGS=\(arguments)",
            "CNI_PATH=\(binDirs.joined(separator: ":"))",
            "PATH=\(ExecutableLookup.fallbackPath)",
        ]
        let result: ChildProcess.Result
        do {
            result = try await ChildProcess.run(
                binary,
                environment: environment,
                stdin: stdin,
                timeout: timeout,
                outputLimit: 1 << 20
            )
        } catch {
            throw error.skiffError("cannot run CNI plugin \(binary)", ifMissing: .failedPrecondition)
        }
        if result.timedOut {
            throw SkiffError(
                .deadlineExceeded,
                "CNI plugin \(plugin.type) \(command) for \(attachment.containerID) took longer than \(timeout)"
            )
        }
        guard result.status == 0 else {
            // try?: a plugin that failed without the spec's error JSON is quoted as it wrote.
            let reported = try? JSONDecoder().decode(CNIErrorReport.self, from: Data(result.stdout))
            let message = [reported?.msg, reported?.details].compactMap { $0 }.filter { !$0.isEmpty }.joined(
                separator: ": "
            )
            let text = message.isEmpty ? (result.stderrText + result.stdoutText).trimmingNewline : message
            throw SkiffError(
                .unavailable,
                "CNI plugin \(plugin.type) \(command) failed (exit \(result.status)): \(text)"
            )
        }
        return result.stdout.isEmpty ? previous : Data(result.stdout)
    }
}

/// The error a plugin prints on stdout when it fails (CNI spec "Error").
struct CNIErrorReport: Decodable {
    var code: Int?
    var msg: String?
    var details: String?
}

/// Plugin runs of an earlier skiffd, by the container ID in their environment, each held by a
/// pidfd so a reused pid is never waited for or killed.
final class LeftoverPluginRuns: Sendable {
    private let runs: Mutex<[String: [ProcessHandle]]>

    init(_ runs: [String: [ProcessHandle]]) {
        self.runs = Mutex(runs)
    }

    /// The CNI plugin processes running now that this process did not start.
    static func found() -> LeftoverPluginRuns {
        var runs: [String: [ProcessHandle]] = [:]
        let plugins = ProcessTree.strangers {
            ProcessTree.environment(of: $0)?.contains { $0.hasPrefix("CNI_COMMAND=") } == true
        }
        for pid in plugins {
            // The handle first: the environment read after it is this process's, not a successor's.
            guard let handle = ProcessHandle(pid),
                let entry = ProcessTree.environment(of: pid)?.first(where: { $0.hasPrefix("CNI_CONTAINERID=") })
            else { continue }
            runs[String(entry.dropFirst("CNI_CONTAINERID=".count)), default: []].append(handle)
        }
        return LeftoverPluginRuns(runs)
    }

    /// The runs for `containerID`, handed out once.
    func take(_ containerID: String) -> [ProcessHandle] {
        runs.withLock { $0.removeValue(forKey: containerID) ?? [] }
    }
}
