// skiff-pause start: makes a pod's PID namespace and its PID 1 without an OCI runtime.
//
//   skiff-pause start --root EMPTY_DIR [--cgroup DIR]... [--oom-score-adj N]
//                     [--net PATH] [--ipc PATH] [--uts PATH] [--user PATH]
//
// This process (run by skiffd, short-lived) joins the cgroup directories, sets its
// oom_score_adj, joins the pod's pinned namespaces (the user namespace last: the others belong to
// it, and this process needs the node's root for the rest), unshares a PID namespace and forks.
// The child is PID 1 of that namespace. It takes a mount namespace of its own, mounts an empty
// read-only tmpfs on EMPTY_DIR and pivots into it (so /proc/1/root shows the pod's containers
// nothing of the node), starts a session of its own (no process group of skiffd's reaches it),
// drops every capability, sets no_new_privs and execs this same binary as "/pause --confined"
// through a descriptor opened before the pivot; the pause then installs its seccomp filter.
//
// On success this process prints "PID STARTTIME" (the child's pid on the node and its start time
// from /proc/PID/stat, which together name it even after the pid is reused) and exits 0; the
// pause is then re-parented to skiffd, a child subreaper. On failure it prints one line on stderr
// and exits 1, and the child, if it was made, is gone.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pause.h"

enum { MAX_CGROUPS = 32 };

struct launch {
    const char *root, *net, *ipc, *uts, *user;
    const char *cgroups[MAX_CGROUPS];
    int cgroup_count;
    const char *oom_score_adj;
};

static int fail(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    fputs("skiff-pause start: ", stderr);
    vfprintf(stderr, format, arguments);
    fputc('\n', stderr);
    va_end(arguments);
    return 1;
}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t length = (ssize_t)strlen(text);
    ssize_t written = write(fd, text, (size_t)length);
    int saved = errno;
    close(fd);
    errno = saved;
    return written == length ? 0 : -1;
}

static int join(const char *path, int type, const char *kind) {
    if (!path) return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail("cannot open the pod's %s namespace %s: %s", kind, path, strerror(errno));
    int joined = setns(fd, type);
    int saved = errno;
    close(fd);
    if (joined != 0) return fail("cannot join the pod's %s namespace %s: %s", kind, path, strerror(saved));
    return 0;
}

// In the child, which must not return: reports a failure through the pipe and exits.
static void child_fail(int report, const char *what) {
    char message[512];
    int length = snprintf(message, sizeof message, "%s: %s", what, strerror(errno));
    if (length > 0) (void)!write(report, message, (size_t)length);
    _exit(1);
}

static void drop_capabilities(int report) {
    for (int cap = 0; cap <= 63; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) child_fail(report, "cannot drop a capability from the bounding set");
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) child_fail(report, "cannot clear the ambient capabilities");
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &header, data) != 0) child_fail(report, "cannot drop the capabilities");
}

// PID 1 of the new namespace: confine itself, then become the pause.
static void become_pause(const struct launch *request, int report, int self) {
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) child_fail(report, "cannot open /dev/null");
    if (unshare(CLONE_NEWNS) != 0) child_fail(report, "cannot unshare a mount namespace");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) child_fail(report, "cannot make the mounts private");
    if (mount("tmpfs", request->root, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,nr_inodes=1,mode=0555") != 0) {
        child_fail(report, "cannot mount the empty root");
    }
    if (chdir(request->root) != 0) child_fail(report, "cannot enter the empty root");
    if (syscall(SYS_pivot_root, ".", ".") != 0) child_fail(report, "cannot pivot into the empty root");
    if (umount2(".", MNT_DETACH) != 0) child_fail(report, "cannot detach the node's root");
    if (chdir("/") != 0) child_fail(report, "cannot enter /");
    if (setsid() < 0) child_fail(report, "cannot start a session");
    for (int fd = 0; fd <= 2; fd++) {
        if (dup2(null, fd) < 0) child_fail(report, "cannot redirect the standard descriptors");
    }
    drop_capabilities(report);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(report, "cannot set no_new_privs");
    char *const argv[] = {"/pause", "--confined", NULL};
    char *const envp[] = {NULL};
    syscall(SYS_execveat, self, "", argv, envp, AT_EMPTY_PATH);
    child_fail(report, "cannot execute the pause");
}

// Field 22 of /proc/PID/stat, counted after the command's closing parenthesis.
static int start_time(pid_t pid, unsigned long long *value) {
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t length = read(fd, text, sizeof text - 1);
    close(fd);
    if (length <= 0) return -1;
    text[length] = 0;
    char *field = strrchr(text, ')');
    if (!field) return -1;
    for (int index = 2; index < 22 && field; index++) field = strchr(field + 1, ' ');
    if (!field) return -1;
    return sscanf(field + 1, "%llu", value) == 1 ? 0 : -1;
}

static int parse(int argc, char **argv, struct launch *request) {
    memset(request, 0, sizeof *request);
    for (int i = 2; i < argc; i++) {
        const char *option = argv[i];
        if (i + 1 >= argc) return fail("%s needs a value", option);
        const char *value = argv[++i];
        if (strcmp(option, "--root") == 0) request->root = value;
        else if (strcmp(option, "--net") == 0) request->net = value;
        else if (strcmp(option, "--ipc") == 0) request->ipc = value;
        else if (strcmp(option, "--uts") == 0) request->uts = value;
        else if (strcmp(option, "--user") == 0) request->user = value;
        else if (strcmp(option, "--oom-score-adj") == 0) request->oom_score_adj = value;
        else if (strcmp(option, "--cgroup") == 0) {
            if (request->cgroup_count == MAX_CGROUPS) return fail("more than %d --cgroup directories", MAX_CGROUPS);
            request->cgroups[request->cgroup_count++] = value;
        } else return fail("unknown option %s", option);
    }
    if (!request->root) return fail("--root is required");
    return 0;
}

int launch_pause(int argc, char **argv) {
    struct launch request;
    if (parse(argc, argv, &request) != 0) return 1;
    int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (self < 0) return fail("cannot open its own executable: %s", strerror(errno));
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "%d", (int)getpid());
    for (int i = 0; i < request.cgroup_count; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/cgroup.procs", request.cgroups[i]);
        if (write_file(path, pid_text) != 0) return fail("cannot join the cgroup %s: %s", request.cgroups[i], strerror(errno));
    }
    // A refused value (no CAP_SYS_RESOURCE for a negative one) is clamped by skiffd beforehand.
    if (request.oom_score_adj && write_file("/proc/self/oom_score_adj", request.oom_score_adj) != 0) {
        return fail("cannot set oom_score_adj %s: %s", request.oom_score_adj, strerror(errno));
    }
    if (setgroups(0, NULL) != 0) return fail("cannot drop the supplementary groups: %s", strerror(errno));
    if (join(request.net, CLONE_NEWNET, "network") || join(request.ipc, CLONE_NEWIPC, "IPC") || join(request.uts, CLONE_NEWUTS, "UTS")
        || join(request.user, CLONE_NEWUSER, "user")) {
        return 1;
    }
    if (request.user && (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0)) {
        return fail("cannot become root of the pod's user namespace: %s", strerror(errno));
    }
    if (unshare(CLONE_NEWPID) != 0) return fail("cannot unshare a PID namespace: %s", strerror(errno));
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return fail("cannot make a pipe: %s", strerror(errno));
    pid_t child = fork();
    if (child < 0) return fail("cannot fork the pause: %s", strerror(errno));
    if (child == 0) {
        close(report[0]);
        become_pause(&request, report[1], self);
    }
    close(report[1]);
    // The pipe closes on the child's exec (success) or exit (failure, after its message).
    char message[512];
    ssize_t length;
    do {
        length = read(report[0], message, sizeof message - 1);
    } while (length < 0 && errno == EINTR);
    if (length > 0) {
        message[length] = 0;
        waitpid(child, NULL, 0);
        return fail("%s", message);
    }
    unsigned long long started = 0;
    if (start_time(child, &started) != 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return fail("cannot read the start time of the pause (pid %d)", (int)child);
    }
    printf("%d %llu\n", (int)child, started);
    return fflush(stdout) == 0 ? 0 : 1;
}
