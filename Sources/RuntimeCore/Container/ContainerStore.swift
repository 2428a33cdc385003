import LinuxSys
import Metadata
import SkiffCommon

/// Containers on disk: one directory per container under `<state_dir>/containers/` holding its
/// record (replaced atomically), its bundle (config.json) and conmon's files, so a daemon
/// killed at any moment reloads exactly the containers that exist.
actor ContainerStore {
    let root: String
    private var containers: [String: Container] = [:]

    init(root: String) throws(SkiffError) {
        self.root = root
        do {
            try FileSystem.makeDirectories(root, mode: 0o711)
        } catch {
            throw error.skiffError("cannot create \(root)")
        }
        for id in FileSystem.directoryEntries(root) ?? [] {
            if let container = try? DurableValueFile<Container>(path: "\(root)/\(id)/container.json").read() {
                containers[container.id] = container
            }
        }
    }

    var all: [Container] { containers.values.sorted { $0.createdAt < $1.createdAt } }

    func container(_ id: String) -> Container? { containers[id] }

    /// A container by full ID or unique ID prefix.
    func find(_ idOrPrefix: String) -> Container? {
        if let exact = containers[idOrPrefix] { return exact }
        guard !idOrPrefix.isEmpty else { return nil }
        let matches = containers.values.filter { $0.id.hasPrefix(idOrPrefix) }
        return matches.count == 1 ? matches[0] : nil
    }

    func directory(of id: String) -> String { "\(root)/\(id)" }

    func save(_ container: Container) throws(SkiffError) {
        try DurableValueFile<Container>(path: "\(root)/\(container.id)/container.json").write(container)
        containers[container.id] = container
    }

    func delete(_ id: String) throws(SkiffError) {
        do {
            try DirectoryTree.remove("\(root)/\(id)")
        } catch {
            throw error.skiffError("cannot remove the container directory of \(id)")
        }
        containers[id] = nil
    }
}
