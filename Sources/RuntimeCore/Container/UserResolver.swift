import Glibc
import LinuxSys
import SkiffCommon

/// Turns the user a container should run as (the image's `User`, or the pod's run_as_user /
/// run_as_username / run_as_group) into numeric IDs through the image's own /etc/passwd and
/// /etc/group, read inside the container's root filesystem (never the node's).
public struct UserResolver: Sendable {
    public struct Resolved: Codable, Sendable, Equatable {
        public var uid: UInt32
        public var gid: UInt32
        public var additionalGids: [UInt32]
        /// From /etc/passwd, for HOME when the image does not set it.
        public var home: String?
    }

    struct PasswdEntry: Equatable {
        var name: String
        var uid: UInt32
        var gid: UInt32
        var home: String
    }

    struct GroupEntry: Equatable {
        var name: String
        var gid: UInt32
        var members: [String]
    }

    let passwd: [PasswdEntry]
    let groups: [GroupEntry]

    /// Reads the account files of `rootfs`. A file the image lacks counts as empty (only numeric
    /// users resolve); one that exists but cannot be read fails the creation, rather than a
    /// named user's uid silently running with gid 0.
    public init(rootfs: String) throws(SkiffError) {
        self.init(passwd: try Self.accountFile(rootfs, "etc/passwd"), group: try Self.accountFile(rootfs, "etc/group"))
    }

    /// `path` in the image, resolved inside it; absent (or a symlink or not a regular file, which
    /// are never followed out of the image) is empty.
    static func accountFile(_ rootfs: String, _ path: String) throws(SkiffError) -> String {
        do {
            return String(decoding: try readFileInRoot(rootfs, path), as: UTF8.self)
        } catch  where [ENOENT, ENOTDIR, ELOOP, EINVAL].contains(error.errno) {
            return ""
        } catch {
            throw SkiffError(
                .failedPrecondition,
                "cannot read /\(path) of the container's image: \(error)",
                cause: error
            )
        }
    }

    init(passwd: String, group: String) {
        self.passwd = passwd.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 7, let uid = UInt32(fields[2]), let gid = UInt32(fields[3]) else { return nil }
            return PasswdEntry(name: String(fields[0]), uid: uid, gid: gid, home: String(fields[5]))
        }
        self.groups = group.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 4, let gid = UInt32(fields[2]) else { return nil }
            return GroupEntry(
                name: String(fields[0]),
                gid: gid,
                members: fields[3].split(separator: ",").map(String.init)
            )
        }
    }

    /// Resolves the CRI security context's user, falling back to the image's `User`
    /// ("name", "uid", "name:group", "uid:gid"). A name the image does not know is an error;
    /// a numeric uid the image does not know runs with gid 0 (as Docker and containerd do).
    /// The user's groups in the image's /etc/group are added to `supplementalGroups` (policy
    /// Merge, the CRI's default) unless `strictSupplementalGroups` (policy Strict).
    public func resolve(
        runAsUser: Int64?,
        runAsUsername: String,
        runAsGroup: Int64?,
        imageUser: String,
        supplementalGroups: [Int64],
        strictSupplementalGroups: Bool = false
    ) throws(SkiffError) -> Resolved {
        if runAsGroup != nil && runAsUser == nil && runAsUsername.isEmpty {
            // CRI: run_as_group without run_as_user or run_as_username MUST be an error.
            throw SkiffError.invalidArgument("run_as_group is set without run_as_user or run_as_username")
        }
        var userPart = ""
        var groupPart: String?
        if let runAsUser {
            guard let uid = UInt32(exactly: runAsUser) else {
                throw SkiffError.invalidArgument("run_as_user \(runAsUser) is not a valid uid")
            }
            userPart = String(uid)
        } else if !runAsUsername.isEmpty {
            userPart = runAsUsername
        } else if !imageUser.isEmpty {
            let parts = imageUser.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            userPart = String(parts[0])
            if parts.count == 2 { groupPart = String(parts[1]) }
        }
        var resolved: Resolved
        var username: String?
        if userPart.isEmpty {
            resolved = Resolved(uid: 0, gid: 0, additionalGids: [], home: passwd.first { $0.uid == 0 }?.home)
            username = passwd.first { $0.uid == 0 }?.name
        } else if let uid = UInt32(userPart) {
            let entry = passwd.first { $0.uid == uid }
            resolved = Resolved(uid: uid, gid: entry?.gid ?? 0, additionalGids: [], home: entry?.home)
            username = entry?.name
        } else {
            guard let entry = passwd.first(where: { $0.name == userPart }) else {
                throw SkiffError(.invalidArgument, "user \"\(userPart)\" is not in the image's /etc/passwd")
            }
            resolved = Resolved(uid: entry.uid, gid: entry.gid, additionalGids: [], home: entry.home)
            username = entry.name
        }
        if let runAsGroup {
            guard let gid = UInt32(exactly: runAsGroup) else {
                throw SkiffError.invalidArgument("run_as_group \(runAsGroup) is not a valid gid")
            }
            resolved.gid = gid
        } else if let groupPart, !groupPart.isEmpty {
            if let gid = UInt32(groupPart) {
                resolved.gid = gid
            } else if let group = groups.first(where: { $0.name == groupPart }) {
                resolved.gid = group.gid
            } else {
                throw SkiffError(.invalidArgument, "group \"\(groupPart)\" is not in the image's /etc/group")
            }
        }
        var extra: [UInt32] = []
        if let username, !strictSupplementalGroups {
            extra += groups.filter { $0.members.contains(username) }.map(\.gid)
        }
        for group in supplementalGroups {
            guard let gid = UInt32(exactly: group) else {
                throw SkiffError.invalidArgument("supplemental group \(group) is not a valid gid")
            }
            extra.append(gid)
        }
        // Sorted, as the kernel keeps a process's groups (setgroups sorts them); a runtime with
        // a kernel of its own (gVisor) keeps the order it is given, and `id -G` shows it.
        var seen = Set<UInt32>([resolved.gid])
        resolved.additionalGids = extra.filter { seen.insert($0).inserted }.sorted()
        return resolved
    }
}
