import SkiffCommon

/// The runtimeConfig a pod gives the plugins that declare the capability, in the shapes the
/// CNI conventions document (portMappings, dns, bandwidth).
struct CNICapabilities {
    struct PortMapping: Encodable {
        var hostPort: Int32
        var containerPort: Int32
        var `protocol`: String
        var hostIP: String?
    }

    struct DNS: Encodable {
        var servers: [String]
        var searches: [String]
        var options: [String]
    }

    struct Bandwidth: Encodable {
        var ingressRate: UInt64?
        var ingressBurst: UInt64?
        var egressRate: UInt64?
        var egressBurst: UInt64?
    }

    var portMappings: [PortMapping]
    var dns: DNS?
    var bandwidth: Bandwidth?

    init(_ sandbox: PodSandbox) {
        // A mapping without a host port only documents the container port (the kubelet sends
        // those too); portmap refuses port 0, so only real host ports go to CNI, as in containerd.
        portMappings = sandbox.portMappings.filter { $0.hostPort > 0 }.map { mapping in
            PortMapping(
                hostPort: mapping.hostPort,
                containerPort: mapping.containerPort,
                protocol: mapping.protocol,
                hostIP: mapping.hostIP.isEmpty ? nil : mapping.hostIP
            )
        }
        dns = sandbox.dns.map { DNS(servers: $0.servers, searches: $0.searches, options: $0.options) }
        bandwidth = PodBandwidth(annotations: sandbox.annotations)?.runtimeConfig
    }

    /// By capability name, as the runner passes them.
    var values: [String: JSONValue] {
        var values: [String: JSONValue] = [:]
        // try!: these types have only strings and integers, whose encoding cannot fail.
        values["portMappings"] = try! JSONValue(encoding: portMappings)
        if let dns { values["dns"] = try! JSONValue(encoding: dns) }
        if let bandwidth { values["bandwidth"] = try! JSONValue(encoding: bandwidth) }
        return values
    }
}
