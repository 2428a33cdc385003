// skiff-pause: the process that holds a pod's shared PID namespace, as PID 1 in it.
//
//   skiff-pause [--confined]      the pause itself
//   skiff-pause start OPTIONS…    makes the PID namespace and its pause (launch.c)
//   skiff-pause --version
//
// The pause does nothing but wait: it reaps every orphan the pod's containers leave to it (it is
// the namespace's init) and exits 0 on SIGTERM or SIGINT. With --confined (as `start` runs it) it
// then allows itself only those system calls (confine.c). Built statically so it runs in an
// empty root filesystem. skiffd starts it with `start` for runc and crun pods that share a PID
// namespace; for a gVisor pod it is the sandbox's first container, run through runsc.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pause.h"

static void stop(int signal) {
    (void)signal;
    _exit(0);
}

static void reap(int signal) {
    (void)signal;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        puts("skiff-pause 2");
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "start") == 0) return launch_pause(argc, argv);
    int confined = argc > 1 && strcmp(argv[1], "--confined") == 0;
    // Executed through a descriptor, the kernel names the process after it ("3"): ps shows "pause".
    prctl(PR_SET_NAME, "pause", 0, 0, 0);
    if (getpid() != 1) fprintf(stderr, "skiff-pause: warning: not PID 1 of a namespace (pid %d)\n", getpid());
    struct sigaction action;
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_handler = stop;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    action.sa_handler = reap;
    action.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGCHLD, &action, NULL);
    // Orphans that died before the handler was set.
    reap(SIGCHLD);
    if (confined && confine_pause() != 0) return 1;
    for (;;) pause();
}
