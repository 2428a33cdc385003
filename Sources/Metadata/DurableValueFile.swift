import FoundationEssentials
import LinuxSys
import SkiffCommon

/// One small Codable value kept in a JSON file that is replaced atomically on every write, so a
/// SIGKILL at any moment leaves either the old value or the new one on disk.
///
/// For small records (settings, one object's state); collections with queries belong in the
/// metadata database.
public struct DurableValueFile<Value: Codable & Sendable>: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// The stored value, or nil when the file does not exist yet.
    public func read() throws(SkiffError) -> Value? {
        guard FileSystem.exists(path) else { return nil }
        let text: String
        do {
            text = try FileSystem.readText(path)
        } catch {
            throw error.skiffError("cannot read \(path)")
        }
        do {
            return try JSONDecoder().decode(Value.self, from: Data(text.utf8))
        } catch {
            throw SkiffError(
                .internalError,
                "\(path) is not valid \(Value.self) JSON; move it away to reset it",
                cause: DescribedError(error)
            )
        }
    }

    public func write(_ value: Value) throws(SkiffError) {
        let data: Data
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            data = try encoder.encode(value)
        } catch {
            throw SkiffError(.internalError, "cannot encode \(Value.self)", cause: DescribedError(error))
        }
        do {
            try FileSystem.makeDirectories(FileSystem.parentDirectory(of: path), mode: 0o700)
            try FileSystem.writeAtomically(path, Array(data), mode: 0o600)
        } catch {
            throw error.skiffError("cannot write \(path)")
        }
    }
}
