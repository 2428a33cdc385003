import FoundationEssentials
import LinuxSys
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Attach: a connection to conmon's attach socket (`<state_dir>/attach/<id>/attach`, a
/// SOCK_SEQPACKET socket conmon makes for every container). conmon sends each chunk of output
/// with a leading byte (2 stdout, 3 stderr) to every attached client and writes what a client
/// sends to the container's stdin. Resizes go through the `ctl` fifo.
extension ExecService {
    public struct AttachConnection: Sendable {
        /// Connected, blocking; owned by the caller.
        public var socket: Int32
        public var tty: Bool
        public var stdin: Bool
    }

    /// Checks what Attach may do for the container (it runs; stdin only when it was created
    /// with stdin), without connecting yet.
    public func validateAttach(_ id: String, stdin: Bool) async throws(SkiffError) -> Container {
        let container = try await containers.running(id, toAllow: "attach to it")
        if stdin && !container.stdin {
            throw SkiffError.invalidArgument(
                "container \(container.id) was created without stdin; attach without stdin"
            )
        }
        return container
    }

    public func connectAttach(_ id: String, stdin: Bool) async throws(SkiffError) -> AttachConnection {
        let container = try await validateAttach(id, stdin: stdin)
        let path = "\(containers.socketDirectory)/\(container.id)/attach"
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw SkiffError(
                .internalError,
                "cannot create a socket for attach",
                cause: SystemCallError("socket", path, errno: errno)
            )
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw SkiffError(
                .failedPrecondition,
                "the attach socket path \(path) is too long for a unix socket; use a shorter state_dir"
            )
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let error = SystemCallError("connect", path, errno: errno)
            close(fd)
            throw SkiffError(
                .failedPrecondition,
                "the monitor of container \(container.id) does not accept attach connections",
                cause: error
            )
        }
        return AttachConnection(socket: fd, tty: container.tty, stdin: stdin)
    }

    /// A resize from a stream (which has nobody to answer): a failure is logged.
    public func resizeTerminalLoggingFailure(_ id: String, width: UInt16, height: UInt16) async {
        do {
            try await resizeTerminal(id, width: width, height: height)
        } catch {
            logger.info("cannot resize a container's terminal", metadata: ["id": "\(id)", "error": "\(error)"])
        }
    }

    /// Resizes the container's terminal through conmon's control fifo.
    public func resizeTerminal(_ id: String, width: UInt16, height: UInt16) async throws(SkiffError) {
        let container = try await containers.container(id)
        try ConmonMonitor.writeControl("1 \(height) \(width)\n", bundle: containers.bundleDirectory(of: container.id))
    }
}
