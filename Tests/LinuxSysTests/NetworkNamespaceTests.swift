import Foundation
import Testing
@testable import LinuxSys

/// Entering a network namespace on a dedicated thread, against a namespace made for the test
/// with `ip netns add` (only `lo` inside, and down).
@Suite struct NetworkNamespaceTests {
    static func ip(_ arguments: [String]) async throws {
        let result = try await ChildProcess.run("/usr/sbin/ip", arguments: arguments, timeout: .seconds(10))
        guard result.status == 0 else { throw SystemCallError("ip", arguments.joined(separator: " "), errno: EIO) }
    }

    @Test func aDedicatedThreadSeesTheNamespacesInterfacesAndReturnsToItsOwn() async throws {
        let name = "sktns\(UInt32.random(in: 0..<UInt32.max) % 100_000)"
        try await Self.ip(["netns", "add", name])
        // Nothing below throws before the namespace is deleted again.
        do {
            let (inside, afterwards) = await DedicatedThread.run { () -> (String, String) in
                let inside = (try? NetworkNamespace.inside("/run/netns/\(name)") { () throws(SystemCallError) in
                    try FileSystem.readBytes("/proc/thread-self/net/dev")
                }).map { String(decoding: $0, as: UTF8.self) } ?? ""
                let afterwards = (try? FileSystem.readBytes("/proc/thread-self/net/dev")).map { String(decoding: $0, as: UTF8.self) } ?? ""
                return (inside, afterwards)
            }
            let host = (try? FileSystem.readBytes("/proc/thread-self/net/dev")).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let interfaces = { (text: String) in text.split(separator: "\n").dropFirst(2).compactMap { $0.split(separator: ":").first?.trimmingCharacters(in: .whitespaces) } }
            #expect(interfaces(inside) == ["lo"], "\(inside)")
            #expect(interfaces(afterwards) == interfaces(host) && interfaces(host).count > 1, "the thread came back: \(afterwards)")
            #expect(throws: SystemCallError.self) { try NetworkNamespace.inside("/run/netns/\(name)-missing") { 0 } }
        }
        try await Self.ip(["netns", "delete", name])
    }
}
