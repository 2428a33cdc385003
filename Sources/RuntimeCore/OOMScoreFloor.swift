import LinuxSys

/// The lowest oom_score_adj skiffd may give a process: its own (a negative value needs
/// CAP_SYS_RESOURCE, which skiffd may lack, and the kernel refuses one below the caller's).
enum OOMScoreFloor {
    static func current() -> Int {
        // try?: /proc/self is always readable; were it not, 0 is the kernel's default floor.
        (try? FileSystem.readText("/proc/self/oom_score_adj")).flatMap { Int($0.trimmingNewline) } ?? 0
    }
}
