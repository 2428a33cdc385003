import Testing

@testable import ImageCore

/// Inputs found by the WWW-Authenticate fuzz target (Fuzz/AuthChallenge).
@Suite struct AuthChallengeTests {
    /// U+0601 is a prepended mark: with the character after it, space or quote, it forms one
    /// grapheme cluster, so a parser that compares Characters never saw that delimiter.
    @Test func delimitersAfterAPrependedMarkStillDelimit() {
        let scheme = AuthChallenge(header: "Bearer\u{601} realm=\"r\"")
        #expect(scheme?.scheme == "bearer\u{601}", "the scheme ends at the space")
        #expect(scheme?.realm == "r")

        let quoted = AuthChallenge(header: "Bearer realm=\"https://auth.example/\u{601}\",service=\"registry\"")
        #expect(quoted?.realm == "https://auth.example/\u{601}", "the value ends at the closing quote")
        #expect(quoted?.parameters["service"] == "registry")
    }
}
