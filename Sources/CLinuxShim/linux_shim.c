#define _GNU_SOURCE
#include "linux_shim.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>

#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

struct skiff_open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};

int skiff_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct skiff_open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int skiff_pidfd_open(pid_t pid, unsigned int flags) {
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

int skiff_pidfd_send_signal(int pidfd, int signal) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0);
}

int skiff_setns(int fd, int nstype) { return setns(fd, nstype); }

int skiff_unshare(int flags) { return unshare(flags); }

int skiff_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int skiff_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path)
{
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

int skiff_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int lowest)
{
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
}

int skiff_open_terminal(char *slave_path, size_t length) {
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return -1;
    if (grantpt(master) != 0 || unlockpt(master) != 0 || ptsname_r(master, slave_path, length) != 0) {
        int saved = errno;
        close(master);
        errno = saved;
        return -1;
    }
    // Raw input from the start (what the OCI runtime sets once it runs): bytes a client sends
    // before then must pass through as they are, not be echoed or taken as line editing or EOF.
    // Output keeps OPOST|ONLCR, as a terminal the runtime runs on would.
    int slave = open(slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    struct termios settings;
    if (slave < 0 || tcgetattr(slave, &settings) != 0) {
        int saved = errno;
        if (slave >= 0) close(slave);
        close(master);
        errno = saved;
        return -1;
    }
    cfmakeraw(&settings);
    settings.c_oflag |= OPOST | ONLCR;
    int result = tcsetattr(slave, TCSANOW, &settings);
    int saved = errno;
    close(slave);
    if (result != 0) {
        close(master);
        errno = saved;
        return -1;
    }
    return master;
}

int skiff_set_terminal_size(int fd, unsigned short columns, unsigned short rows) {
    struct winsize size = { .ws_row = rows, .ws_col = columns };
    return ioctl(fd, TIOCSWINSZ, &size);
}

int skiff_become_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

int skiff_inotify_watch_directory(const char *path) {
    int fd = inotify_init1(IN_CLOEXEC);
    if (fd < 0) return -1;
    if (inotify_add_watch(fd, path, IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
        int error = errno;
        close(fd);
        errno = error;
        return -1;
    }
    return fd;
}

// The new mount API (Linux 5.12+ for mount_setattr). Numbers and flags from the kernel's uapi
// headers, defined here because glibc 2.36's <sys/mount.h> and <linux/mount.h> conflict.
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#define SKIFF_OPEN_TREE_CLONE 1
#define SKIFF_AT_RECURSIVE 0x8000
#define SKIFF_AT_EMPTY_PATH 0x1000
#define SKIFF_MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define SKIFF_MOUNT_ATTR_RDONLY 0x00000001
#define SKIFF_MOUNT_ATTR_IDMAP 0x00100000

struct skiff_mount_attr {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
};

int skiff_open_idmapped_tree(const char *path, int userns_fd, int recursive, int read_only) {
    unsigned int flags = SKIFF_OPEN_TREE_CLONE | O_CLOEXEC | (recursive ? SKIFF_AT_RECURSIVE : 0);
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, path, flags);
    if (tree < 0) return -1;
    struct skiff_mount_attr attr = {0};
    attr.attr_set = SKIFF_MOUNT_ATTR_IDMAP | (read_only ? SKIFF_MOUNT_ATTR_RDONLY : 0);
    attr.userns_fd = (uint64_t)userns_fd;
    unsigned int at = SKIFF_AT_EMPTY_PATH | (recursive ? SKIFF_AT_RECURSIVE : 0);
    if (syscall(SYS_mount_setattr, tree, "", at, &attr, sizeof attr) != 0) {
        int saved = errno;
        close(tree);
        errno = saved;
        return -1;
    }
    return tree;
}

int skiff_attach_mount(int tree, const char *target) {
    return (int)syscall(SYS_move_mount, tree, "", AT_FDCWD, target, SKIFF_MOVE_MOUNT_F_EMPTY_PATH);
}

int skiff_malloc_trim(void) { return malloc_trim(0); }
