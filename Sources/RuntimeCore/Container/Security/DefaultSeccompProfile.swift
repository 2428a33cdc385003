/// The seccomp profile of a container whose pod asks for `RuntimeDefault` (or says nothing and the
/// node defaults to it): the same rules as the default profile of moby and containerd
/// (moby `profiles/seccomp/default.json`, containerd `contrib/seccomp/seccomp_default.go`), so a
/// workload behaves under Skiff as it does under Docker or containerd.
///
/// An allowlist: every syscall not named fails with `EPERM`. Some syscalls are allowed only when
/// the container holds the capability that guards them in the kernel (`mount` with
/// `CAP_SYS_ADMIN`, `reboot` with `CAP_SYS_BOOT`, …), because a container without the
/// capability has no use for them and each one is kernel attack surface.
public enum DefaultSeccompProfile {
    /// The profile for a container whose capability set is `capabilities` (names as
    /// `CAP_SYS_ADMIN`, as ``CapabilitySet/resolve(add:drop:privileged:)`` returns them).
    public static func profile(capabilities: Set<String>) -> RuntimeSpec.Seccomp {
        var rules: [RuntimeSpec.Seccomp.Rule] = [.allow(allowedSyscalls + ptraceSyscalls)]
        if !architectureSyscalls.isEmpty {
            rules.append(.allow(architectureSyscalls))
        }
        rules += socketRules + personalityRules
        for group in capabilityGroups where capabilities.contains(group.capability) {
            rules.append(.allow(group.syscalls))
        }
        if !capabilities.contains("CAP_SYS_ADMIN") {
            rules += namespaceGuardRules
        }
        return RuntimeSpec.Seccomp(
            defaultAction: "SCMP_ACT_ERRNO",
            defaultErrnoRet: errnoEPERM,
            architectures: architectures,
            syscalls: rules
        )
    }

    static let errnoEPERM: UInt = 1
    static let errnoENOSYS: UInt = 38

    /// The native architecture and the compat ones its kernel also runs (32-bit x86 and x32 on
    /// x86_64, 32-bit ARM on aarch64), so a 32-bit binary is filtered rather than refused.
    static var architectures: [String]? {
        #if arch(x86_64)
        return ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        #elseif arch(arm64)
        return ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
        #else
        return nil  // the OCI runtime's native architecture only
        #endif
    }

    /// Allowed for every container. Names the running libseccomp does not know (newer syscalls,
    /// other architectures' ones) are skipped by the OCI runtime, so the list can run ahead of the
    /// node.
    static let allowedSyscalls: [String] = [
        "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget", "capset", "chdir",
        "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
        "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range",
        "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
        "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
        "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
        "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
        "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
        "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
        "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd",
        "getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
        "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
        "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list",
        "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid",
        "getuid32", "getxattr", "getxattrat", "inotify_add_watch", "inotify_init", "inotify_init1",
        "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents",
        "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit", "ipc", "kill",
        "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32", "lgetxattr",
        "link", "linkat", "listen", "listmount", "listxattr", "listxattrat", "llistxattr", "_llseek", "lremovexattr",
        "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack", "membarrier", "memfd_create",
        "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap",
        "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64",
        "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv",
        "msgsnd", "msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat",
        "_newselect", "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
        "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv",
        "preadv2", "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2",
        "read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
        "recvmsg", "remap_file_pages", "removexattr", "removexattrat", "rename", "renameat", "renameat2",
        "restart_syscall", "riscv_hwprobe", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
        "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
        "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
        "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
        "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp",
        "select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64",
        "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
        "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32", "setresgid",
        "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list",
        "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr", "setxattrat",
        "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
        "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statmount",
        "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time",
        "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
        "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
        "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink",
        "unlinkat", "uretprobe", "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4",
        "waitid", "waitpid", "write", "writev",
    ]

    /// ptrace and cross-process memory access. moby and containerd gate these on
    /// `CAP_SYS_PTRACE` only for kernels before 4.8, where ptrace could bypass seccomp; Skiff
    /// needs a far newer kernel (cgroup v2, `openat2`), so they are allowed as there.
    static let ptraceSyscalls = ["process_vm_readv", "process_vm_writev", "ptrace"]

    /// Syscalls only one architecture has.
    static var architectureSyscalls: [String] {
        #if arch(x86_64)
        return ["arch_prctl", "modify_ldt"]
        #elseif arch(arm64)
        return ["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"]
        #else
        return []
        #endif
    }

    /// `socket(2)` for every address family except AF_ALG (38, the kernel crypto API) and
    /// AF_VSOCK (40, host–guest sockets). Three single-condition rules: conditions on the same
    /// argument within one rule would be split by the OCI runtime into rules that OR.
    /// (`socketcall(2)`, which 32-bit x86 uses instead, is allowed whole, as in moby.)
    static let socketRules: [RuntimeSpec.Seccomp.Rule] = [
        .allow(["socket"], args: [.init(index: 0, value: 38, op: "SCMP_CMP_LT")]),
        .allow(["socket"], args: [.init(index: 0, value: 39, op: "SCMP_CMP_EQ")]),
        .allow(["socket"], args: [.init(index: 0, value: 40, op: "SCMP_CMP_GT")]),
    ]

    /// `personality(2)` only for the personas programs ask for: PER_LINUX (0), PER_LINUX32 (8),
    /// UNAME26 (0x20000), UNAME26|PER_LINUX32, and 0xffffffff (query the current one). Others
    /// (ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, …) weaken the address-space hardening.
    static let personalityRules: [RuntimeSpec.Seccomp.Rule] =
        ([0x0, 0x0008, 0x2_0000, 0x2_0008, 0xffff_ffff] as [UInt64]).map {
            .allow(["personality"], args: [.init(index: 0, value: $0, op: "SCMP_CMP_EQ")])
        }

    /// CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
    /// CLONE_NEWNET: the flags that make new namespaces.
    static let namespaceCloneFlags: UInt64 =
        0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000
        | 0x1000_0000 | 0x2000_0000 | 0x4000_0000

    /// For a container without CAP_SYS_ADMIN: `clone` only without namespace flags (threads and
    /// fork still work; new namespaces do not), and `clone3` refused with ENOSYS rather than
    /// EPERM, because seccomp cannot look into clone3's flags struct and ENOSYS makes glibc fall
    /// back to `clone`, which it can check.
    static var namespaceGuardRules: [RuntimeSpec.Seccomp.Rule] {
        #if arch(s390x)
        let flagsIndex: UInt = 1  // s390 swaps clone's first two arguments
        #else
        let flagsIndex: UInt = 0
        #endif
        return [
            .allow(
                ["clone"],
                args: [.init(index: flagsIndex, value: namespaceCloneFlags, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ")]
            ),
            RuntimeSpec.Seccomp.Rule(names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: errnoENOSYS),
        ]
    }

    /// Syscalls allowed only to a container holding the capability the kernel checks for them.
    static let capabilityGroups: [(capability: String, syscalls: [String])] = [
        ("CAP_DAC_READ_SEARCH", ["open_by_handle_at"]),
        (
            "CAP_SYS_ADMIN",
            [
                "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
                "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mount", "mount_setattr", "move_mount",
                "open_tree", "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns",
                "syslog", "umount", "umount2", "unshare",
            ]
        ),
        ("CAP_SYS_BOOT", ["reboot"]),
        ("CAP_SYS_CHROOT", ["chroot"]),
        ("CAP_SYS_MODULE", ["delete_module", "init_module", "finit_module"]),
        ("CAP_SYS_PACCT", ["acct"]),
        (
            "CAP_SYS_PTRACE",
            ["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"]
        ),
        ("CAP_SYS_RAWIO", ["iopl", "ioperm"]),
        ("CAP_SYS_TIME", ["settimeofday", "stime", "clock_settime", "clock_settime64"]),
        ("CAP_SYS_TTY_CONFIG", ["vhangup"]),
        ("CAP_SYS_NICE", ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"]),
        ("CAP_SYSLOG", ["syslog"]),
        ("CAP_BPF", ["bpf"]),
        ("CAP_PERFMON", ["perf_event_open"]),
    ]
}

extension RuntimeSpec.Seccomp.Rule {
    fileprivate static func allow(_ names: [String], args: [RuntimeSpec.Seccomp.Argument]? = nil) -> Self {
        Self(names: names, action: "SCMP_ACT_ALLOW", args: args)
    }
}
