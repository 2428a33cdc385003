import CLinuxShim

#if canImport(Glibc)
import Glibc
#endif

/// Work done inside another network namespace (a pod's) by the calling thread: it enters the
/// namespace pinned at a path, runs `body`, and returns to its own. setns changes only the
/// calling thread, so callers run this on a `DedicatedThread`, never on an event-loop or Swift
/// concurrency thread. Sockets created inside stay in the pod's namespace; /proc/thread-self/net
/// shows the pod's interfaces.
public enum NetworkNamespace {
    private static let cloneNewNet: Int32 = 0x4000_0000

    public static func inside<T>(_ path: String, _ body: () throws(SystemCallError) -> T) throws(SystemCallError) -> T {
        let origin = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard origin >= 0 else { throw SystemCallError("open", "/proc/thread-self/ns/net", errno: errno) }
        defer { close(origin) }
        let target = open(path, O_RDONLY | O_CLOEXEC)
        guard target >= 0 else { throw SystemCallError("open", path, errno: errno) }
        let entered = skiff_setns(target, cloneNewNet)
        let error = errno
        close(target)
        guard entered == 0 else { throw SystemCallError("setns", path, errno: error) }
        // Back to skiffd's own namespace whatever body did, so that nothing this thread runs
        // later lands in the pod.
        defer { _ = skiff_setns(origin, cloneNewNet) }
        return try body()
    }
}
