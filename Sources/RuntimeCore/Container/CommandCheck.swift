import LinuxSys
import SkiffCommon

/// The container's command must exist in its image: checked by skiffd before the OCI runtime
/// runs, so the refusal is INVALID_ARGUMENT naming the command, not the runtime's stderr as
/// INTERNAL. The lookup is the runtime's: a name with a `/` relative to the working directory,
/// else each PATH directory of the container's environment, resolved inside the root filesystem.
///
/// Only a command that is certainly missing is refused. Left to the runtime: a command a mount
/// provides (its path, or a symlink on the way to it, lies under a mount destination), a PATH
/// with a relative entry, and runtimes other than runc and crun (a wrapper such as
/// nvidia-container-runtime adds binaries to the root filesystem while it creates the container).
enum CommandCheck {
    static let checkedRuntimes: Set<String> = ["runc", "crun"]

    static func check(_ spec: RuntimeSpec, runtimePath: String) throws(SkiffError) {
        guard checkedRuntimes.contains(String(runtimePath.split(separator: "/").last ?? "")) else { return }
        guard let command = spec.process.args.first, !command.isEmpty else { return }
        let candidates: [String]
        if command.contains("/") {
            candidates = [
                command.hasPrefix("/")
                    ? command : (spec.process.cwd.hasSuffix("/") ? spec.process.cwd : spec.process.cwd + "/") + command
            ]
        } else {
            let path = spec.process.env.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? ""
            let directories = path.split(separator: ":", omittingEmptySubsequences: false)
            guard directories.allSatisfy({ $0.hasPrefix("/") }) else { return }
            candidates = directories.map { ($0.hasSuffix("/") ? String($0) : $0 + "/") + command }
        }
        let root = spec.root.path
        if candidates.contains(where: { isExecutableFileInRoot(root, $0) }) { return }
        let mountPoints = spec.mounts.map(\.destination)
        if candidates.contains(where: { reachesMount($0, root: root, mountPoints: mountPoints) }) { return }
        throw SkiffError.invalidArgument(
            "the container's command \(doubleQuotedLiteral(String(command.prefix(200)))) is not an executable file in its image"
                + (command.contains("/")
                    ? ""
                    : " (looked in PATH: \(candidates.map { String($0.dropLast(command.count + 1)) }.joined(separator: ":")))")
        )
    }

    /// Whether `path`, followed through the image's symlinks, reaches a mount destination.
    static func reachesMount(_ path: String, root: String, mountPoints: [String], hops: Int = 0) -> Bool {
        guard hops < 40 else { return true }  // a loop: let the runtime say so
        let components = path.split(separator: "/").map(String.init)
        var prefix = ""
        for (index, component) in components.enumerated() {
            if component == "." { continue }
            if component == ".." {
                prefix = FileSystem.parentDirectory(of: prefix.isEmpty ? "/" : prefix)
                if prefix == "/" { prefix = "" }
                continue
            }
            prefix += "/" + component
            if mountPoints.contains(where: { prefix == $0 || prefix.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }) {
                return true
            }
            guard let target = symlinkTargetInRoot(root, prefix) else { continue }
            let rest = components[(index + 1)...].joined(separator: "/")
            let base = target.hasPrefix("/") ? target : FileSystem.parentDirectory(of: prefix) + "/" + target
            return reachesMount(
                rest.isEmpty ? base : base + "/" + rest,
                root: root,
                mountPoints: mountPoints,
                hops: hops + 1
            )
        }
        return false
    }
}
