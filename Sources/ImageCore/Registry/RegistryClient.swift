import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import SkiffCommon

/// Speaks the OCI distribution protocol (v2) to registries and mirrors: authentication
/// (anonymous, Basic, Bearer tokens with caching), retries with backoff on 5xx and broken
/// connections, redirects followed by hand so credentials never leak to another host, and a
/// read timeout so a stalled transfer fails instead of hanging.
public final class RegistryClient: Sendable {
    static let userAgent = "skiff/\(SkiffVersion.current)"
    static let maxRedirects = 5

    let http: HTTPClient
    let settings: RegistrySettings
    let tokens = TokenCache()
    let logger: Logger

    public init(settings: RegistrySettings, logger: Logger) {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        // Skiff retries a failed connection itself (a few times, with backoff) and then tries the
        // next mirror; the client's own endless reconnecting would hide a dead registry.
        configuration.connectionPool.retryConnectionEstablishment = false
        let (seconds, attoseconds) = settings.stallTimeout.components
        configuration.timeout = .init(
            connect: .seconds(15),
            read: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        )
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.settings = settings
        self.logger = logger
    }

    public func shutdown() async {
        do {
            try await http.shutdown()
        } catch {
            logger.warning("the registry HTTP client did not shut down cleanly", metadata: ["error": "\(error)"])
        }
    }

    public func endpoints(for registry: String) -> [RegistryEndpoint] {
        RegistryEndpoint.endpoints(for: registry, settings: settings)
    }

    /// A GET on `/v2/<repository>/<path>` that answered 2xx; the caller consumes the body.
    func get(
        _ endpoint: RegistryEndpoint,
        repository: String,
        path: String,
        accept: [String] = [],
        credentials: RegistryCredentials?,
        deadline: Duration
    ) async throws(SkiffError) -> HTTPClientResponse {
        let scope = "repository:\(repository):pull"
        var url = "\(endpoint.baseURL)/v2/\(repository)/\(path)"
        var authorization = await tokens.authorization(host: endpoint.host, scope: scope, credentials: credentials)
        var triedAuthentication = false
        var redirects = 0
        var attempt = 1
        while true {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "User-Agent", value: Self.userAgent)
            if !accept.isEmpty { request.headers.add(name: "Accept", value: accept.joined(separator: ", ")) }
            if let authorization, Self.host(of: url) == endpoint.host {
                request.headers.add(name: "Authorization", value: authorization)
            }
            request.tlsConfiguration = endpoint.tlsConfiguration()
            let response: HTTPClientResponse
            do {
                response = try await http.execute(
                    request,
                    timeout: .nanoseconds(Int64(deadline.components.seconds) * 1_000_000_000)
                )
            } catch {
                let failure = Self.transportError(error, url: url)
                guard attempt < settings.maxAttempts, failure.code != .deadlineExceeded else { throw failure }
                logger.debug(
                    "registry request failed; retrying",
                    metadata: ["url": "\(url)", "attempt": "\(attempt)", "error": "\(error)"]
                )
                await backoff(attempt)
                attempt += 1
                continue
            }
            let status = response.status.code
            switch status {
            case 200..<300:
                return response
            case 301, 302, 303, 307, 308:
                await Self.discard(response)
                guard let location = response.headers.first(name: "Location"), redirects < Self.maxRedirects else {
                    throw SkiffError(
                        .unavailable,
                        "registry \(endpoint.host) redirected \(url) too often or without a Location"
                    )
                }
                redirects += 1
                url = Self.resolve(location, against: url)
            case 401 where !triedAuthentication:
                let challengeHeader = response.headers.first(name: "WWW-Authenticate") ?? ""
                await Self.discard(response)
                guard let challenge = AuthChallenge(header: challengeHeader) else {
                    throw SkiffError(
                        .permissionDenied,
                        "registry \(endpoint.host) refused \(repository) without saying how to authenticate"
                    )
                }
                authorization = try await authorize(
                    challenge,
                    host: endpoint.host,
                    scope: scope,
                    credentials: credentials,
                    endpoint: endpoint
                )
                triedAuthentication = true
            case 401, 403:
                let detail = await Self.errorDetail(response)
                let hint =
                    credentials?.isEmpty ?? true
                    ? " (no credentials were given; add an image pull secret)" : " with the given credentials"
                throw SkiffError(
                    .permissionDenied,
                    "registry \(endpoint.host) denied pulling \(repository)\(hint)\(detail)"
                )
            case 404:
                let detail = await Self.errorDetail(response)
                throw SkiffError(.notFound, "\(endpoint.host)/\(repository): \(path) not found\(detail)")
            case 408, 429, 500..<600:
                let detail = await Self.errorDetail(response)
                guard attempt < settings.maxAttempts else {
                    throw SkiffError(
                        .unavailable,
                        "registry \(endpoint.host) answered \(status) for \(url) \(attempt) times\(detail)"
                    )
                }
                logger.debug(
                    "registry answered \(status); retrying",
                    metadata: ["url": "\(url)", "attempt": "\(attempt)"]
                )
                await backoff(attempt)
                attempt += 1
            default:
                let detail = await Self.errorDetail(response)
                throw SkiffError(.unavailable, "registry \(endpoint.host) answered \(status) for \(url)\(detail)")
            }
        }
    }

    func backoff(_ attempt: Int) async {
        // try?: a cancelled pull ends at its next request, which sees the cancellation itself.
        try? await Task.sleep(for: .milliseconds(200 << (attempt - 1)))
    }

    static func transportError(_ error: any Error, url: String) -> SkiffError {
        if let client = error as? HTTPClientError {
            if client == .readTimeout {
                return SkiffError(
                    .deadlineExceeded,
                    "the transfer of \(url) stalled: no bytes within images.stall_timeout"
                )
            }
            if client == .deadlineExceeded {
                return SkiffError(.deadlineExceeded, "the transfer of \(url) took too long")
            }
        }
        return SkiffError(.unavailable, "cannot reach \(url)", cause: DescribedError(error))
    }

    static func discard(_ response: HTTPClientResponse) async {
        // try?: the body is drained only to free the connection; the status already said what failed.
        _ = try? await response.body.collect(upTo: 1 << 20)
    }

    /// The registry's own words from an error body (`{"errors":[{"code":…,"message":…}]}`), short.
    static func errorDetail(_ response: HTTPClientResponse) async -> String {
        // try?: the detail only adds to the status that is reported; a body that cannot be read adds nothing.
        guard let body = try? await response.body.collect(upTo: 64 << 10), body.readableBytes > 0 else { return "" }
        let text = String(buffer: body).prefix(300).replacingNewlines()
        return ": \(text)"
    }

    static func host(of url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://") else { return "" }
        let rest = url[schemeEnd.upperBound...]
        return String(rest.prefix { $0 != "/" && $0 != "?" })
    }

    static func resolve(_ location: String, against url: String) -> String {
        if location.hasPrefix("http://") || location.hasPrefix("https://") { return location }
        guard let schemeEnd = url.firstRange(of: "://") else { return location }
        let origin = url[..<schemeEnd.upperBound] + host(of: url)
        if location.hasPrefix("/") { return String(origin) + location }
        let base = url.prefix { $0 != "?" }
        let directory = base[..<(base.lastIndex(of: "/") ?? base.endIndex)]
        return "\(directory)/\(location)"
    }
}

extension Substring {
    func replacingNewlines() -> String {
        String(map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
