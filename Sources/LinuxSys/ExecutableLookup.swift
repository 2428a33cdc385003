#if canImport(Glibc)
import Glibc
#endif

/// Finds programs the way a shell does, so config may name `runc` instead of `/usr/sbin/runc`.
public enum ExecutableLookup {
    /// Searched when the daemon's $PATH is empty or lacks the sbin directories, as under systemd.
    public static let fallbackPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// The absolute path of `program`: itself if it contains a '/', else the first executable
    /// match on $PATH and the fallback directories; nil when none is found.
    public static func resolve(_ program: String, searchPath: String? = nil) -> String? {
        if program.contains("/") {
            return FileSystem.isExecutableFile(program) ? program : nil
        }
        let environmentPath = searchPath ?? (getenv("PATH").map { String(cString: $0) } ?? "")
        var seen = Set<Substring>()
        for directory in (environmentPath + ":" + fallbackPath).split(separator: ":")
        where seen.insert(directory).inserted {
            let candidate = "\(directory)/\(program)"
            if FileSystem.isExecutableFile(candidate) { return candidate }
        }
        return nil
    }
}
