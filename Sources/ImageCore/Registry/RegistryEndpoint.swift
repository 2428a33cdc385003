import NIOSSL

/// One place a registry's content can be fetched from: the registry itself or a mirror.
public struct RegistryEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var scheme: String
    /// host[:port] to connect to.
    public var host: String
    /// Path prefix before `/v2/` (mirrors may sit below a path).
    public var pathPrefix: String
    /// Extra CA certificates (PEM file) trusted for this endpoint.
    public var caFile: String?
    public var isMirror: Bool

    public var baseURL: String { "\(scheme)://\(host)\(pathPrefix)" }
    public var description: String { baseURL }

    /// Where `registry` (as image references name it) is served from, in the order to try:
    /// its mirrors, then the registry itself.
    public static func endpoints(for registry: String, settings: RegistrySettings) -> [RegistryEndpoint] {
        let hostSettings = settings.registries[registry]
        var endpoints: [RegistryEndpoint] = []
        for mirror in hostSettings?.mirrors ?? [] {
            if let endpoint = parse(mirror: mirror, settings: settings) { endpoints.append(endpoint) }
        }
        let upstreamHost = registry == "docker.io" ? "registry-1.docker.io" : registry
        let caFile = hostSettings?.caFile ?? ""
        // Loopback registries speak plain HTTP unless a CA file says they use TLS.
        let plain = hostSettings?.insecure == true || (isLoopback(registry) && caFile.isEmpty)
        endpoints.append(
            RegistryEndpoint(
                scheme: plain ? "http" : "https",
                host: upstreamHost,
                pathPrefix: "",
                caFile: hostSettings?.caFile.isEmpty == false ? hostSettings?.caFile : nil,
                isMirror: false
            )
        )
        return endpoints
    }

    static func parse(mirror: String, settings: RegistrySettings) -> RegistryEndpoint? {
        var text = Substring(mirror)
        var scheme: String?
        if text.hasPrefix("https://") {
            scheme = "https"
            text = text.dropFirst(8)
        } else if text.hasPrefix("http://") {
            scheme = "http"
            text = text.dropFirst(7)
        }
        let host = String(text.prefix { $0 != "/" })
        guard !host.isEmpty else { return nil }
        var path = String(text.dropFirst(host.count))
        while path.hasSuffix("/") { path.removeLast() }
        let mirrorSettings = settings.registries[host]
        let plain =
            scheme == "http"
            || (scheme == nil
                && (mirrorSettings?.insecure == true || (isLoopback(host) && (mirrorSettings?.caFile ?? "").isEmpty)))
        return RegistryEndpoint(
            scheme: plain ? "http" : "https",
            host: host,
            pathPrefix: path,
            caFile: mirrorSettings?.caFile.isEmpty == false ? mirrorSettings?.caFile : nil,
            isMirror: true
        )
    }

    /// localhost and loopback registries are always spoken to over plain HTTP, as containerd and
    /// cri-o do.
    static func isLoopback(_ hostAndPort: String) -> Bool {
        let host: Substring
        if hostAndPort.hasPrefix("[") {
            host = hostAndPort.dropFirst().prefix { $0 != "]" }
        } else {
            host = hostAndPort.split(separator: ":", maxSplits: 1).first ?? Substring(hostAndPort)
        }
        return host == "localhost" || host.hasPrefix("127.") || host == "::1"
    }

    /// TLS for this endpoint: the system's CAs plus the configured CA file.
    func tlsConfiguration() -> TLSConfiguration? {
        guard scheme == "https", let caFile else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.additionalTrustRoots = [.file(caFile)]
        return tls
    }
}

/// The image settings of the daemon configuration that the registry client needs.
public struct RegistrySettings: Sendable {
    public struct Host: Sendable {
        public var mirrors: [String]
        public var insecure: Bool
        public var caFile: String

        public init(mirrors: [String] = [], insecure: Bool = false, caFile: String = "") {
            self.mirrors = mirrors
            self.insecure = insecure
            self.caFile = caFile
        }
    }

    public var registries: [String: Host]
    /// A transfer with no bytes for this long fails instead of hanging.
    public var stallTimeout: Duration
    public var maxAttempts: Int

    public init(registries: [String: Host] = [:], stallTimeout: Duration = .seconds(60), maxAttempts: Int = 3) {
        self.registries = registries
        self.stallTimeout = stallTimeout
        self.maxAttempts = maxAttempts
    }
}
