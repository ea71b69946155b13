// SIGCHLD and SIGPIPE. argv[1]:
//   "chld": a SIGCHLD handler while `n` children (argv[2], default 64) exit, each with its
//           own status; the parent reaps them all and prints the sum of their statuses.
//   "pipe": a SIGPIPE handler; writes to a pipe whose read end is closed, `n` times (default
//           500): each write fails with EPIPE after the handler ran.
//   "pipe-default": SIGPIPE at its default action: the process dies of it on the first write.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_long chld, pipes;

static void on_chld(int sig) { (void)sig; atomic_fetch_add(&chld, 1); }
static void on_pipe(int sig) { (void)sig; atomic_fetch_add(&pipes, 1); }

static int children(int n) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p < 0) { perror("fork"); return 2; }
        if (p == 0) {
            unsigned long x = i;
            for (int k = 0; k < 1000 * (i % 7); k++) x = x * 6364136223846793005ul + 1;
            _exit((int)(i % 100) + (int)(x & 0));
        }
    }
    long sum = 0;
    for (int reaped = 0; reaped < n;) {
        int status;
        pid_t p = wait(&status);
        if (p < 0) {
            if (errno == EINTR) continue;
            perror("wait");
            return 3;
        }
        if (!WIFEXITED(status)) return 4;
        sum += WEXITSTATUS(status);
        reaped++;
    }
    printf("reaped %d children, statuses sum %ld, SIGCHLD handled: %s\n", n, sum, chld > 0 ? "yes" : "no");
    return chld > 0 ? 0 : 1;
}

static int write_to_closed(int n, int handled) {
    if (handled) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_pipe;
        sigaction(SIGPIPE, &sa, NULL);
    }
    printf("writing to closed pipes\n");
    fflush(stdout);
    int epipe = 0;
    for (int i = 0; i < n; i++) {
        int fd[2];
        if (pipe(fd) != 0) return 2;
        close(fd[0]);
        if (write(fd[1], "x", 1) < 0 && errno == EPIPE) epipe++;
        close(fd[1]);
    }
    printf("EPIPE %d of %d, SIGPIPE handled %ld times\n", epipe, n, (long)pipes);
    return epipe == n && pipes == n ? 0 : 1;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "chld";
    int n = argc > 2 ? atoi(argv[2]) : 0;
    if (strcmp(mode, "chld") == 0) return children(n ? n : 64);
    if (strcmp(mode, "pipe") == 0) return write_to_closed(n ? n : 500, 1);
    if (strcmp(mode, "pipe-default") == 0) return write_to_closed(1, 0);
    return 2;
}
