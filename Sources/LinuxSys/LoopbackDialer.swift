import CLinuxShim

#if canImport(Glibc)
import Glibc
#endif

/// Connects to a TCP port on the loopback address of another network namespace (a pod's), for
/// port-forward. A socket belongs to the namespace it was created in, so a dedicated thread
/// enters the pod's namespace only to create the sockets, returns to skiffd's own, and then
/// connects: no event loop or Swift concurrency thread ever changes namespace.
public enum LoopbackDialer {
    /// A connected, non-blocking, close-on-exec socket to 127.0.0.1:`port` (or [::1]:`port` when
    /// nothing listens on IPv4) in the namespace pinned at `networkNamespace` (skiffd's own when nil).
    public static func connect(
        port: UInt16,
        networkNamespace: String?,
        timeout: Duration = .seconds(10)
    ) async throws(SystemCallError) -> Int32 {
        let result: Result<Int32, SystemCallError> = await DedicatedThread.run {
            Result { () throws(SystemCallError) -> Int32 in
                try dial(port: port, networkNamespace: networkNamespace, timeout: timeout)
            }
        }
        return try result.get()
    }

    private static func dial(
        port: UInt16,
        networkNamespace: String?,
        timeout: Duration
    ) throws(SystemCallError) -> Int32 {
        let (v4, v6) = try sockets(in: networkNamespace)
        var failure: SystemCallError?
        for (fd, family) in [(v4, AF_INET), (v6, AF_INET6)] where fd >= 0 {
            if failure == nil || failure?.errno == ECONNREFUSED || failure?.errno == EADDRNOTAVAIL {
                do {
                    try connect(fd, family: family, port: port, timeout: timeout)
                    if fd == v4, v6 >= 0 { close(v6) }
                    return fd
                } catch {
                    failure = error
                }
            }
            close(fd)
        }
        throw failure ?? SystemCallError("socket", "localhost:\(port)", errno: EAFNOSUPPORT)
    }

    /// An IPv4 and (where the namespace has IPv6) an IPv6 TCP socket created in the namespace.
    private static func sockets(in networkNamespace: String?) throws(SystemCallError) -> (Int32, Int32) {
        let create = { () throws(SystemCallError) -> (Int32, Int32) in
            let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
            let v4 = socket(AF_INET, type, 0)
            let v4Error = errno
            let v6 = socket(AF_INET6, type, 0)
            guard v4 >= 0 || v6 >= 0 else {
                throw SystemCallError("socket", networkNamespace ?? "host network", errno: v4Error)
            }
            return (v4, v6)
        }
        guard let networkNamespace else { return try create() }
        return try NetworkNamespace.inside(networkNamespace, create)
    }

    private static func connect(_ fd: Int32, family: Int32, port: UInt16, timeout: Duration) throws(SystemCallError) {
        let target = family == AF_INET ? "127.0.0.1:\(port)" : "[::1]:\(port)"
        var result: Int32
        if family == AF_INET {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        } else {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            address.sin6_addr.__in6_u.__u6_addr8.15 = 1
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
        if result == 0 { return }
        guard errno == EINPROGRESS else { throw SystemCallError("connect", target, errno: errno) }
        let (seconds, attoseconds) = timeout.components
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        var ready: Int32
        repeat {
            ready = poll(&poller, 1, Int32(seconds * 1000 + attoseconds / 1_000_000_000_000_000))
        } while ready < 0 && errno == EINTR
        guard ready > 0 else { throw SystemCallError("connect", target, errno: ready == 0 ? ETIMEDOUT : errno) }
        var socketError: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &length)
        guard socketError == 0 else { throw SystemCallError("connect", target, errno: socketError) }
    }
}
