// skiff-pinns: creates a pod's namespaces and pins them to files, so they outlive every process.
//
//   skiff-pinns --dir DIR [--net] [--ipc] [--uts] [--hostname NAME] [--sysctl KEY=VALUE]...
//
// unshare(2)s the requested namespaces in this short-lived process, sets the hostname and the
// (namespaced) sysctls inside them, then bind-mounts /proc/self/ns/<kind> onto DIR/<kind>. CNI
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
#include <unistd.h>

static const char *kinds[] = {"net", "ipc", "uts"};
static const int flags[] = {CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS};

static void undo(const char *dir, int pinned[3]) {
    char path[PATH_MAX];
    for (int i = 0; i < 3; i++) {
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

int main(int argc, char **argv) {
    const char *dir = NULL, *hostname = NULL;
    int wanted[3] = {0, 0, 0}, pinned[3] = {0, 0, 0};
    const char *sysctls[256];
    int sysctl_count = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--net")) wanted[0] = 1;
        else if (!strcmp(argv[i], "--ipc")) wanted[1] = 1;
        else if (!strcmp(argv[i], "--uts")) wanted[2] = 1;
        else if (!strcmp(argv[i], "--hostname") && i + 1 < argc) hostname = argv[++i];
        else if (!strcmp(argv[i], "--sysctl") && i + 1 < argc && sysctl_count < 256) sysctls[sysctl_count++] = argv[++i];
        else { fprintf(stderr, "skiff-pinns: unknown argument %s\n", argv[i]); return 2; }
    }
    if (!dir || !(wanted[0] || wanted[1] || wanted[2])) {
        fprintf(stderr, "usage: skiff-pinns --dir DIR [--net] [--ipc] [--uts] [--hostname NAME] [--sysctl KEY=VALUE]...\n");
        return 2;
    }
    int unshare_flags = 0;
    for (int i = 0; i < 3; i++) if (wanted[i]) unshare_flags |= flags[i];
    if (unshare(unshare_flags) != 0) {
        fprintf(stderr, "skiff-pinns: unshare: %s\n", strerror(errno));
        return 1;
    }
    if (hostname && wanted[2] && sethostname(hostname, strlen(hostname)) != 0) {
        fprintf(stderr, "skiff-pinns: sethostname %s: %s\n", hostname, strerror(errno));
        return 1;
    }
    for (int i = 0; i < sysctl_count; i++) {
        if (write_sysctl(sysctls[i]) != 0) {
            fprintf(stderr, "skiff-pinns: sysctl %s: %s\n", sysctls[i], strerror(errno));
            return 1;
        }
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "skiff-pinns: mkdir %s: %s\n", dir, strerror(errno));
        return 1;
    }
    for (int i = 0; i < 3; i++) {
        if (!wanted[i]) continue;
        char source[64], target[PATH_MAX];
        snprintf(source, sizeof source, "/proc/self/ns/%s", kinds[i]);
        snprintf(target, sizeof target, "%s/%s", dir, kinds[i]);
        int fd = open(target, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
        if (fd < 0) {
            fprintf(stderr, "skiff-pinns: create %s: %s\n", target, strerror(errno));
            undo(dir, pinned);
            return 1;
        }
        close(fd);
        if (mount(source, target, NULL, MS_BIND, NULL) != 0) {
            fprintf(stderr, "skiff-pinns: bind %s on %s: %s\n", source, target, strerror(errno));
            unlink(target);
            undo(dir, pinned);
            return 1;
        }
        pinned[i] = 1;
    }
    return 0;
}
