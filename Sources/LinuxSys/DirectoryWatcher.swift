import CLinuxShim

#if canImport(Glibc)
import Glibc
#endif

/// The names of files finished in one directory (closed after writing, or renamed into it), as
/// the kernel reports them (inotify), read by a thread of its own: a waiter learns of a new file
/// when it is written instead of looking for it every few milliseconds.
public final class DirectoryWatcher: Sendable {
    public enum Event: Sendable, Equatable {
        /// A file was written and closed, or moved in.
        case file(String)
        /// The kernel's queue overflowed and events were lost: look at the whole directory.
        case overflow
    }

    public let directory: String
    public let events: AsyncStream<Event>
    private let inotifyFD: Int32
    /// A pipe whose write end, closed when the watcher goes, wakes the reading thread.
    private let wakeFDs: (read: Int32, write: Int32)

    public init(directory: String) throws(SystemCallError) {
        self.directory = directory
        let fd = skiff_inotify_watch_directory(directory)
        guard fd >= 0 else { throw SystemCallError("inotify_add_watch", directory, errno: errno) }
        var pipe: [Int32] = [-1, -1]
        guard skiff_pipe_cloexec(&pipe) == 0 else {
            let error = errno
            close(fd)
            throw SystemCallError("pipe2", directory, errno: error)
        }
        inotifyFD = fd
        wakeFDs = (pipe[0], pipe[1])
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
        events = stream
        let reader = Reader(inotifyFD: fd, wakeFD: pipe[0], continuation: continuation)
        if DedicatedThread.start({ reader.run() }) != 0 {
            continuation.finish()
            close(pipe[0])
            close(fd)
        }
    }

    /// Closing the pipe's write end wakes the reading thread, which ends `events` and closes
    /// the other descriptors: dropping the watcher stops it.
    deinit {
        close(wakeFDs.write)
    }

    /// The blocking side, on its own thread until stopped.
    private struct Reader: Sendable {
        let inotifyFD: Int32
        let wakeFD: Int32
        let continuation: AsyncStream<Event>.Continuation

        func run() {
            defer {
                continuation.finish()
                close(inotifyFD)
                close(wakeFD)
            }
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                var fds = [
                    pollfd(fd: inotifyFD, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
                ]
                let ready = poll(&fds, 2, -1)
                if ready < 0 {
                    if errno == EINTR { continue }
                    return
                }
                if fds[1].revents != 0 { return }
                let count = buffer.withUnsafeMutableBytes { read(inotifyFD, $0.baseAddress, $0.count) }
                if count < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return
                }
                for event in Self.parse(buffer[0..<count]) { continuation.yield(event) }
            }
        }

        /// struct inotify_event records: wd (4), mask (4), cookie (4), len (4), then a name of
        /// `len` bytes padded with NULs.
        static func parse(_ bytes: ArraySlice<UInt8>) -> [Event] {
            var events: [Event] = []
            var offset = bytes.startIndex
            let header = Int(SKIFF_INOTIFY_EVENT_HEADER)
            func word(_ at: Int) -> UInt32 {
                UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3])
                    << 24
            }
            while offset + header <= bytes.endIndex {
                let mask = word(offset + 4)
                let length = Int(word(offset + 12))
                guard offset + header + length <= bytes.endIndex else { break }
                if mask & UInt32(SKIFF_IN_Q_OVERFLOW) != 0 {
                    events.append(.overflow)
                } else if length > 0 {
                    let name = bytes[(offset + header)..<(offset + header + length)].prefix { $0 != 0 }
                    events.append(.file(String(decoding: name, as: UTF8.self)))
                }
                offset += header + length
            }
            return events
        }
    }
}
