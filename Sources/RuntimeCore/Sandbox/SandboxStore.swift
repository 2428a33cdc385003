import LinuxSys
import Metadata
import SkiffCommon

/// Sandboxes on disk: one directory per pod under `<state_dir>/sandboxes/`, its record written
/// atomically, so a daemon killed at any moment reloads exactly the sandboxes that exist.
actor SandboxStore {
    let root: String
    private var sandboxes: [String: PodSandbox] = [:]

    init(root: String) throws(SkiffError) {
        self.root = root
        do {
            try FileSystem.makeDirectories(root, mode: 0o711)
        } catch {
            throw error.skiffError("cannot create \(root)")
        }
        for id in FileSystem.directoryEntries(root) ?? [] {
            let file = DurableValueFile<PodSandbox>(path: "\(root)/\(id)/sandbox.json")
            if let sandbox = try? file.read() { sandboxes[sandbox.id] = sandbox }
        }
    }

    var all: [PodSandbox] { sandboxes.values.sorted { $0.createdAt < $1.createdAt } }

    func sandbox(_ id: String) -> PodSandbox? { sandboxes[id] }

    /// A sandbox by full ID or unique ID prefix.
    func find(_ idOrPrefix: String) -> PodSandbox? {
        if let exact = sandboxes[idOrPrefix] { return exact }
        guard !idOrPrefix.isEmpty else { return nil }
        let matches = sandboxes.values.filter { $0.id.hasPrefix(idOrPrefix) }
        return matches.count == 1 ? matches[0] : nil
    }

    func save(_ sandbox: PodSandbox) throws(SkiffError) {
        try DurableValueFile<PodSandbox>(path: "\(root)/\(sandbox.id)/sandbox.json").write(sandbox)
        sandboxes[sandbox.id] = sandbox
    }

    func delete(_ id: String) throws(SkiffError) {
        do {
            try DirectoryTree.remove("\(root)/\(id)")
        } catch {
            throw error.skiffError("cannot remove the sandbox directory of \(id)")
        }
        sandboxes[id] = nil
    }
}
