import Foundation
import LinuxSys
import SkiffCommon

/// The pod network: the first network configuration in the CNI conf dir (lexical order,
/// `.conflist`, `.conf` or `.json`), as the kubelet's CNI library and other runtimes pick it.
/// A single-plugin `.conf` is treated as a list of one.
public struct CNINetworkList: Sendable {
    public let name: String
    public let cniVersion: String
    public let file: String
    /// Each plugin's configuration object, as the file has it.
    let plugins: [Data]

    public var pluginTypes: [String] {
        plugins.compactMap { (try? JSONSerialization.jsonObject(with: $0) as? [String: Any])?["type"] as? String }
    }

    /// The network of `directory`, or nil when it has no configuration file.
    public static func load(directory: String) throws(SkiffError) -> CNINetworkList? {
        guard let file = NodeStatusProbe.firstNetworkConfig(in: directory) else { return nil }
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readBytes(file, limit: 1 << 20)
        } catch {
            throw error.skiffError("cannot read the CNI configuration \(file)", ifMissing: .failedPrecondition)
        }
        return try parse(Data(bytes), file: file)
    }

    static func parse(_ data: Data, file: String) throws(SkiffError) -> CNINetworkList {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw SkiffError(.failedPrecondition, "the CNI configuration \(file) is not a JSON object")
        }
        guard let name = object["name"] as? String, !name.isEmpty else {
            throw SkiffError(.failedPrecondition, "the CNI configuration \(file) has no \"name\"")
        }
        let version = object["cniVersion"] as? String ?? "0.4.0"
        var plugins: [[String: Any]]
        if let list = object["plugins"] as? [[String: Any]] {
            plugins = list
        } else if object["type"] is String {
            plugins = [object]
        } else {
            throw SkiffError(.failedPrecondition, "the CNI configuration \(file) has neither \"plugins\" nor \"type\"")
        }
        guard !plugins.isEmpty, plugins.allSatisfy({ $0["type"] is String }) else {
            throw SkiffError(.failedPrecondition, "every plugin of \(file) needs a \"type\"")
        }
        plugins = plugins.map { plugin in
            var copy = plugin
            copy["name"] = name
            copy["cniVersion"] = version
            return copy
        }
        let encoded = plugins.compactMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
        return CNINetworkList(name: name, cniVersion: version, file: file, plugins: encoded)
    }
}

/// What an ADD returned (CNI spec "Result"), kept raw for DEL's prevResult.
public struct CNIResult: Sendable, Equatable {
    public struct Address: Sendable, Equatable {
        /// CIDR notation, e.g. 10.85.0.5/16.
        public var address: String
        public var gateway: String?

        /// The address without its prefix length.
        public var ip: String { String(address.split(separator: "/").first ?? "") }
    }

    public var raw: Data
    public var addresses: [Address]

    init(raw: Data) {
        self.raw = raw
        let object = (try? JSONSerialization.jsonObject(with: raw)) as? [String: Any]
        addresses = ((object?["ips"] as? [[String: Any]]) ?? []).compactMap { entry in
            guard let address = entry["address"] as? String else { return nil }
            return Address(address: address, gateway: entry["gateway"] as? String)
        }
    }
}
