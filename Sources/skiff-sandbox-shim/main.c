// skiff-sandbox-shim: lets conmon monitor a container that runs inside a pod sandbox (gVisor).
//
// A sandbox runtime such as runsc runs every container of a pod inside the pod's one sandbox
// process. `runsc create` of such a container writes the *sandbox's* pid to its pid file (not a
// child of conmon, so conmon cannot wait for it), and the container's stdio is the stdio of
// `runsc start`, not of `create`. conmon therefore runs this shim as the runtime:
//
//   skiff-sandbox-shim --skiff-runtime=RUNSC --skiff-holders=DIR [GLOBAL...] create
//                      --bundle B --pid-file P [--console-socket S] ... ID
//
// runs `RUNSC GLOBAL... create ...` and, once it succeeded, forks a *holder* that stands for
// the container: it keeps conmon's stdio pipes, its pid goes into P (and DIR/ID.pid), and the
// shim exits so the holder becomes conmon's child. The holder waits for a signal:
//   SIGUSR1            the container was started: it runs `RUNSC GLOBAL... wait ID` and exits
//                      with the container's exit status (128+N for a signal), which conmon
//                      records as the container's; 137 when the sandbox is gone.
//   SIGTERM/INT/HUP    the container was deleted without being started: exits 137.
//
//   skiff-sandbox-shim start HOLDER-PID-FILE ID -- RUNSC GLOBAL... start ID
//
// (run by skiffd for StartContainer) opens the holder's stdin, stdout and stderr through
// /proc/<holder>/fd, runs the start command with them as its stdio — runsc hands them to the
// container — and on success sends the holder SIGUSR1. Exits with the start command's status;
// its own failures exit 125 with one line on stderr.
//
// Any other subcommand (state, kill, delete, …) is passed to RUNSC unchanged.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { SHIM_FAILED = 125, SANDBOX_GONE = 137 };

static int fail(const char *what, const char *detail) {
    fprintf(stderr, "skiff-sandbox-shim: %s%s%s%s%s\n", what, detail ? " " : "", detail ? detail : "",
            errno ? ": " : "", errno ? strerror(errno) : "");
    return SHIM_FAILED;
}

// Writes "PID\n" to path through a temporary file and a rename, so a reader never sees half.
static int write_pid_file(const char *path, pid_t pid) {
    char temporary[PATH_MAX];
    if (snprintf(temporary, sizeof temporary, "%s.tmp-%d", path, (int)getpid()) >= (int)sizeof temporary) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    char text[32];
    int length = snprintf(text, sizeof text, "%d\n", (int)pid);
    int ok = write(fd, text, (size_t)length) == length && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(temporary, path) != 0) {
        unlink(temporary);
        return -1;
    }
    return 0;
}

// Runs argv to its end with the given stdio (-1 keeps ours); returns its exit status the way a
// shell reports it (128+N for a signal), or -1 when it could not run.
static int run(char *const argv[], int in, int out, int err) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if ((in >= 0 && dup2(in, 0) < 0) || (out >= 0 && dup2(out, 1) < 0) || (err >= 0 && dup2(err, 2) < 0))
            _exit(SHIM_FAILED);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// `RUNSC GLOBAL... wait ID` prints {"id":"…","exitStatus":N}; returns N, or -1.
static int wait_for_exit(char **global, int global_count, const char *runtime, const char *id) {
    char *argv[global_count + 4];
    argv[0] = (char *)runtime;
    for (int i = 0; i < global_count; i++) argv[1 + i] = global[i];
    argv[1 + global_count] = "wait";
    argv[2 + global_count] = (char *)id;
    argv[3 + global_count] = NULL;
    int output[2];
    if (pipe2(output, O_CLOEXEC) != 0) return -1;
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(null, 0);
        dup2(output[1], 1);
        dup2(null, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(output[1]);
    char text[4096];
    size_t length = 0;
    for (;;) {
        ssize_t count = read(output[0], text + length, sizeof text - 1 - length);
        if (count > 0) {
            length += (size_t)count;
            if (length < sizeof text - 1) continue;
        }
        if (count < 0 && errno == EINTR) continue;
        break;
    }
    close(output[0]);
    text[length] = 0;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    const char *field = strstr(text, "\"exitStatus\":");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !field) return -1;
    return atoi(field + strlen("\"exitStatus\":"));
}

// What the holder waits for: SIGUSR1 (started) and the signals that end it unstarted.
static sigset_t holder_signals(void) {
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGUSR1);
    sigaddset(&wanted, SIGTERM);
    sigaddset(&wanted, SIGINT);
    sigaddset(&wanted, SIGHUP);
    return wanted;
}

// The holder: stands for the container as conmon's child until the container ends.
static void hold(char **global, int global_count, const char *runtime, const char *id, const char *holder_file) {
    sigset_t wanted = holder_signals();
    for (;;) {
        int signal = sigwaitinfo(&wanted, NULL);
        if (signal < 0) {
            if (errno == EINTR) continue;
            _exit(SANDBOX_GONE);
        }
        if (signal != SIGUSR1) {
            unlink(holder_file);
            _exit(SANDBOX_GONE);
        }
        int status = wait_for_exit(global, global_count, runtime, id);
        unlink(holder_file);
        _exit(status < 0 ? SANDBOX_GONE : status & 0xff);
    }
}

// args: the runtime's arguments (global flags, "create", its options, the ID), args[count] NULL.
static int create(char **args, int count, int create_at, const char *runtime, const char *holders) {
    const char *id = args[count - 1];
    const char *pid_file = NULL;
    for (int i = create_at + 1; i + 1 < count; i++) {
        if (strcmp(args[i], "--pid-file") == 0) pid_file = args[i + 1];
    }
    if (!pid_file) {
        errno = 0;
        return fail("conmon gave no --pid-file for", id);
    }
    char holder_file[PATH_MAX];
    if (snprintf(holder_file, sizeof holder_file, "%s/%s.pid", holders, id) >= (int)sizeof holder_file) {
        errno = ENAMETOOLONG;
        return fail("holder pid file name of", id);
    }
    if (mkdir(holders, 0700) != 0 && errno != EEXIST) return fail("cannot create", holders);

    char *runtime_argv[count + 2];
    runtime_argv[0] = (char *)runtime;
    for (int i = 0; i < count; i++) runtime_argv[1 + i] = args[i];
    runtime_argv[count + 1] = NULL;
    int status = run(runtime_argv, -1, -1, -1);
    if (status != 0) return status < 0 ? fail("cannot run", runtime) : status;

    // Signals the holder waits for are blocked before it exists, so none is lost.
    sigset_t wanted = holder_signals();
    sigprocmask(SIG_BLOCK, &wanted, NULL);
    pid_t holder = fork();
    if (holder < 0) return fail("cannot fork the holder of", id);
    if (holder == 0) {
        // Only conmon's stdio stays open: the sync pipe and anything else conmon gave the
        // runtime must not outlive the create.
        close_range(3, ~0U, 0);
        setsid();
        hold(args, create_at, runtime, id, holder_file);
    }
    if (write_pid_file(holder_file, holder) != 0 || write_pid_file(pid_file, holder) != 0) {
        kill(holder, SIGKILL);
        unlink(holder_file);
        return fail("cannot write the pid of the holder of", id);
    }
    return 0;
}

// Reads a pid file; 0 when it holds none.
static pid_t read_pid(const char *path) {
    FILE *file = fopen(path, "re");
    if (!file) return 0;
    long pid = 0;
    if (fscanf(file, "%ld", &pid) != 1) pid = 0;
    fclose(file);
    return pid > 0 ? (pid_t)pid : 0;
}

// Whether pid is still the holder of id (its command line names the shim and the ID): a pid
// reused by another process is never signalled or borrowed from.
static int is_holder(pid_t pid, const char *id) {
    char path[64], line[8192];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t length = read(fd, line, sizeof line - 1);
    close(fd);
    if (length <= 0) return 0;
    line[length] = 0;
    int names_shim = strstr(line, "skiff-sandbox-shim") != NULL, names_id = 0;
    for (ssize_t i = 0; i < length; i += (ssize_t)strlen(line + i) + 1) {
        if (strcmp(line + i, id) == 0) names_id = 1;
    }
    return names_shim && names_id;
}

static int start(int argc, char **argv) {
    // start HOLDER-PID-FILE ID -- RUNTIME ARGS...
    if (argc < 6 || strcmp(argv[4], "--") != 0) {
        errno = 0;
        return fail("usage: skiff-sandbox-shim start HOLDER-PID-FILE ID -- RUNTIME ARGS...", NULL);
    }
    const char *id = argv[3];
    pid_t holder = read_pid(argv[2]);
    if (holder == 0 || !is_holder(holder, id)) {
        errno = 0;
        return fail("the container's holder process is gone:", id);
    }
    int stdio[3];
    for (int fd = 0; fd < 3; fd++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)holder, fd);
        // A pipe opened through /proc is the same pipe, in the direction asked for.
        stdio[fd] = open(path, (fd == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
        if (stdio[fd] < 0) return fail("cannot open the holder's stdio", path);
    }
    int status = run(argv + 5, stdio[0], stdio[1], stdio[2]);
    if (status < 0) return fail("cannot run", argv[5]);
    if (status == 0 && kill(holder, SIGUSR1) != 0) return fail("cannot signal the holder of", id);
    return status;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "start") == 0) return start(argc, argv);
    // The shim's own flags may come anywhere before the subcommand (conmon puts its --root
    // first); everything else is the runtime's.
    const char *runtime = NULL, *holders = NULL;
    char *args[argc + 1];
    int count = 0, create_at = -1;
    for (int i = 1; i < argc; i++) {
        if (create_at < 0 && strncmp(argv[i], "--skiff-runtime=", 16) == 0) {
            runtime = argv[i] + 16;
        } else if (create_at < 0 && strncmp(argv[i], "--skiff-holders=", 16) == 0) {
            holders = argv[i] + 16;
        } else {
            if (create_at < 0 && strcmp(argv[i], "create") == 0) create_at = count;
            args[count++] = argv[i];
        }
    }
    args[count] = NULL;
    if (!runtime || !holders) {
        errno = 0;
        return fail("usage: skiff-sandbox-shim --skiff-runtime=PATH --skiff-holders=DIR [ARGS...] SUBCOMMAND ...",
                    NULL);
    }
    if (create_at >= 0 && create_at < count - 1) return create(args, count, create_at, runtime, holders);
    // Anything else goes to the runtime as it is.
    char *runtime_argv[count + 2];
    runtime_argv[0] = (char *)runtime;
    for (int i = 0; i < count; i++) runtime_argv[1 + i] = args[i];
    runtime_argv[count + 1] = NULL;
    execv(runtime, runtime_argv);
    return fail("cannot run", runtime);
}
