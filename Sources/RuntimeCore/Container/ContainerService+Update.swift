import FoundationEssentials
import LinuxSys
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// Changes to a live container: its cgroup resources (UpdateContainerResources) and its log
/// file (ReopenContainerLog).
extension ContainerService {
    /// Applies new resources to the running container's cgroup and records them.
    public func updateResources(_ id: String, _ resources: ContainerSpec.Resources) async throws(SkiffError) {
        try resources.validate(node: nodeFacts, field: "linux")
        await collectExit(of: id)
        var container = try await existing(id)
        guard container.state == .running || container.state == .created else {
            throw SkiffError(
                .failedPrecondition,
                "container \(container.id) is \(container.state.rawValue); only a live container's resources can change"
            )
        }
        let bundle = bundleDirectory(of: container.id)
        var update = ContainerSpecBuilder.resources(resources, layout: options.cgroupLayout)
        update.devices = nil
        let file = "\(bundle)/update-\(ObjectID.random().prefix(16)).json"
        try JSONFile.write(update, to: file)
        defer {
            logger.logFailure(.warning, "cannot remove a resource update's file", metadata: ["path": "\(file)"]) {
                () throws(SystemCallError) in try FileSystem.removeIfPresent(file)
            }
        }
        try await runtime(for: container).update(id: container.id, resourcesFile: file)
        container.resources = resources
        try await store.save(container)
    }

    /// The kubelet renamed the log file; the monitor starts a new one at the same path.
    public func reopenLog(_ id: String) async throws(SkiffError) {
        await collectExit(of: id)
        let container = try await existing(id)
        guard container.state == .running else {
            throw SkiffError(
                .failedPrecondition,
                "container \(container.id) is \(container.state.rawValue), not running; its log is closed"
            )
        }
        try monitor.reopenLog(bundle: bundleDirectory(of: container.id))
        // conmon reopens asynchronously; answer once the new file is there, as the kubelet
        // checks for it right after.
        guard !container.logPath.isEmpty else { return }
        // conmon tells nothing when it has; the file is looked for every 5 ms, for up to 1 s.
        for _ in 0..<200 where !FileSystem.exists(container.logPath) {
            do {
                try await Task.sleep(for: .milliseconds(5))
            } catch {
                return  // the caller is gone
            }
        }
    }
}
