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
        // Named by this test process, so that a namespace a crashed run left (its defer never
        // ran) is found and deleted by the next run: its process is gone.
        for stale in (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        where stale.hasPrefix("sktns-") {
            guard let pid = Int32(stale.dropFirst("sktns-".count)), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try await Self.ip(["netns", "delete", stale])
        }
        let name = "sktns-\(getpid())"
        try await Self.ip(["netns", "add", name])
        // Nothing below throws before the namespace is deleted again.
        do {
            let (inside, afterwards) = await DedicatedThread.run { () -> (String, String) in
                let inside =
                    (try? NetworkNamespace.inside("/run/netns/\(name)") { () throws(SystemCallError) in
                        try FileSystem.readBytes("/proc/thread-self/net/dev")
                    }).map { String(decoding: $0, as: UTF8.self) } ?? ""
                // The namespace the thread is in afterwards (its identity, not its interfaces,
                // which other suites' bridges and veths change meanwhile).
                let afterwards = (try? FileSystem.readLink("/proc/thread-self/ns/net")) ?? ""
                return (inside, afterwards)
            }
            let host = (try? FileSystem.readLink("/proc/self/ns/net")) ?? "unknown"
            let interfaces = { (text: String) in
                text.split(separator: "\n").dropFirst(2).compactMap {
                    $0.split(separator: ":").first?.trimmingCharacters(in: .whitespaces)
                }
            }
            #expect(interfaces(inside) == ["lo"], "\(inside)")
            #expect(afterwards == host, "the thread came back to \(host): \(afterwards)")
            #expect(throws: SystemCallError.self) { try NetworkNamespace.inside("/run/netns/\(name)-missing") { 0 } }
        }
        try await Self.ip(["netns", "delete", name])
    }
}
