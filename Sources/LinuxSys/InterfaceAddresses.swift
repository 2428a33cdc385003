#if canImport(Glibc)
import Glibc
#endif

/// An address assigned to a network interface of the calling thread's network namespace.
public struct InterfaceAddress: Sendable, Equatable {
    public var interface: String
    /// Textual IPv4 or IPv6 address, without a prefix length.
    public var address: String
    public var isUp: Bool

    public init(interface: String, address: String, isUp: Bool) {
        self.interface = interface
        self.address = address
        self.isUp = isUp
    }
}

public enum InterfaceAddresses {
    /// The IPv4 and IPv6 addresses of the calling thread's network namespace (getifaddrs asks
    /// the kernel over a netlink socket made in that namespace): inside `NetworkNamespace.inside`,
    /// a pod's.
    public static func current() throws(SystemCallError) -> [InterfaceAddress] {
        var first: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&first) == 0 else { throw SystemCallError("getifaddrs", "", errno: errno) }
        defer { freeifaddrs(first) }
        var found: [InterfaceAddress] = []
        var cursor = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let socketAddress = entry.pointee.ifa_addr else { continue }
            let family = Int32(socketAddress.pointee.sa_family)
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            let converted: UnsafePointer<CChar>?
            switch family {
            case AF_INET:
                converted = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    var raw = address.pointee.sin_addr
                    return inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
                }
            case AF_INET6:
                converted = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    var raw = address.pointee.sin6_addr
                    return inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
                }
            default:
                continue
            }
            guard converted != nil else { continue }
            let up = entry.pointee.ifa_flags & UInt32(IFF_UP) != 0
            found.append(
                InterfaceAddress(
                    interface: String(cString: entry.pointee.ifa_name),
                    address: String(cString: text),
                    isUp: up
                )
            )
        }
        return found
    }

    /// `text` as inet_ntop writes it (so "fd00:0::5" and "fd00::5" compare equal); nil when it
    /// is not an IP address.
    public static func canonical(_ text: String) -> String? {
        var raw = in6_addr()
        var output = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        for family in [AF_INET, AF_INET6] where inet_pton(family, text, &raw) == 1 {
            guard inet_ntop(family, &raw, &output, socklen_t(output.count)) != nil else { return nil }
            return String(cString: output)
        }
        return nil
    }
}
