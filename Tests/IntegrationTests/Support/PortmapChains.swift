import Foundation
import Glibc

/// Debian's portmap creates node-wide nat chains (CNI-HOSTPORT-*) on its first ADD and never
/// removes them. A test with a portmap network runs inside `whileInUse`, which holds a shared
/// flock(2) on scripts/remove-portmap-chains.sh; when it ends it runs that script, which removes
/// the chains only if it can lock the file exclusively, that is once no test of this or another
/// `swift test` process still runs one. The last to end removes them; none removes them from
/// under another's ADD.
enum PortmapChains {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
            "scripts/remove-portmap-chains.sh"
        ).path

    static func whileInUse<T>(_ body: () async throws -> T) async throws -> T {
        let lock = open(script, O_RDONLY | O_CLOEXEC)
        guard lock >= 0 else {
            throw CocoaError(.fileReadNoPermission, userInfo: [NSFilePathErrorKey: script])
        }
        do {
            // Not a blocking flock: the script may hold the file for the few iptables calls it
            // makes, and a blocked thread would hold up the other tests' tasks meanwhile.
            while flock(lock, LOCK_SH | LOCK_NB) != 0 {
                guard errno == EWOULDBLOCK else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
                try await Task.sleep(for: .milliseconds(5))
            }
            let result = try await body()
            release(lock)
            return result
        } catch {
            release(lock)
            throw error
        }
    }

    private static func release(_ lock: Int32) {
        close(lock)
        _ = ChaosTests.command("/bin/bash", [script])
    }
}
