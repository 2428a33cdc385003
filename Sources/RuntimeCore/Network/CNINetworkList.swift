import FoundationEssentials
import LinuxSys
import SkiffCommon

/// The pod network: the first network configuration in the CNI conf dir (lexical order,
/// `.conflist`, `.conf` or `.json`), as the kubelet's CNI library and other runtimes pick it.
/// A single-plugin `.conf` is treated as a list of one.
public struct CNINetworkList: Sendable {
    public let name: String
    public let cniVersion: String
    public let file: String
    /// The plugins in chain order, each with the list's name and cniVersion, as CNI passes them.
    let plugins: [CNIPluginConfig]

    public var pluginTypes: [String] { plugins.map(\.type) }

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
        let document: [String: JSONValue]
        do {
            guard let object = try JSONValue.parse(data).objectValue else {
                throw SkiffError(.failedPrecondition, "not an object")
            }
            document = object
        } catch {
            throw SkiffError(.failedPrecondition, "the CNI configuration \(file) is not a JSON object: \(error)")
        }
        guard let name = document["name"]?.stringValue, !name.isEmpty else {
            throw SkiffError(.failedPrecondition, "the CNI configuration \(file) has no \"name\"")
        }
        let version = document["cniVersion"]?.stringValue ?? "0.4.0"
        let entries: [JSONValue]
        if case .array(let list) = document["plugins"] {
            entries = list
        } else if document["type"]?.stringValue != nil {
            entries = [.object(document)]
        } else {
            throw SkiffError(.failedPrecondition, "the CNI configuration \(file) has neither \"plugins\" nor \"type\"")
        }
        let plugins = entries.compactMap {
            $0.objectValue.flatMap { CNIPluginConfig(fields: $0, network: name, cniVersion: version) }
        }
        guard !plugins.isEmpty, plugins.count == entries.count else {
            throw SkiffError(.failedPrecondition, "every plugin of \(file) needs a \"type\"")
        }
        return CNINetworkList(name: name, cniVersion: version, file: file, plugins: plugins)
    }
}

/// One plugin of a network list: the fields skiffd reads (type, declared capabilities), and the
/// whole object as the file has it, passed to the plugin with the list's name and cniVersion.
struct CNIPluginConfig: Sendable {
    let type: String
    /// The runtimeConfig keys the plugin asks for ("portMappings", "bandwidth", "dns" …).
    let capabilities: Set<String>
    let fields: [String: JSONValue]

    init?(fields original: [String: JSONValue], network: String, cniVersion: String) {
        guard let type = original["type"]?.stringValue, !type.isEmpty else { return nil }
        self.type = type
        var declared: Set<String> = []
        for (capability, enabled) in original["capabilities"]?.objectValue ?? [:] where enabled.boolValue == true {
            declared.insert(capability)
        }
        capabilities = declared
        var fields = original
        fields["name"] = .string(network)
        fields["cniVersion"] = .string(cniVersion)
        self.fields = fields
    }
}

/// What an ADD returned (CNI spec "Result"), kept raw for DEL's prevResult.
public struct CNIResult: Sendable, Equatable {
    public struct Address: Sendable, Equatable, Decodable {
        /// CIDR notation, e.g. 10.85.0.5/16.
        public var address: String
        public var gateway: String?

        /// The address without its prefix length.
        public var ip: String { String(address.split(separator: "/").first ?? "") }
    }

    /// The part of a result skiffd reads; everything else stays in `raw`.
    private struct Addresses: Decodable {
        var ips: [Address]?
    }

    public var raw: Data
    public var addresses: [Address]

    /// A result as a plugin printed it; throws when it is not a CNI result.
    init(raw: Data) throws(SkiffError) {
        self.raw = raw
        do {
            addresses = try JSONDecoder().decode(Addresses.self, from: raw).ips ?? []
        } catch {
            throw SkiffError(.internalError, "a CNI result is malformed: \(error)")
        }
    }
}
