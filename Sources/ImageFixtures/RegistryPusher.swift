import AsyncHTTPClient
import Foundation
import ImageCore
import NIOCore

/// Pushes fixture images to a registry with the distribution API (monolithic blob uploads).
public struct RegistryPusher: Sendable {
    public let baseURL: String
    public let authorization: String?
    let client: HTTPClient

    /// `baseURL` like `http://127.0.0.1:5000`; `basicAuth` as (user, password).
    public init(baseURL: String, basicAuth: (String, String)? = nil, client: HTTPClient) {
        self.baseURL = baseURL
        self.client = client
        authorization = basicAuth.map { "Basic " + Data("\($0.0):\($0.1)".utf8).base64EncodedString() }
    }

    init(baseURL: String, authorization: String?, client: HTTPClient) {
        self.baseURL = baseURL
        self.client = client
        self.authorization = authorization
    }

    /// A pusher holding a Bearer token for `scope` from the token service the registry names in
    /// its 401 challenge.
    public func withBearerToken<Result: Sendable>(
        credentials: (String, String),
        scope: String,
        _ body: (RegistryPusher) async throws -> Result
    ) async throws -> Result {
        let probe = try await client.execute(HTTPClientRequest(url: "\(baseURL)/v2/"), timeout: .seconds(30))
        _ = try await probe.body.collect(upTo: 1 << 20)
        guard let header = probe.headers.first(name: "WWW-Authenticate"),
            let realm = Self.parameter("realm", in: header), let service = Self.parameter("service", in: header)
        else {
            throw PushError("the registry did not ask for a bearer token")
        }
        let query =
            "service=\(service)&scope=\(scope.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? scope)"
        var request = HTTPClientRequest(url: "\(realm)?\(query)")
        request.headers.add(
            name: "Authorization",
            value: "Basic " + Data("\(credentials.0):\(credentials.1)".utf8).base64EncodedString()
        )
        let response = try await client.execute(request, timeout: .seconds(30))
        let payload = try await response.body.collect(upTo: 1 << 20)
        let token = try JSONDecoder().decode(TokenResponse.self, from: Data(Array(buffer: payload))).token
        return try await body(RegistryPusher(baseURL: baseURL, authorization: "Bearer \(token)", client: client))
    }

    static func parameter(_ name: String, in header: String) -> String? {
        guard let range = header.range(of: "\(name)=\"") else { return nil }
        let rest = header[range.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }

    public func push(_ image: FixtureImage, repository: String, tag: String?) async throws {
        for (digest, bytes) in image.blobs { try await pushBlob(bytes, digest: digest, repository: repository) }
        try await pushManifest(
            image.manifest,
            mediaType: image.manifestMediaType,
            repository: repository,
            reference: tag ?? image.manifestDigest.description
        )
    }

    public func push(_ index: FixtureIndex, repository: String, tag: String) async throws {
        for entry in index.images {
            for (digest, bytes) in entry.image.blobs {
                try await pushBlob(bytes, digest: digest, repository: repository)
            }
            try await pushManifest(
                entry.image.manifest,
                mediaType: entry.image.manifestMediaType,
                repository: repository,
                reference: entry.image.manifestDigest.description
            )
        }
        try await pushManifest(index.index, mediaType: MediaType.ociIndex, repository: repository, reference: tag)
    }

    public func pushBlob(_ bytes: [UInt8], digest: Digest, repository: String) async throws {
        var start = HTTPClientRequest(url: "\(baseURL)/v2/\(repository)/blobs/uploads/")
        start.method = .POST
        authorize(&start)
        let started = try await client.execute(start, timeout: .seconds(60))
        _ = try await started.body.collect(upTo: 1 << 20)
        guard started.status.code == 202, let location = started.headers.first(name: "Location") else {
            throw PushError("upload start for \(repository) answered \(started.status.code)")
        }
        let uploadURL = location.hasPrefix("http") ? location : baseURL + location
        var put = HTTPClientRequest(url: uploadURL + (uploadURL.contains("?") ? "&" : "?") + "digest=\(digest)")
        put.method = .PUT
        put.headers.add(name: "Content-Type", value: "application/octet-stream")
        put.body = .bytes(ByteBuffer(bytes: bytes))
        authorize(&put)
        let done = try await client.execute(put, timeout: .seconds(600))
        _ = try await done.body.collect(upTo: 1 << 20)
        guard done.status.code == 201 else { throw PushError("blob \(digest) upload answered \(done.status.code)") }
    }

    public func pushManifest(_ bytes: [UInt8], mediaType: String, repository: String, reference: String) async throws {
        var put = HTTPClientRequest(url: "\(baseURL)/v2/\(repository)/manifests/\(reference)")
        put.method = .PUT
        put.headers.add(name: "Content-Type", value: mediaType)
        put.body = .bytes(ByteBuffer(bytes: bytes))
        authorize(&put)
        let done = try await client.execute(put, timeout: .seconds(60))
        let body = try await done.body.collect(upTo: 1 << 20)
        guard done.status.code == 201 else {
            throw PushError("manifest \(repository):\(reference) answered \(done.status.code): \(String(buffer: body))")
        }
    }

    private func authorize(_ request: inout HTTPClientRequest) {
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
    }
}

struct TokenResponse: Decodable {
    var token: String
}

public struct PushError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
