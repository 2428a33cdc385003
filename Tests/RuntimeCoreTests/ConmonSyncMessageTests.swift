import Foundation
import SkiffCommon
import Testing

@testable import RuntimeCore

/// conmon's sync pipe: one JSON line per event, read as a typed message; anything else is an
/// error naming the line, never a pid of 0.
@Suite struct ConmonSyncMessageTests {
    static func read(_ text: String) async throws(SkiffError) -> (value: Int32, text: String) {
        var fds: [Int32] = [-1, -1]
        precondition(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let bytes = Array(text.utf8)
        _ = write(fds[1], bytes, bytes.count)
        close(fds[1])
        return try await ConmonMonitor.readSyncMessage(fds[0], deadline: .now + .seconds(5), id: "c1")
    }

    @Test func pidsAndFailuresAreRead() async throws {
        #expect(try await Self.read("{\"data\": 4321}\n") == (4321, ""))
        #expect(try await Self.read("{\"pid\": 99}\n") == (99, ""), "older conmons name it pid")
        let failed = try await Self.read(
            "{\"data\": -1, \"message\": \"runc create failed: no such file\"}\n{\"data\": 5}\n"
        )
        #expect(failed == (-1, "runc create failed: no such file"), "only the first line counts")
    }

    @Test(arguments: ["", "not json\n", "{\"data\": \"12\"}\n", "{\"message\": \"no pid\"}\n", "[1]\n"])
    func anythingElseIsAnErrorQuotingTheLine(_ line: String) async {
        let error = await #expect(throws: SkiffError.self) { try await Self.read(line) }
        #expect(error?.code == .internalError)
        #expect(
            error?.message.contains("conmon ended without reporting container c1") == true,
            "\(String(describing: error))"
        )
    }
}
