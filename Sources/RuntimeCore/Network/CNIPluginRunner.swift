import Foundation
import LinuxSys
import SkiffCommon

/// One pod's attachment to the network, as the CNI protocol's environment describes it.
public struct CNIAttachment: Sendable {
    public var containerID: String
    public var netnsPath: String
    public var interfaceName: String
    /// CNI_ARGS pairs: K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID.
    public var arguments: [(String, String)]
    /// runtimeConfig values by capability name (portMappings, bandwidth, dns …), as JSON.
    public var capabilities: [String: Data]

    public init(containerID: String, netnsPath: String, interfaceName: String = "eth0",
                arguments: [(String, String)] = [], capabilities: [String: Data] = [:]) {
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

    public init(binDirs: [String], timeout: Duration = .seconds(60)) {
        self.binDirs = binDirs
        self.timeout = timeout
    }

    /// ADD through the whole chain. If a plugin fails, DEL runs for the chain (best effort) so
    /// nothing is left half-attached, and the failure is thrown.
    public func add(_ network: CNINetworkList, _ attachment: CNIAttachment) async throws(SkiffError) -> CNIResult {
        var previous: Data?
        for plugin in network.plugins {
            do throws(SkiffError) {
                previous = try await invoke("ADD", plugin: plugin, network: network, attachment: attachment, previous: previous)
            } catch {
                try? await delete(network, attachment, previousResult: previous)
                throw error
            }
        }
        return CNIResult(raw: previous ?? Data("{}".utf8))
    }

    /// DEL through the chain in reverse order; every plugin is tried, the first failure thrown.
    /// Plugin runs for the same attachment that an earlier skiffd left behind are settled first.
    public func delete(_ network: CNINetworkList, _ attachment: CNIAttachment, previousResult: Data?) async throws(SkiffError) {
        await settleLeftoverRuns(for: attachment.containerID)
        var firstFailure: SkiffError?
        for plugin in network.plugins.reversed() {
            do throws(SkiffError) {
                _ = try await invoke("DEL", plugin: plugin, network: network, attachment: attachment, previous: previousResult)
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
        let entry = "CNI_CONTAINERID=\(containerID)"
        let deadline = Int(timeout.components.seconds) * 1000
        await DedicatedThread.run {
            for pid in ProcessTree.strangers(withEnvironmentEntry: entry) where !ProcessTree.waitForExit(pid, milliseconds: deadline) {
                ProcessTree.kill(pid)
            }
        }
    }

    /// CHECK through the chain (CNI 0.4.0 and later): each plugin verifies the attachment the
    /// ADD result describes is still in place. Networks of an older version are not checked.
    public func check(_ network: CNINetworkList, _ attachment: CNIAttachment, previousResult: Data) async throws(SkiffError) {
        guard Self.supportsCheck(network.cniVersion) else { return }
        for plugin in network.plugins {
            _ = try await invoke("CHECK", plugin: plugin, network: network, attachment: attachment, previous: previousResult)
        }
    }

    static func supportsCheck(_ version: String) -> Bool {
        let parts = version.split(separator: ".").compactMap { Int($0) }
        guard let major = parts.first else { return false }
        return major >= 1 || (major == 0 && (parts.count > 1 ? parts[1] : 0) >= 4)
    }

    func invoke(_ command: String, plugin: Data, network: CNINetworkList, attachment: CNIAttachment, previous: Data?) async throws(SkiffError) -> Data? {
        guard var config = (try? JSONSerialization.jsonObject(with: plugin)) as? [String: Any], let type = config["type"] as? String else {
            throw SkiffError(.failedPrecondition, "a plugin of \(network.file) is malformed")
        }
        guard let binary = binDirs.map({ "\($0)/\(type)" }).first(where: FileSystem.isExecutableFile) else {
            throw SkiffError(.failedPrecondition, "CNI plugin \"\(type)\" of network \(network.name) is not in \(binDirs.joined(separator: ":")) (apt-get install containernetworking-plugins)")
        }
        if let previous, let result = try? JSONSerialization.jsonObject(with: previous) { config["prevResult"] = result }
        if let declared = config["capabilities"] as? [String: Bool] {
            var runtimeConfig: [String: Any] = [:]
            for (capability, enabled) in declared where enabled {
                if let value = attachment.capabilities[capability], let object = try? JSONSerialization.jsonObject(with: value, options: [.fragmentsAllowed]) {
                    runtimeConfig[capability] = object
                }
            }
            if !runtimeConfig.isEmpty { config["runtimeConfig"] = runtimeConfig }
        }
        let stdin = (try? JSONSerialization.data(withJSONObject: config, options: [.sortedKeys])).map(Array.init) ?? []
        let arguments = (["IgnoreUnknown=1"] + attachment.arguments.map { "\($0.0)=\($0.1)" }).joined(separator: ";")
        let environment = [
            "CNI_COMMAND=\(command)", "CNI_CONTAINERID=\(attachment.containerID)", "CNI_NETNS=\(attachment.netnsPath)",
            "CNI_IFNAME=\(attachment.interfaceName)", "CNI_ARGS=\(arguments)", "CNI_PATH=\(binDirs.joined(separator: ":"))",
            "PATH=\(ExecutableLookup.fallbackPath)",
        ]
        let result: ChildProcess.Result
        do {
            result = try await ChildProcess.run(binary, environment: environment, stdin: stdin, timeout: timeout, outputLimit: 1 << 20)
        } catch {
            throw error.skiffError("cannot run CNI plugin \(binary)", ifMissing: .failedPrecondition)
        }
        if result.timedOut {
            throw SkiffError(.deadlineExceeded, "CNI plugin \(type) \(command) for \(attachment.containerID) took longer than \(timeout)")
        }
        guard result.status == 0 else {
            let object = (try? JSONSerialization.jsonObject(with: Data(result.stdout))) as? [String: Any]
            let message = [object?["msg"] as? String, object?["details"] as? String].compactMap { $0 }.joined(separator: ": ")
            let text = message.isEmpty ? (result.stderrText + result.stdoutText).trimmingNewline : message
            throw SkiffError(.unavailable, "CNI plugin \(type) \(command) failed (exit \(result.status)): \(text)")
        }
        return result.stdout.isEmpty ? previous : Data(result.stdout)
    }
}
