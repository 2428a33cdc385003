import NIOCore
import NIOHTTP1

/// SPDY/3.1 upgrades (POST with `Upgrade: SPDY/3.1`): exec and attach with the remotecommand
/// version negotiated through `X-Stream-Protocol-Version`, port-forward with
/// `portforward.k8s.io`. The token is claimed while the 101 response is built; a refusal fails
/// that step, and NIO passes the request on to the 404 responder.
struct SPDYUpgrader: HTTPServerProtocolUpgrader, Sendable {
    /// The connection's upgrade, whose claim the last step installs.
    let connectionUpgrade: StreamUpgrade
    let supportedProtocol = "SPDY/3.1"
    let requiredUpgradeHeaders: [String] = []

    struct Refused: Error {}

    func buildUpgradeResponse(
        channel: Channel,
        upgradeRequest: HTTPRequestHead,
        initialResponseHeaders: HTTPHeaders
    ) -> EventLoopFuture<HTTPHeaders> {
        connectionUpgrade.claim(
            upgradeRequest,
            offeredIn: "X-Stream-Protocol-Version",
            served: { $0.spdyVersions },
            on: channel.eventLoop
        ).flatMapThrowing { chosen in
            guard let chosen else { throw Refused() }
            var headers = initialResponseHeaders
            headers.add(name: "X-Stream-Protocol-Version", value: chosen)
            return headers
        }
    }

    func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
        connectionUpgrade.install(on: context.channel, webSocket: false)
    }
}
