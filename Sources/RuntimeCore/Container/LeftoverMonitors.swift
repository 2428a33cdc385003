import FoundationEssentials
import LinuxSys

#if canImport(Glibc)
import Glibc
#endif

/// What a SIGKILLed skiffd left running for a container (or pause) it never recorded: conmon
/// goes on without it, and so does the `runtime create` conmon started. Recovery deletes such a
/// container, but a delete that runs before that create has finished finds nothing, and the
/// create then makes a container (process, cgroup, runtime state) nobody knows.
enum LeftoverMonitors {
    /// Waits for the runtime's create that conmon is running for `id` to finish, killing it once
    /// `deadline` has passed; returns the leftover conmon processes, to be killed (`kill`) once
    /// the container is deleted. The create is conmon's child that names the container; crun's
    /// container init keeps that command line until it is started, and becomes conmon's child
    /// only after the create has written `pidFile` naming it, so it is told apart by that.
    static func settle(of id: String, pidFile: String, deadline: Duration) async -> [pid_t] {
        let monitorArgument = "--cid \(id) "
        let milliseconds = Int(deadline.components.seconds) * 1000
        return await DedicatedThread.run {
            let monitors = ProcessTree.strangers { ProcessTree.commandLine(of: $0)?.contains(monitorArgument) == true }
            for monitor in monitors {
                // No pid file yet means the create has not written it: no init to spare.
                let containerPID = ProcessIDFile.read(pidFile)
                for pid in ProcessTree.children(of: monitor)
                where pid != containerPID && ProcessTree.commandLine(of: pid)?.contains(id) == true {
                    if !ProcessTree.waitForExit(pid, milliseconds: milliseconds) { ProcessTree.kill(pid) }
                }
            }
            return monitors
        }
    }

    /// Kills leftover conmon processes (and whatever they still run) once their container is
    /// deleted; a conmon that already ended is not looked for again.
    static func kill(_ monitors: [pid_t], of id: String) {
        for monitor in monitors where ProcessTree.commandLine(of: monitor)?.contains("--cid \(id) ") == true {
            ProcessTree.kill(monitor)
        }
    }
}
