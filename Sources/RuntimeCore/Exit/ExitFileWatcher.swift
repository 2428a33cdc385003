import LinuxSys
import Logging
import SkiffCommon

/// conmon's exit directory, `<state_dir>/exits`: conmon writes `<id>` there with the exit code
/// when the process it monitors ends (a container's, or a pod's pause process), whether skiffd
/// runs then or not. One watch serves every owner: each registers a listener and is told of
/// every file, and callers can wait for one file.
///
/// The directory is watched with inotify; without it (its limits reached) it is polled every
/// `pollInterval`, and every poll is reported as `eventsLost`.
public actor ExitFileWatcher {
    public enum Notice: Sendable, Equatable {
        /// conmon wrote the exit file `name`; `awaited` when a caller waits for it (so it must
        /// stay, whoever it belongs to).
        case written(name: String, awaited: Bool)
        /// Events may have been lost (the watch overflowed, or there is none, or the watch just
        /// began): each listener looks at the exit files of what it owns.
        case eventsLost
    }

    public typealias Listener = @Sendable (Notice) async -> Void

    public nonisolated let directory: String
    private let pollInterval: Duration
    private let logger: Logger
    private var listeners: [Listener] = []
    private var watch: Task<Void, Never>?
    /// The inotify watch (nil when polling, or before `start`).
    private var directoryWatcher: DirectoryWatcher?
    /// Callers waiting for an exit file, by file name, then by waiter.
    private var waiters: [String: [Int: CheckedContinuation<Void, Never>]] = [:]
    private var nextWaiter = 0

    public init(directory: String, pollInterval: Duration = .milliseconds(100), logger: Logger) throws(SkiffError) {
        self.directory = directory
        self.pollInterval = pollInterval
        self.logger = logger
        do {
            try FileSystem.makeDirectories(directory, mode: 0o711)
        } catch {
            throw error.skiffError("cannot create \(directory)")
        }
    }

    /// Adds a listener; it is told `eventsLost` at once, so that it looks at files written
    /// before it listened.
    public func addListener(_ listener: @escaping Listener) async {
        listeners.append(listener)
        await listener(.eventsLost)
    }

    /// Starts watching (idempotent): files written from now on are reported to every listener.
    public func start() {
        guard watch == nil else { return }
        do {
            let watcher = try DirectoryWatcher(directory: directory)
            directoryWatcher = watcher
            // The task holds the stream, not the watcher: dropping the watcher ends the stream.
            let events = watcher.events
            watch = Task { [weak self] in
                await self?.eventsLost()
                for await event in events {
                    switch event {
                    case .file(let name): await self?.written(name)
                    case .overflow: await self?.eventsLost()
                    }
                }
            }
        } catch {
            logger.warning("cannot watch conmon's exit files; polling them instead", metadata: ["error": "\(error)"])
            let interval = pollInterval
            watch = Task { [weak self] in
                while !Task.isCancelled {
                    do {
                        try await Task.sleep(for: interval)
                    } catch {
                        return  // cancelled: shutdown
                    }
                    await self?.eventsLost()
                }
            }
        }
    }

    public func shutdown() {
        watch?.cancel()
        watch = nil
        directoryWatcher = nil
    }

    // MARK: Files

    public nonisolated func path(of name: String) -> String { directory + "/" + name }

    public nonisolated func exists(_ name: String) -> Bool { FileSystem.exists(path(of: name)) }

    /// The exit code conmon wrote, once it has.
    public nonisolated func exitCode(of name: String) -> Int32? {
        // try?: a file not there yet (or being written) has no exit code yet: nil says that.
        (try? FileSystem.readText(path(of: name))).flatMap { Int32($0.trimmingNewline) }
    }

    /// Removes the exit file `name`; a failure is logged (the file is read again, at worst,
    /// and removed by the sweep of the next start).
    public nonisolated func remove(_ name: String) {
        logger.logFailure(.warning, "cannot remove an exit file", metadata: ["file": "\(name)"]) {
            () throws(SystemCallError) in try FileSystem.removeIfPresent(path(of: name))
        }
    }

    /// The names in the directory.
    public nonisolated func names() -> [String] {
        FileSystem.directoryEntries(directory) ?? []
    }

    // MARK: Waiting

    /// Returns once conmon has written the exit file `name`, or at `deadline`.
    public func wait(for name: String, until deadline: ContinuousClock.Instant) async {
        if exists(name) { return }
        let token = nextWaiter
        nextWaiter += 1
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            waiters[name, default: [:]][token] = continuation
            Task { [weak self] in
                // try?: the sleep ends early only when cancelled, and then the waiter goes all the same.
                try? await Task.sleep(until: deadline)
                await self?.expire(name, token: token)
            }
        }
    }

    private func expire(_ name: String, token: Int) {
        guard let continuation = waiters[name]?.removeValue(forKey: token) else { return }
        if waiters[name]?.isEmpty == true { waiters[name] = nil }
        continuation.resume()
    }

    // MARK: Events

    private func written(_ name: String) async {
        let awaited = waiters[name] != nil
        for listener in listeners { await listener(.written(name: name, awaited: awaited)) }
        if let waiting = waiters.removeValue(forKey: name) {
            for continuation in waiting.values { continuation.resume() }
        }
    }

    private func eventsLost() async {
        for listener in listeners { await listener(.eventsLost) }
        for name in waiters.keys where exists(name) { await written(name) }
    }
}
