/// The three kinds of stream the server serves, as the URL's first path segment names them.
enum StreamKind: String, CaseIterable, Sendable {
    case exec
    case attach
    case portForward = "portforward"

    /// The WebSocket subprotocols this kind is served with, preferred first.
    var webSocketSubprotocols: [String] {
        self == .portForward ? [WebSocketTunnel.subprotocol] : StreamingHTTPServer.subprotocols
    }

    /// The `X-Stream-Protocol-Version`s this kind is served with over SPDY/3.1, newest first;
    /// remotecommand v2 and v3 differ from v4 only in the error stream's content (text).
    var spdyVersions: [String] {
        self == .portForward ? ["portforward.k8s.io"] : ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io"]
    }
}

/// Where an upgrade request goes: `/{kind}/{token}` (a query is ignored), nothing else. A pure
/// function of the request URI; whether the token is good is the token cache's to say.
struct StreamRoute: Equatable, Sendable {
    var kind: StreamKind
    var token: String

    init(kind: StreamKind, token: String) {
        self.kind = kind
        self.token = token
    }

    /// nil for every URI that is not exactly two segments, the first a kind served.
    init?(uri: String) {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let parts = path.split(separator: "/")
        guard parts.count == 2, let kind = StreamKind(rawValue: String(parts[0])) else { return nil }
        self.init(kind: kind, token: String(parts[1]))
    }

    /// The protocol to answer with: the first of those served for this kind that the client
    /// offered (`served` is preference-ordered), nil when none is.
    static func choose(from served: [String], offered: [String]) -> String? {
        served.first(where: offered.contains)
    }
}
