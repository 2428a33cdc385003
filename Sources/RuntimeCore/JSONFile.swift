import FoundationEssentials
import LinuxSys
import SkiffCommon

/// Files skiffd writes for the OCI runtime (bundles' config.json, exec process specs, resource
/// updates): sorted keys, written atomically, readable by root only.
enum JSONFile {
    static func write<Value: Encodable>(_ value: Value, to path: String) throws(SkiffError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            try FileSystem.writeAtomically(path, Array(try encoder.encode(value)), mode: 0o600)
        } catch let error as SystemCallError {
            throw error.skiffError("cannot write \(path)")
        } catch {
            throw SkiffError(.internalError, "cannot encode \(path)", cause: DescribedError(error))
        }
    }
}
