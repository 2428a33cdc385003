/* critest's NoNewPrivs specs run registry.k8s.io/e2e-test-images/nonewprivs:1.3 as uid 1000 and
 * expect "Effective uid: 0" from its setuid-root entrypoint when privilege escalation is allowed
 * and "Effective uid: 1000" when no_new_privs is set. This is that entrypoint (the image's own is
 * the same few lines, kubernetes/test/images/nonewprivs); serve-images.sh compiles it and
 * skiff-fixture installs it setuid root at /usr/local/bin/nnp. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    printf("Effective uid: %d\n", (int)geteuid());
    return 0;
}
