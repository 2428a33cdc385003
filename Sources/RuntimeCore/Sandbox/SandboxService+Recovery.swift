import FoundationEssentials
import LinuxSys
import Logging
import Metadata
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// After a restart: what the records say is checked against what skiffd can see, and what a
/// RunPodSandbox interrupted by a SIGKILL left is removed.
extension SandboxService {
    /// After a restart: a ready sandbox whose pinned namespaces are gone, or whose network
    /// namespace no longer holds the addresses CNI gave it (on interfaces that are up), is not
    /// ready any more. CNI CHECK is not used: plugins fail it for reasons unrelated to the pod
    /// (Debian's portmap looks for IPv6 chains of IPv4-only pods), and a NotReady pod is killed
    /// and recreated by the kubelet; what skiffd can see for itself is checked instead.
    func recover() async throws(SkiffError) {
        let mounts: MountTable
        do {
            mounts = try MountTable.current()
        } catch {
            throw error.skiffError("cannot read the mount table to check the pods' namespaces")
        }
        let unreadable = await store.unreadable
        for (id, reason) in unreadable.sorted(by: { $0.key < $1.key }) {
            logger.error(
                "a pod sandbox's record cannot be read; its directory is left as it is",
                metadata: ["id": "\(id)", "error": "\(reason)"]
            )
        }
        let known = Set(await store.all.map(\.id)).union(unreadable.keys)
        for name in FileSystem.directoryEntries(store.root) ?? [] where !known.contains(name) && !name.hasPrefix(".") {
            await removeUnrecorded(name, mounts: mounts)
        }
        for sandbox in await store.all where sandbox.state == .ready {
            let pinned = sandbox.namespaces
            let paths = [pinned?.network, pinned?.ipc, pinned?.uts, pinned?.user].compactMap {
                $0
            }
            if paths.contains(where: { !mounts.isMountPoint($0) }) {
                await markNotReady(sandbox.id, reason: "its pinned namespaces are gone")
                continue
            }
            // gVisor's own network stack takes the addresses off the pod's interfaces and serves
            // them itself: for such pods the running sandbox (PodService) is the evidence.
            guard !sandbox.hostNetwork, !sandbox.runsInSandbox, let netns = sandbox.namespaces?.network,
                !sandbox.ips.isEmpty
            else { continue }
            if let problem = await Self.missingAddresses(sandbox.ips, inNamespace: netns) {
                await markNotReady(sandbox.id, reason: problem)
            }
        }
    }

    /// The sandbox as it stood just before CNI ADD, beside the record that is written last.
    static let provisionalRecordName = "creating.json"

    /// The provisional record in `directory`, if the interrupted run got as far as writing it.
    private func provisionalRecord(in directory: String) -> PodSandbox? {
        let path = directory + "/" + Self.provisionalRecordName
        guard FileSystem.exists(path) else { return nil }
        do {
            return try JSONDecoder().decode(PodSandbox.self, from: Data(try FileSystem.readBytes(path, limit: 1 << 20)))
        } catch {
            // Without it only portmap's rules are left behind (the DEL lacks the port mappings).
            logger.warning(
                "cannot read a pod's provisional record",
                metadata: ["path": "\(path)", "error": "\(error)"]
            )
            return nil
        }
    }

    /// A RunPodSandbox that skiffd did not live to record (its record is written last): the
    /// network is released through CNI DEL by container ID (host-local's address, the veth,
    /// portmap's chains), then the pinned namespaces and /dev/shm are unmounted and the
    /// directory removed.
    func removeUnrecorded(_ id: String, mounts: MountTable) async {
        logger.warning("removing a pod sandbox that was being created when skiffd stopped", metadata: ["id": "\(id)"])
        let directory = store.directory(of: id)
        let netns = directory + "/ns/net"
        let provisional = provisionalRecord(in: directory)
        if let provisional { unrecordedAtStart.append(provisional) }
        if mounts.isMountPoint(netns), let network = networkForRelease(of: id) {
            let stub = provisional ?? PodSandbox.placeholder(id: id, directory: directory, networkName: network.name)
            do {
                try await cni.delete(network, attachment(for: stub, netns: netns), previousResult: nil)
            } catch {
                logger.warning(
                    "CNI DEL of an unrecorded pod sandbox failed",
                    metadata: ["id": "\(id)", "error": "\(error)"]
                )
            }
        }
        for mountPoint in mounts.entries.map(\.mountPoint).filter({ $0.hasPrefix(directory + "/") }).sorted(by: >) {
            _ = umount2(mountPoint, Int32(MNT_DETACH))
        }
        do {
            try DirectoryTree.remove(directory)
        } catch {
            logger.warning(
                "cannot remove an unrecorded pod sandbox's directory",
                metadata: ["id": "\(id)", "error": "\(error)"]
            )
        }
    }

    /// The pods recovery removed before their record was written, as their provisional records
    /// stood; each is handed out once.
    public func takeUnrecordedAtStart() -> [PodSandbox] {
        defer { unrecordedAtStart = [] }
        return unrecordedAtStart
    }

    /// Why the pod's network namespace does not hold `ips` on interfaces that are up; nil when it does.
    static func missingAddresses(_ ips: [String], inNamespace netns: String) async -> String? {
        let found: Result<[InterfaceAddress], SystemCallError> = await DedicatedThread.run {
            do throws(SystemCallError) {
                return .success(
                    try NetworkNamespace.inside(netns) { () throws(SystemCallError) in try InterfaceAddresses.current()
                    }
                )
            } catch {
                return .failure(error)
            }
        }
        switch found {
        case .failure(let error):
            return "its network namespace cannot be read: \(error.description)"
        case .success(let addresses):
            let present = Set(addresses.filter(\.isUp).compactMap { InterfaceAddresses.canonical($0.address) })
            let missing = ips.filter { !present.contains(InterfaceAddresses.canonical($0) ?? $0) }
            return missing.isEmpty
                ? nil
                : "its network namespace no longer has \(missing.joined(separator: ", ")) on an interface that is up"
        }
    }
}
