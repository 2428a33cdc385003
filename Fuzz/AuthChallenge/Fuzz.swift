// libFuzzer target: ImageCore's WWW-Authenticate parser (AuthChallenge(header:)), on what a
// registry answers a 401 with, and what the client then does with the challenge before any
// request: the realm's host (to decide whether the registry's TLS settings apply to the token
// service) and the token URL's form-encoded query.
//
// Besides not crashing: the scheme is lowercased and has no space, parameter names are
// lowercased, and the query percent-encodes every byte that is not unreserved.
@testable import ImageCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let header = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let challenge = AuthChallenge(header: header) else { return 0 }
    precondition(
        !challenge.scheme.isEmpty && !challenge.scheme.contains(" "),
        "scheme \(challenge.scheme.debugDescription)"
    )
    precondition(challenge.scheme == challenge.scheme.lowercased())
    for key in challenge.parameters.keys { precondition(key == key.lowercased(), "parameter \(key.debugDescription)") }

    if let realm = challenge.realm {
        let host = RegistryClient.host(of: realm)
        precondition(!host.contains("/") && !host.contains("?"))
        _ = RegistryClient.resolve(realm, against: "https://registry.example/v2/library/busybox/manifests/latest")
    }
    var query: [(String, String)] = []
    if let service = challenge.parameters["service"] { query.append(("service", service)) }
    query.append(("scope", challenge.parameters["scope"] ?? "repository:library/busybox:pull"))
    let encoded = RegistryClient.formEncode(query)
    precondition(
        encoded.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"), UInt8(ascii: "%"),
                UInt8(ascii: "="), UInt8(ascii: "&"):
                true
            default:
                false
            }
        },
        "the token query \(encoded) has a byte that needs encoding"
    )
    return 0
}
