// Only what Glibc does not give Swift: system calls without glibc wrappers (or whose wrappers
// are missing from Debian 12's glibc 2.36 headers), exposed as plain C functions.
#ifndef SKIFF_LINUX_SHIM_H
#define SKIFF_LINUX_SHIM_H

#include <stdint.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>

/// openat2(2) with a `struct open_how`; returns the fd or -1 with errno set.
int skiff_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);

/// pidfd_open(2); returns the pidfd or -1 with errno set.
int skiff_pidfd_open(pid_t pid, unsigned int flags);

/// pidfd_send_signal(2) without siginfo.
int skiff_pidfd_send_signal(int pidfd, int signal);

/// setns(2) (exposed for symmetry with unshare; glibc has it but Swift's Glibc module may not).
int skiff_setns(int fd, int nstype);

/// unshare(2).
int skiff_unshare(int flags);

/// pipe2(2) with O_CLOEXEC (glibc declares pipe2 only under _GNU_SOURCE).
int skiff_pipe_cloexec(int fds[2]);

/// posix_spawn_file_actions_addchdir_np(3) (declared only under _GNU_SOURCE).
#include <spawn.h>
int skiff_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/// posix_spawn_file_actions_addclosefrom_np(3) (glibc 2.34, _GNU_SOURCE): the child closes every
/// fd from `lowest` up, whatever its close-on-exec flag.
int skiff_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int lowest);

/// A new pseudo-terminal: returns its master fd (close-on-exec, not the caller's controlling
/// terminal) and writes the slave's path, or -1 with errno set.
int skiff_open_terminal(char *slave_path, size_t length);

/// TIOCSWINSZ on a terminal fd.
int skiff_set_terminal_size(int fd, unsigned short columns, unsigned short rows);

/// prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants are re-parented to this process instead
/// of the node's init (prctl is variadic, which Swift cannot call).
int skiff_become_child_subreaper(void);

/// inotify_init1(IN_CLOEXEC) and inotify_add_watch(2) for the events a directory watcher needs
/// (files closed after writing, or moved in); the event size and mask bits are returned for parsing.
int skiff_inotify_watch_directory(const char *path);
enum {
    SKIFF_IN_CLOSE_WRITE = 0x00000008,
    SKIFF_IN_MOVED_TO = 0x00000080,
    SKIFF_IN_Q_OVERFLOW = 0x00004000,
    SKIFF_INOTIFY_EVENT_HEADER = 16,
};

/// A detached copy of the mount at `path` (open_tree(2) OPEN_TREE_CLONE, with its submounts when
/// `recursive`) whose files' owners are seen through the ID mapping of the user namespace
/// `userns_fd` (mount_setattr(2) MOUNT_ATTR_IDMAP), read-only when `read_only`. Returns the mount's
/// fd (close-on-exec; closing it before attaching drops the copy) or -1 with errno set.
int skiff_open_idmapped_tree(const char *path, int userns_fd, int recursive, int read_only);

/// move_mount(2) of a detached mount fd onto `target`.
int skiff_attach_mount(int tree, const char *target);

/// makedev(3) is a macro in glibc.
static inline dev_t skiff_makedev(unsigned int major, unsigned int minor) { return makedev(major, minor); }
static inline unsigned int skiff_major(dev_t device) { return major(device); }
static inline unsigned int skiff_minor(dev_t device) { return minor(device); }

/// Flags Swift's Glibc module does not export (they need _GNU_SOURCE).
enum {
    SKIFF_AT_EMPTY_PATH = 0x1000,
    SKIFF_O_PATH = 010000000,
};

/// The RESOLVE_* flags of openat2, which the kernel headers here may not define.
enum {
    SKIFF_RESOLVE_NO_XDEV = 0x01,
    SKIFF_RESOLVE_NO_MAGICLINKS = 0x02,
    SKIFF_RESOLVE_NO_SYMLINKS = 0x04,
    SKIFF_RESOLVE_BENEATH = 0x08,
    SKIFF_RESOLVE_IN_ROOT = 0x10,
};

/// malloc_trim(0): returns the C heap's free pages to the kernel; 1 when memory was released.
int skiff_malloc_trim(void);

#endif
