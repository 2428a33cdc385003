import FoundationEssentials
import LinuxSys
import Logging
import Metadata
import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// The files a pod gives its containers: its /dev/shm tmpfs, and hostname, resolv.conf and hosts.
extension SandboxService {
    /// The pod's /dev/shm: a tmpfs of the configured size its containers bind-mount.
    /// `owner`: the node IDs of the pod's root when it has a user namespace, so that its /dev/shm
    /// is root's inside as it is in every other pod.
    func mountShm(in directory: String, owner: (uid: UInt32, gid: UInt32)? = nil) throws(SkiffError) -> String {
        let path = directory + "/shm"
        let ownership = owner.map { ",uid=\($0.uid),gid=\($0.gid)" } ?? ""
        do {
            try FileSystem.makeDirectories(path, mode: 0o1777)
            try systemCall("mount", path) {
                Glibc.mount(
                    "shm",
                    path,
                    "tmpfs",
                    UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC),
                    "mode=1777,size=\(options.shmSizeBytes)\(ownership)"
                )
            }
        } catch {
            throw error.skiffError("cannot mount the pod's /dev/shm at \(path)")
        }
        return path
    }

    func unmountShm(of sandbox: inout PodSandbox) throws(SkiffError) {
        guard let path = sandbox.shmPath else { return }
        do {
            try FileSystem.unmount(path)
        } catch {
            throw error.skiffError("cannot unmount the pod's /dev/shm at \(path)")
        }
        sandbox.shmPath = nil
    }

    /// hostname, resolv.conf (the pod's DNS config, else the node's) and hosts, for containers to mount.
    func writePodFiles(_ sandbox: PodSandbox, dns: SandboxSpec.DNS?) throws(SkiffError) {
        var resolv = ""
        if let dns, !(dns.servers.isEmpty && dns.searches.isEmpty && dns.options.isEmpty) {
            if !dns.searches.isEmpty { resolv += "search \(dns.searches.joined(separator: " "))\n" }
            for server in dns.servers { resolv += "nameserver \(server)\n" }
            if !dns.options.isEmpty { resolv += "options \(dns.options.joined(separator: " "))\n" }
        } else {
            do {
                resolv = try FileSystem.readText("/etc/resolv.conf")
            } catch {
                logger.warning(
                    "cannot read the node's /etc/resolv.conf; the pod gets an empty one",
                    metadata: ["pod": "\(sandbox.id)", "error": "\(error)"]
                )
            }
        }
        var hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        for ip in sandbox.ips { hosts += "\(ip)\t\(sandbox.hostname)\n" }
        do {
            try FileSystem.writeAtomically(
                sandbox.directory + "/hostname",
                Array((sandbox.hostNetwork ? Self.nodeHostname() : sandbox.hostname).utf8) + [10]
            )
            try FileSystem.writeAtomically(sandbox.directory + "/resolv.conf", Array(resolv.utf8))
            try FileSystem.writeAtomically(sandbox.directory + "/hosts", Array(hosts.utf8))
        } catch {
            throw error.skiffError("cannot write the pod's files")
        }
    }

    static func nodeHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(cString: buffer)
    }
}
