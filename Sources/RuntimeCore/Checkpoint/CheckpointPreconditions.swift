import LinuxSys
import SkiffCommon
import Synchronization

/// CheckpointContainer (KEP-2008, forensic checkpointing) through the OCI runtime needs CRIU.
/// Before anything is attempted the request and the node are checked, so that a checkpoint that
/// cannot work is refused with what is missing: a running container, an archive path, and a
/// CRIU that works on this kernel (`criu check`, run once and remembered).
public enum CheckpointPreconditions {
    private static let criuVerdict = Mutex<String??>(nil)

    /// Refuses a checkpoint `location` that is not an absolute path of a file to be written.
    public static func checkLocation(_ location: String) throws(SkiffError) {
        guard !location.isEmpty else {
            throw SkiffError.invalidArgument("CheckpointContainer needs location (the archive to write)")
        }
        guard RequestCheck.isCleanAbsolutePath(location), !RequestCheck.hasControlCharacters(location) else {
            throw RequestCheck.refuse("location", location, "is not an absolute path without .. components")
        }
        guard !FileSystem.isDirectory(location) else {
            throw RequestCheck.refuse("location", location, "is a directory; name the archive file to write")
        }
    }

    /// nil when CRIU runs here; else why not (the first error line of `criu check`).
    public static func criuProblem() async -> String? {
        if let known = criuVerdict.withLock({ $0 }) { return known }
        let problem: String?
        if let criu = ExecutableLookup.resolve("criu") {
            do {
                let result = try await ChildProcess.run(criu, arguments: ["check"], timeout: .seconds(20))
                let firstError = (result.stderrText + result.stdoutText).split(separator: "\n")
                    .first { $0.contains("Error") }
                problem =
                    result.status == 0 && !result.timedOut
                    ? nil
                    : "CRIU does not run on this node (`criu check`: \(firstError.map(String.init) ?? "exit \(result.status)"))"
            } catch {
                problem = "cannot run CRIU (\(criu)): \(error)"
            }
        } else {
            problem = "CRIU is not installed (Debian package criu)"
        }
        criuVerdict.withLock { $0 = .some(problem) }
        return problem
    }
}
