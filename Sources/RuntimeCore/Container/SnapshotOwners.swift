import LinuxSys
import SkiffCommon
import Synchronization

/// The highest file owner IDs of each layer snapshot, found by walking it the first time a pod
/// with a user namespace uses it and remembered (a snapshot's content never changes). A pod
/// whose mappings stop short of them would see those files owned by nobody; it is refused.
enum SnapshotOwners {
    private static let known = Mutex<[String: (uid: UInt32, gid: UInt32)]>([:])

    static func highest(in snapshot: String) -> (uid: UInt32, gid: UInt32) {
        if let owners = known.withLock({ $0[snapshot] }) { return owners }
        let owners = DirectoryTree.highestOwners(snapshot)
        known.withLock { $0[snapshot] = owners }
        return owners
    }

    /// Refuses `mapping` when it does not cover the owners of every file of `snapshots` (the
    /// image's layers, as a container's lower directories). Mappings start at container ID 0
    /// (validated at RunPodSandbox), so the highest IDs decide.
    static func checkCovered(
        _ snapshots: [String],
        by mapping: UserNamespaceMapping,
        image: String
    ) throws(SkiffError) {
        for snapshot in snapshots {
            let owners = highest(in: snapshot)
            if mapping.hostUID(of: owners.uid) == nil {
                throw SkiffError(
                    .failedPrecondition,
                    "image \(image) has files owned by uid \(owners.uid), which the pod's user namespace does not map (\(mapping.uids.map(\.description).joined(separator: ", "))); they would belong to nobody"
                )
            }
            if mapping.hostGID(of: owners.gid) == nil {
                throw SkiffError(
                    .failedPrecondition,
                    "image \(image) has files owned by gid \(owners.gid), which the pod's user namespace does not map (\(mapping.gids.map(\.description).joined(separator: ", "))); they would belong to nobody"
                )
            }
        }
    }
}
