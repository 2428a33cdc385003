// skiff-pinns: creates a pod's namespaces and pins them to files, so they outlive every process.
//
//   skiff-pinns --dir DIR [--net] [--ipc] [--uts] [--hostname NAME] [--sysctl KEY=VALUE]...
//               [--uid-map CONTAINER:HOST:LENGTH --gid-map CONTAINER:HOST:LENGTH]
//   skiff-pinns --check-idmap PATH
//
// unshare(2)s the requested namespaces in this short-lived process, sets the hostname and the
// (namespaced) sysctls inside them, then bind-mounts /proc/self/ns/<kind> onto DIR/<kind>.
//
// With --uid-map/--gid-map the pod gets a user namespace too (CRI userns_options mode POD): a
// child process unshares it, this process writes its ID mappings, and the child, now root of
// that namespace, creates the other namespaces inside it — so they are owned by the pod's user
// namespace and its root may administer them (mount sysfs and mqueue, set its sysctls) — and
// sets the hostname and sysctls. This process then pins /proc/<child>/ns/{user,net,ipc,uts}
// (a bind mount in the node's mount namespace needs the node's root) and lets the child exit.
//
// --check-idmap PATH exits 0 when the kernel can make an idmapped mount of PATH's filesystem.
// CNI
// plugins and the pod's containers join the namespaces through those files; skiffd removes them
// (umount + unlink) when the pod goes. A separate process because unshare(2) must not run on a
// thread of the multi-threaded daemon. On any failure everything done is undone and the exit
// status is 1 with one line on stderr.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// The user namespace first: the others are pinned from the child that made them inside it.
static const char *kinds[] = {"user", "net", "ipc", "uts"};
static const int flags[] = {CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS};
enum { KINDS = 4, USER = 0 };

struct request {
    const char *dir, *hostname, *uid_map, *gid_map;
    int wanted[KINDS];
    const char *sysctls[256];
    int sysctl_count;
};

static void undo(const char *dir, const int pinned[KINDS]) {
    char path[PATH_MAX];
    for (int i = 0; i < KINDS; i++) {
        if (!pinned[i]) continue;
        snprintf(path, sizeof path, "%s/%s", dir, kinds[i]);
        umount2(path, MNT_DETACH);
        unlink(path);
    }
}

static int write_sysctl(const char *assignment) {
    const char *equals = strchr(assignment, '=');
    if (!equals || equals == assignment) { errno = EINVAL; return -1; }
    char path[PATH_MAX] = "/proc/sys/";
    size_t length = strlen(path);
    // Dots separate the path's components; a slash stands for a literal dot inside one (the
    // kubelet's normalised form of net.ipv4.conf.eth0/100.forwarding). skiffd has validated the
    // name; a component that is empty, "." or ".." is still refused here.
    const char *component = path + length;
    for (const char *c = assignment; c <= equals && length < sizeof path - 1; c++) {
        if (c == equals || *c == '.') {
            size_t size = (size_t)(path + length - component);
            if (size == 0 || (size == 1 && component[0] == '.') || (size == 2 && component[0] == '.' && component[1] == '.')) {
                errno = EINVAL;
                return -1;
            }
            if (c == equals) break;
            path[length++] = '/';
            component = path + length;
        } else {
            path[length++] = *c == '/' ? '.' : *c;
        }
    }
    if (length >= sizeof path - 1) { errno = ENAMETOOLONG; return -1; }
    path[length] = 0;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    const char *value = equals + 1;
    ssize_t written = write(fd, value, strlen(value));
    int saved = errno;
    close(fd);
    errno = saved;
    return written == (ssize_t)strlen(value) ? 0 : -1;
}

/// Sets the hostname and sysctls inside the namespaces the calling process is in; on failure
/// writes the reason into `reason` and returns -1.
static int configure(const struct request *r, char *reason, size_t size) {
    if (r->hostname && r->wanted[3] && sethostname(r->hostname, strlen(r->hostname)) != 0) {
        snprintf(reason, size, "sethostname %s: %s", r->hostname, strerror(errno));
        return -1;
    }
    for (int i = 0; i < r->sysctl_count; i++) {
        if (write_sysctl(r->sysctls[i]) != 0) {
            snprintf(reason, size, "sysctl %s: %s", r->sysctls[i], strerror(errno));
            return -1;
        }
    }
    return 0;
}

/// Bind-mounts `<ns_dir>/<kind>` of every wanted namespace onto DIR/<kind>; undoes on failure.
static int pin(const struct request *r, const char *ns_dir) {
    int pinned[KINDS] = {0, 0, 0, 0};
    if (mkdir(r->dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "skiff-pinns: mkdir %s: %s\n", r->dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < KINDS; i++) {
        if (!r->wanted[i]) continue;
        char source[64], target[PATH_MAX];
        snprintf(source, sizeof source, "%s/%s", ns_dir, kinds[i]);
        snprintf(target, sizeof target, "%s/%s", r->dir, kinds[i]);
        int fd = open(target, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
        if (fd < 0) {
            fprintf(stderr, "skiff-pinns: create %s: %s\n", target, strerror(errno));
            undo(r->dir, pinned);
            return -1;
        }
        close(fd);
        if (mount(source, target, NULL, MS_BIND, NULL) != 0) {
            fprintf(stderr, "skiff-pinns: bind %s on %s: %s\n", source, target, strerror(errno));
            unlink(target);
            undo(r->dir, pinned);
            return -1;
        }
        pinned[i] = 1;
    }
    return 0;
}

/// Writes "C H L" (from "C:H:L") into /proc/<pid>/<file>.
static int write_map(pid_t pid, const char *file, const char *map, char *reason, size_t size) {
    unsigned long container, host, length;
    char extra;
    if (sscanf(map, "%lu:%lu:%lu%c", &container, &host, &length, &extra) != 3) {
        snprintf(reason, size, "%s %s: not CONTAINER:HOST:LENGTH", file, map);
        return -1;
    }
    char path[64], line[96];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int n = snprintf(line, sizeof line, "%lu %lu %lu\n", container, host, length);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, line, (size_t)n) != n) {
        snprintf(reason, size, "write %s (%s): %s", path, map, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/// The child's side: a new user namespace, wait for its mappings, become its root, make the
/// other namespaces inside it, configure them, report "ok" or the reason, then wait to be
/// released (the parent pins /proc/<child>/ns/* meanwhile).
static void child(const struct request *r, int to_parent, int from_parent) {
    char reason[512] = "ok";
    char go;
    if (unshare(CLONE_NEWUSER) != 0) {
        snprintf(reason, sizeof reason, "unshare(user): %s", strerror(errno));
        write(to_parent, reason, strlen(reason));
        _exit(1);
    }
    write(to_parent, "u", 1);
    if (read(from_parent, &go, 1) != 1) _exit(1);
    int others = 0;
    for (int i = 1; i < KINDS; i++) if (r->wanted[i]) others |= flags[i];
    if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) {
        snprintf(reason, sizeof reason, "become root of the user namespace: %s", strerror(errno));
    } else if (others && unshare(others) != 0) {
        snprintf(reason, sizeof reason, "unshare inside the user namespace: %s", strerror(errno));
    } else {
        configure(r, reason, sizeof reason);
    }
    write(to_parent, reason, strlen(reason));
    read(from_parent, &go, 1);  // EOF: pinned (or given up); either way this process is done.
    _exit(0);
}

/// A `child` process with its own user namespace, and the pipes to talk to it.
struct namespace_child {
    pid_t pid;
    int from_child, to_child;
};

/// Forks `child` for `r` and, once it has made its user namespace, writes its ID mappings.
/// Returns 0, or -1 with `reason` set; either way `end_child` is called afterwards.
static int start_child(const struct request *r, struct namespace_child *c, char *reason, size_t size) {
    int up[2], down[2];
    c->pid = -1;
    c->from_child = c->to_child = -1;
    if (pipe2(up, O_CLOEXEC) != 0) {
        snprintf(reason, size, "pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe2(down, O_CLOEXEC) != 0) {
        snprintf(reason, size, "pipe: %s", strerror(errno));
        close(up[0]);
        close(up[1]);
        return -1;
    }
    c->pid = fork();
    if (c->pid == 0) {
        close(up[0]);
        close(down[1]);
        child(r, up[1], down[0]);
    }
    close(up[1]);
    close(down[0]);
    c->from_child = up[0];
    c->to_child = down[1];
    if (c->pid < 0) {
        snprintf(reason, size, "fork: %s", strerror(errno));
        return -1;
    }
    ssize_t n = read(c->from_child, reason, size - 1);
    if (n != 1 || reason[0] != 'u') {
        if (n <= 0) snprintf(reason, size, "the namespace child died");
        else reason[n] = 0;
        return -1;
    }
    if (write_map(c->pid, "uid_map", r->uid_map, reason, size) != 0
        || write_map(c->pid, "gid_map", r->gid_map, reason, size) != 0) {
        return -1;
    }
    return 0;
}

/// Releases the child (EOF on its pipe ends it) and reaps it.
static void end_child(struct namespace_child *c) {
    if (c->to_child >= 0) close(c->to_child);
    if (c->from_child >= 0) close(c->from_child);
    if (c->pid > 0) waitpid(c->pid, NULL, 0);
}

static int pin_with_user_namespace(const struct request *r) {
    struct namespace_child c;
    char reason[512] = "";
    int status = 1;
    if (start_child(r, &c, reason, sizeof reason) != 0) {
        fprintf(stderr, "skiff-pinns: %s\n", reason);
        goto done;
    }
    if (write(c.to_child, "m", 1) != 1) goto done;
    ssize_t n = read(c.from_child, reason, sizeof reason - 1);
    reason[n > 0 ? n : 0] = 0;
    if (strcmp(reason, "ok") != 0) {
        fprintf(stderr, "skiff-pinns: %s\n", n > 0 ? reason : "the namespace child died");
        goto done;
    }
    char ns_dir[64];
    snprintf(ns_dir, sizeof ns_dir, "/proc/%d/ns", (int)c.pid);
    status = pin(r, ns_dir) == 0 ? 0 : 1;
done:
    end_child(&c);
    return status;
}

// The new mount API, numbered here as in the kernel's uapi headers (glibc 2.36's <sys/mount.h>
// and <linux/mount.h> conflict).
enum {
    SYSCALL_OPEN_TREE = 428,
    SYSCALL_MOUNT_SETATTR = 442,
    OPEN_TREE_CLONE_FLAG = 1,
    EMPTY_PATH_FLAG = 0x1000,
};
#define MOUNT_ATTR_IDMAP_FLAG 0x00100000ULL

/// --check-idmap: an idmapped copy of PATH's mount through a throwaway user namespace.
static int check_idmap(const char *path) {
    struct request r = {0};
    r.uid_map = r.gid_map = "0:65536:65536";
    struct namespace_child c;
    char reason[512];
    int status = 1;
    if (start_child(&r, &c, reason, sizeof reason) != 0) {
        fprintf(stderr, "skiff-pinns: cannot make a user namespace to check idmapped mounts: %s\n", reason);
        end_child(&c);
        return 1;
    }
    char ns[64];
    snprintf(ns, sizeof ns, "/proc/%d/ns/user", (int)c.pid);
    int userns = open(ns, O_RDONLY | O_CLOEXEC);
    struct { uint64_t set, clear, propagation, userns; } attr = {MOUNT_ATTR_IDMAP_FLAG, 0, 0, (uint64_t)userns};
    int tree = userns < 0 ? -1 : (int)syscall(SYSCALL_OPEN_TREE, AT_FDCWD, path, OPEN_TREE_CLONE_FLAG | O_CLOEXEC);
    if (tree >= 0 && syscall(SYSCALL_MOUNT_SETATTR, tree, "", EMPTY_PATH_FLAG, &attr, sizeof attr) == 0) {
        status = 0;
    } else {
        fprintf(stderr, "skiff-pinns: idmapped mount of %s: %s\n", path, strerror(errno));
    }
    if (tree >= 0) close(tree);
    if (userns >= 0) close(userns);
    end_child(&c);
    return status;
}

int main(int argc, char **argv) {
    struct request r = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--check-idmap") && i + 1 < argc) return check_idmap(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc) r.dir = argv[++i];
        else if (!strcmp(argv[i], "--net")) r.wanted[1] = 1;
        else if (!strcmp(argv[i], "--ipc")) r.wanted[2] = 1;
        else if (!strcmp(argv[i], "--uts")) r.wanted[3] = 1;
        else if (!strcmp(argv[i], "--hostname") && i + 1 < argc) r.hostname = argv[++i];
        else if (!strcmp(argv[i], "--uid-map") && i + 1 < argc) r.uid_map = argv[++i];
        else if (!strcmp(argv[i], "--gid-map") && i + 1 < argc) r.gid_map = argv[++i];
        else if (!strcmp(argv[i], "--sysctl") && i + 1 < argc && r.sysctl_count < 256) r.sysctls[r.sysctl_count++] = argv[++i];
        else { fprintf(stderr, "skiff-pinns: unknown argument %s\n", argv[i]); return 2; }
    }
    r.wanted[USER] = r.uid_map || r.gid_map;
    if (!r.dir || !(r.wanted[1] || r.wanted[2] || r.wanted[3]) || (r.wanted[USER] && !(r.uid_map && r.gid_map))) {
        fprintf(stderr, "usage: skiff-pinns --dir DIR [--net] [--ipc] [--uts] [--hostname NAME] [--sysctl KEY=VALUE]... "
                        "[--uid-map C:H:L --gid-map C:H:L] | --check-idmap PATH\n");
        return 2;
    }
    if (r.wanted[USER]) return pin_with_user_namespace(&r);
    int unshare_flags = 0;
    for (int i = 1; i < KINDS; i++) if (r.wanted[i]) unshare_flags |= flags[i];
    if (unshare(unshare_flags) != 0) {
        fprintf(stderr, "skiff-pinns: unshare: %s\n", strerror(errno));
        return 1;
    }
    char reason[512];
    if (configure(&r, reason, sizeof reason) != 0) {
        fprintf(stderr, "skiff-pinns: %s\n", reason);
        return 1;
    }
    return pin(&r, "/proc/self/ns") == 0 ? 0 : 1;
}
