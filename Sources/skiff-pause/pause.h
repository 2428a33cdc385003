#ifndef SKIFF_PAUSE_H
#define SKIFF_PAUSE_H

// `skiff-pause start …` (launch.c): the pod's PID namespace and its pause, without a runtime.
int launch_pause(int argc, char **argv);

// The pause's own seccomp filter (confine.c): only what waiting and reaping need.
int confine_pause(void);

#endif
