import AsyncHTTPClient
import FoundationEssentials
import NIOCore
import SkiffCommon

/// Bearer tokens by registry host, scope and identity, kept until shortly before they expire.
actor TokenCache {
    private struct Entry {
        var authorization: String
        var expires: ContinuousClock.Instant
    }

    private var entries: [String: Entry] = [:]

    static func key(host: String, scope: String, credentials: RegistryCredentials?) -> String {
        "\(host)|\(scope)|\(credentials?.username ?? "")|\(credentials?.identityToken.isEmpty == false ? "identity" : "")"
    }

    func authorization(host: String, scope: String, credentials: RegistryCredentials?) -> String? {
        let key = Self.key(host: host, scope: scope, credentials: credentials)
        guard let entry = entries[key] else { return nil }
        if entry.expires <= .now {
            entries[key] = nil
            return nil
        }
        return entry.authorization
    }

    func store(
        _ authorization: String,
        host: String,
        scope: String,
        credentials: RegistryCredentials?,
        lifetime: Duration
    ) {
        entries[Self.key(host: host, scope: scope, credentials: credentials)] = Entry(
            authorization: authorization,
            expires: .now + lifetime
        )
    }
}

extension RegistryClient {
    /// Answers a 401 challenge with the Authorization header to retry with.
    func authorize(
        _ challenge: AuthChallenge,
        host: String,
        scope: String,
        credentials: RegistryCredentials?,
        endpoint: RegistryEndpoint
    ) async throws(SkiffError) -> String {
        switch challenge.scheme {
        case "basic":
            guard let basic = credentials?.basicAuthorization else {
                throw SkiffError(
                    .permissionDenied,
                    "registry \(host) requires a username and password (add an image pull secret)"
                )
            }
            await tokens.store(basic, host: host, scope: scope, credentials: credentials, lifetime: .seconds(3600))
            return basic
        case "bearer":
            if let token = credentials?.registryToken, !token.isEmpty {
                return "Bearer \(token)"
            }
            guard let realm = challenge.realm, realm.hasPrefix("https://") || realm.hasPrefix("http://") else {
                throw SkiffError(.permissionDenied, "registry \(host) asked for a bearer token without a usable realm")
            }
            let (token, lifetime) = try await fetchToken(
                realm: realm,
                service: challenge.parameters["service"],
                scope: challenge.parameters["scope"] ?? scope,
                credentials: credentials,
                endpoint: endpoint
            )
            let authorization = "Bearer \(token)"
            // Renew a little early so a token never expires mid-request.
            let margin = min(Duration.seconds(10), lifetime / 2)
            await tokens.store(
                authorization,
                host: host,
                scope: scope,
                credentials: credentials,
                lifetime: lifetime - margin
            )
            return authorization
        default:
            throw SkiffError(
                .permissionDenied,
                "registry \(host) asked for unsupported authentication \"\(challenge.scheme)\""
            )
        }
    }

    private struct TokenResponse: Decodable {
        var token: String?
        var accessToken: String?
        var expiresIn: Int?

        enum CodingKeys: String, CodingKey {
            case token
            case accessToken = "access_token"
            case expiresIn = "expires_in"
        }
    }

    /// Docker's token protocol: GET the realm with service and scope (Basic auth if there are
    /// credentials), or the OAuth2 refresh-token POST for an identity token.
    func fetchToken(
        realm: String,
        service: String?,
        scope: String,
        credentials: RegistryCredentials?,
        endpoint: RegistryEndpoint
    ) async throws(SkiffError) -> (String, Duration) {
        var query: [(String, String)] = []
        if let service { query.append(("service", service)) }
        query.append(("scope", scope))
        var request: HTTPClientRequest
        if let identity = credentials?.identityToken, !identity.isEmpty {
            request = HTTPClientRequest(url: realm)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            let form = query + [("grant_type", "refresh_token"), ("refresh_token", identity), ("client_id", "skiff")]
            request.body = .bytes(ByteBuffer(string: Self.formEncode(form)))
        } else {
            request = HTTPClientRequest(url: realm + (realm.contains("?") ? "&" : "?") + Self.formEncode(query))
            if let basic = credentials?.basicAuthorization { request.headers.add(name: "Authorization", value: basic) }
        }
        request.headers.add(name: "User-Agent", value: Self.userAgent)
        if Self.host(of: realm) == endpoint.host { request.tlsConfiguration = endpoint.tlsConfiguration() }
        let body: ByteBuffer
        do {
            let response = try await http.execute(request, timeout: .seconds(60))
            body = try await response.body.collect(upTo: 1 << 20)
            guard response.status.code == 200 else {
                throw SkiffError(
                    .permissionDenied,
                    "the token service \(realm) answered \(response.status.code) for \(scope)"
                )
            }
        } catch let error as SkiffError {
            throw error
        } catch {
            throw Self.transportError(error, url: realm)
        }
        let decoded: TokenResponse
        do {
            decoded = try JSONDecoder().decode(TokenResponse.self, from: Data(Array(buffer: body)))
        } catch {
            throw SkiffError(
                .permissionDenied,
                "the token service \(realm) did not return a token",
                cause: DescribedError(error)
            )
        }
        guard let token = decoded.token ?? decoded.accessToken, !token.isEmpty else {
            throw SkiffError(.permissionDenied, "the token service \(realm) did not return a token")
        }
        return (token, .seconds(max(decoded.expiresIn ?? 60, 60)))
    }

    static func formEncode(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
    }

    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (byte < 16 ? "0" : "") + hex
            }
        }
        return out
    }
}
