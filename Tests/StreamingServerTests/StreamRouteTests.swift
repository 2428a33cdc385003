import Testing

@testable import StreamingServer

/// The router: a pure function from the request URI to a kind and a token.
@Suite struct StreamRouteTests {
    @Test(arguments: [
        ("/exec/abc", StreamRoute(kind: .exec, token: "abc")),
        ("/attach/abc", StreamRoute(kind: .attach, token: "abc")),
        ("/portforward/abc", StreamRoute(kind: .portForward, token: "abc")),
        ("/exec/abc?command=sh&stdout=1", StreamRoute(kind: .exec, token: "abc")),
        ("exec/abc", StreamRoute(kind: .exec, token: "abc")),
        ("//exec//abc/", StreamRoute(kind: .exec, token: "abc")),
    ])
    func theServedPathsRoute(uri: String, route: StreamRoute) {
        #expect(StreamRoute(uri: uri) == route)
    }

    @Test(arguments: [
        "/", "", "/exec", "/exec/", "/exec/abc/def", "/run/abc", "/Exec/abc", "/portForward/abc", "/port-forward/abc",
        "?/exec/abc", "/exec?/abc", "/../exec/abc",
    ])
    func everythingElseHasNoRoute(uri: String) {
        #expect(StreamRoute(uri: uri) == nil)
    }

    @Test func eachKindOffersItsOwnProtocols() {
        #expect(StreamKind.exec.webSocketSubprotocols == ["v5.channel.k8s.io", "v4.channel.k8s.io"])
        #expect(StreamKind.attach.spdyVersions.first == "v4.channel.k8s.io")
        #expect(StreamKind.portForward.webSocketSubprotocols == ["SPDY/3.1+portforward.k8s.io"])
        #expect(StreamKind.portForward.spdyVersions == ["portforward.k8s.io"])
    }

    @Test func theServersPreferenceWinsAmongWhatTheClientOffers() {
        let served = StreamKind.exec.spdyVersions
        #expect(
            StreamRoute.choose(from: served, offered: ["v2.channel.k8s.io", "v4.channel.k8s.io"]) == "v4.channel.k8s.io"
        )
        #expect(StreamRoute.choose(from: served, offered: ["channel.k8s.io"]) == nil, "remotecommand v1 is not served")
        #expect(StreamRoute.choose(from: served, offered: []) == nil)
    }
}
