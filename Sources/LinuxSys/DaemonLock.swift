#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` on a file holding the owner's pid: one skiffd per root and state dir.
///
/// The kernel drops the lock when the process dies, even by SIGKILL, so a stale file never
/// blocks a restart; the pid inside only names the holder in the error a second daemon prints.
public final class DaemonLock: Sendable {
    public let path: String
    private let descriptor: Int32

    /// Takes the lock or throws ``LockError/heldBy(pid:path:)``.
    public init(path: String) throws(LockError) {
        self.path = path
        let fd: Int32
        do {
            fd = try systemCall("open", path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
        } catch {
            throw .cannotOpen(error)
        }
        do {
            try systemCall("flock", path) { flock(fd, LOCK_EX | LOCK_NB) }
        } catch {
            let holder = Self.readPid(fd)
            close(fd)
            if error.errno == EWOULDBLOCK { throw .heldBy(pid: holder, path: path) }
            throw .cannotOpen(error)
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        descriptor = fd
    }

    deinit {
        // Truncate first so a reader never sees our pid after we let go.
        _ = ftruncate(descriptor, 0)
        close(descriptor)
    }

    private static func readPid(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count], as: UTF8.self)
        return Int32(text.split(whereSeparator: \.isWhitespace).first ?? "")
    }

    public enum LockError: Error, Sendable, CustomStringConvertible {
        case heldBy(pid: Int32?, path: String)
        case cannotOpen(SystemCallError)

        public var description: String {
            switch self {
            case .heldBy(let pid?, let path):
                "another skiffd (pid \(pid)) holds \(path); stop it first or give this one another root_dir and state_dir"
            case .heldBy(nil, let path):
                "another skiffd holds \(path); stop it first or give this one another root_dir and state_dir"
            case .cannotOpen(let error):
                "cannot open the lock file: \(error)"
            }
        }
    }
}
