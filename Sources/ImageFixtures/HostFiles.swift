import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A host file copied into an image. This is how the critest images get what busybox lacks
/// without a package manager: a dynamically linked busybox's libraries (so its applets run as
/// real processes), procps' `pgrep`, util-linux's `ipcs`, a setuid helper.
public struct HostFile: Sendable, Equatable {
    /// The file on the host; a symlink is followed (the image gets a regular file).
    public var source: String
    /// The path in the image, without a leading slash.
    public var destination: String
    /// Permission bits including setuid/setgid/sticky; nil keeps the host file's.
    public var mode: UInt32?

    public init(source: String, destination: String? = nil, mode: UInt32? = nil) {
        self.source = source
        self.destination = String((destination ?? source).drop { $0 == "/" })
        self.mode = mode
    }

    /// Parses `SOURCE[:DESTINATION[:MODE]]`, MODE in octal (`4755`); DESTINATION defaults to
    /// SOURCE, so `/lib/x86_64-linux-gnu/libc.so.6` lands at the same path in the image.
    public init(parsing spec: String) throws(PushError) {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count), !parts[0].isEmpty else {
            throw PushError("host file \"\(spec)\" is not SOURCE[:DESTINATION[:MODE]]")
        }
        let destination = parts.count > 1 && !parts[1].isEmpty ? parts[1] : parts[0]
        var mode: UInt32?
        if parts.count == 3 {
            guard let parsed = UInt32(parts[2], radix: 8), parsed <= 0o7777 else {
                throw PushError("host file \"\(spec)\": mode \"\(parts[2])\" is not octal permission bits")
            }
            mode = parsed
        }
        self.init(source: parts[0], destination: destination, mode: mode)
        guard !self.destination.isEmpty, !self.destination.split(separator: "/").contains("..") else {
            throw PushError("host file \"\(spec)\": destination must be a path inside the image")
        }
    }

    /// Reads the file (following symlinks) and its permission bits.
    func read() throws(PushError) -> (bytes: [UInt8], mode: UInt32) {
        var info = stat()
        guard stat(source, &info) == 0 else {
            throw PushError("host file \(source): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw PushError("host file \(source) is not a regular file") }
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: source))
        } catch {
            throw PushError("host file \(source): \(error)")
        }
        return (Array(bytes), mode ?? UInt32(info.st_mode) & 0o7777)
    }
}

extension BusyboxImages {
    /// A layer of host files at their destinations, with every parent directory (0755, root)
    /// written first so the layer unpacks into an empty root.
    public static func hostFilesLayer(_ files: [HostFile]) throws(PushError) -> FixtureImage.Layer {
        var tar = TarBuilder()
        var written: Set<String> = []
        for file in files {
            let components = file.destination.split(separator: "/").dropLast()
            for depth in components.indices {
                let directory = components[...depth].joined(separator: "/")
                if written.insert(directory).inserted { tar.directory(directory) }
            }
            let (bytes, mode) = try file.read()
            tar.file(file.destination, bytes, mode: mode)
        }
        return FixtureImage.Layer(tar: tar.finished())
    }
}
