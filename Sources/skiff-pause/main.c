// skiff-pause: the process that holds a pod's shared PID namespace, as PID 1 in it.
//
// It does nothing but wait: it reaps every orphan the pod's containers leave to it (it is the
// namespace's init) and exits 0 on SIGTERM or SIGINT. Built statically so it runs in an empty
// root filesystem; skiffd runs it through the pod's OCI runtime under conmon, like any
// container, when a pod shares one PID namespace among its containers.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
        puts("skiff-pause 1");
        return 0;
    }
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
    for (;;) pause();
}
