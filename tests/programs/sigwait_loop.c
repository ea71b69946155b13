// SIGUSR2 blocked in every thread, taken with sigwait by one of them, `rounds` times
// (argv[2], default 300). argv[1] names the sender: "self" (a thread of this process calls
// kill(getpid(), SIGUSR2)) or "child" (a forked child process sends them to its parent).
// argv[3] "fpe" or "segv" sends SIGFPE or SIGSEGV instead (kill()ed, not faults: signals
// a thread running a script with signal-based traps leaves unblocked). Plain QEMU never
// finishes "segv": it keeps SIGSEGV unblocked on every host thread, and one that lands on a
// thread whose guest mask blocks it stays pending there.
// Each signal is acknowledged before the next is sent, so none coalesce. Four more threads
// compute meanwhile.
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUSY 4

static atomic_int stop;
static int rounds;
static int ack[2];   /* waiter -> sender: one byte per signal taken */
static long taken;
static int signo = SIGUSR2;

static void *busy(void *arg) {
    uint64_t x = (uintptr_t)arg;
    while (!atomic_load(&stop)) x = x * 6364136223846793005ull + 1;
    return (void *)(uintptr_t)(x & 1);
}

static void *waiter(void *arg) {
    (void)arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    for (int i = 0; i < rounds; i++) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0 || sig != signo) { fprintf(stderr, "sigwait failed\n"); exit(4); }
        taken++;
        if (write(ack[1], "a", 1) != 1) exit(5);
    }
    return NULL;
}

static void send_all(pid_t to) {
    char c;
    for (int i = 0; i < rounds; i++) {
        if (kill(to, signo) != 0) { perror("kill"); exit(6); }
        if (read(ack[0], &c, 1) != 1) exit(7);
    }
}

static void *self_sender(void *arg) {
    (void)arg;
    send_all(getpid());
    return NULL;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "self";
    rounds = argc > 2 ? atoi(argv[2]) : 300;
    if (argc > 3) signo = strcmp(argv[3], "fpe") == 0 ? SIGFPE : strcmp(argv[3], "segv") == 0 ? SIGSEGV : SIGUSR2;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    pthread_sigmask(SIG_BLOCK, &set, NULL);   /* inherited by every thread */
    if (pipe(ack) != 0) return 2;

    pthread_t b[BUSY], w, s;
    for (uintptr_t i = 0; i < BUSY; i++) pthread_create(&b[i], NULL, busy, (void *)(i + 1));
    pthread_create(&w, NULL, waiter, NULL);
    pid_t child = -1;
    if (strcmp(mode, "child") == 0) {
        pid_t parent = getpid();
        child = fork();
        if (child == 0) {
            send_all(parent);
            _exit(0);
        }
    } else {
        pthread_create(&s, NULL, self_sender, NULL);
    }
    pthread_join(w, NULL);
    if (child > 0) {
        int status;
        waitpid(child, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { fprintf(stderr, "sender failed\n"); return 8; }
    } else {
        pthread_join(s, NULL);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < BUSY; i++) pthread_join(b[i], NULL);
    const char *name = signo == SIGFPE ? "SIGFPE" : signo == SIGSEGV ? "SIGSEGV" : "SIGUSR2";
    printf("sigwait (%s): took %s %ld times of %d\n", mode, name, taken, rounds);
    return taken == rounds ? 0 : 1;
}
