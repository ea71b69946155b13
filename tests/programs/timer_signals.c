// POSIX timers delivering process-directed signals to a multi-threaded process: one timer
// raises SIGALRM, another SIGRTMIN+2 (both SIGEV_SIGNAL, so the kernel picks any thread that
// does not block the signal). Main blocks both; eight workers compute with handlers installed,
// so the handlers run on many threads. Ends when both signals arrived `target` times
// (argv[1], default 200). Output is deterministic; which thread handled what goes to stderr.
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 8

static atomic_long alrm, rt;
static atomic_int stop;
static __thread long handled_here;
static long per_thread[WORKERS];
static uint64_t results[WORKERS];

static void on_alrm(int sig) { (void)sig; atomic_fetch_add(&alrm, 1); handled_here++; }
static void on_rt(int sig) { (void)sig; atomic_fetch_add(&rt, 1); handled_here++; }

static void *work(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    uint64_t x = id + 1;
    while (!atomic_load(&stop)) {
        for (int i = 0; i < 1000; i++) x = x * 6364136223846793005ull + 1442695040888963407ull;
    }
    results[id] = x;
    per_thread[id] = handled_here;
    return NULL;
}

static timer_t start_timer(int sig) {
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = sig;
    timer_t t;
    if (timer_create(CLOCK_MONOTONIC, &sev, &t) != 0) { perror("timer_create"); exit(3); }
    struct itimerspec its = { { 0, 500000 }, { 0, 500000 } };  /* every 0.5 ms */
    if (timer_settime(t, 0, &its, NULL) != 0) { perror("timer_settime"); exit(3); }
    return t;
}

int main(int argc, char **argv) {
    long target = argc > 1 ? atol(argv[1]) : 200;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_alrm;
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = on_rt;
    sigaction(SIGRTMIN + 2, &sa, NULL);

    pthread_t t[WORKERS];
    for (uintptr_t i = 0; i < WORKERS; i++) pthread_create(&t[i], NULL, work, (void *)i);
    /* Main blocks both (after starting the workers, who keep them unblocked). */
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGALRM);
    sigaddset(&both, SIGRTMIN + 2);
    pthread_sigmask(SIG_BLOCK, &both, NULL);

    timer_t ta = start_timer(SIGALRM), tr = start_timer(SIGRTMIN + 2);
    while (atomic_load(&alrm) < target || atomic_load(&rt) < target) {
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    timer_delete(ta);
    timer_delete(tr);
    atomic_store(&stop, 1);
    int threads_that_handled = 0;
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(t[i], NULL);
        threads_that_handled += per_thread[i] > 0;
    }
    fprintf(stderr, "alrm %ld rt %ld, %d threads handled signals\n", (long)alrm, (long)rt, threads_that_handled);
    printf("timer signals: SIGALRM and SIGRTMIN+2 each at least %ld times\n", target);
    return 0;
}
