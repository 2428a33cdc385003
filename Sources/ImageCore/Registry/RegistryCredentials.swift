import SkiffCommon

/// What a pull may authenticate with, from PullImageRequest.auth (the kubelet's image pull
/// secrets): a user and password, or tokens.
public struct RegistryCredentials: Sendable, Equatable {
    public var username: String
    public var password: String
    /// An OAuth2 refresh token, exchanged at the token realm for an access token.
    public var identityToken: String
    /// A bearer token sent as is.
    public var registryToken: String

    public init(username: String = "", password: String = "", identityToken: String = "", registryToken: String = "") {
        self.username = username
        self.password = password
        self.identityToken = identityToken
        self.registryToken = registryToken
    }

    /// Builds credentials from the CRI AuthConfig fields; `auth` is base64("user:password").
    public init(
        username: String,
        password: String,
        auth: String,
        identityToken: String,
        registryToken: String
    ) throws(SkiffError) {
        var user = username
        var secret = password
        if !auth.isEmpty {
            guard let decoded = Base64.decode(auth), let text = String(validating: decoded, as: UTF8.self),
                let colon = text.firstIndex(of: ":")
            else {
                throw .invalidArgument("auth.auth must be base64 of \"username:password\"")
            }
            user = String(text[..<colon])
            secret = String(text[text.index(after: colon)...])
        }
        self.init(username: user, password: secret, identityToken: identityToken, registryToken: registryToken)
    }

    public var isEmpty: Bool { username.isEmpty && password.isEmpty && identityToken.isEmpty && registryToken.isEmpty }

    var basicAuthorization: String? {
        guard !username.isEmpty || !password.isEmpty else { return nil }
        return "Basic " + Base64.encode(Array("\(username):\(password)".utf8))
    }
}

/// Standard base64 (RFC 4648) without Foundation.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
            for position in 0..<4 {
                if position <= chunk.count {
                    out.append(alphabet[Int((value >> (18 - 6 * UInt32(position))) & 63)])
                } else {
                    out.append(UInt8(ascii: "="))
                }
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        var lookup = [UInt8: UInt32]()
        for (index, byte) in alphabet.enumerated() { lookup[byte] = UInt32(index) }
        lookup[UInt8(ascii: "-")] = 62
        lookup[UInt8(ascii: "_")] = 63
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in text.utf8 where byte != UInt8(ascii: "=") && byte != UInt8(ascii: "\n") {
            guard let value = lookup[byte] else { return nil }
            buffer = buffer << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((buffer >> UInt32(bits)) & 0xFF))
            }
        }
        return out
    }
}
