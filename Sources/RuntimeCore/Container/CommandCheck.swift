import LinuxSys
import SkiffCommon

/// The container's command must exist in its image: checked by skiffd before the OCI runtime
/// runs, so the refusal is INVALID_ARGUMENT naming the command, not the runtime's stderr as
/// INTERNAL. The lookup is the runtime's: a name with a `/` relative to the working directory,
/// else each PATH directory of the container's environment, resolved inside the root filesystem.
/// A command that a volume provides (under a mount destination) is left to the runtime.
enum CommandCheck {
    static func check(_ spec: RuntimeSpec) throws(SkiffError) {
        guard let command = spec.process.args.first, !command.isEmpty else { return }
        let mountPoints = spec.mounts.map(\.destination)
        func providedByMount(_ path: String) -> Bool {
            mountPoints.contains { path == $0 || path.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }
        }
        let candidates: [String]
        if command.contains("/") {
            candidates = [command.hasPrefix("/") ? command : (spec.process.cwd.hasSuffix("/") ? spec.process.cwd : spec.process.cwd + "/") + command]
        } else {
            let path = spec.process.env.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? ""
            candidates = path.split(separator: ":").filter { $0.hasPrefix("/") }.map { ($0.hasSuffix("/") ? String($0) : $0 + "/") + command }
        }
        if candidates.contains(where: providedByMount) { return }
        if candidates.contains(where: { isExecutableFileInRoot(spec.root.path, $0) }) { return }
        throw SkiffError.invalidArgument("the container's command \(doubleQuotedLiteral(String(command.prefix(200)))) is not an executable file in its image"
            + (command.contains("/") ? "" : " (looked in PATH: \(candidates.map { String($0.dropLast(command.count + 1)) }.joined(separator: ":")))"))
    }
}
