// Starts `n` threads (argv[1], default 4), prints the id of every guest thread (gettid: QEMU
// user mode passes host thread ids through) one per line as "tid N", then "ready", and waits
// until its stdin closes. Then every thread ends and it exits 0. A test reads the signal
// masks of QEMU's other threads meanwhile.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int done, started;
static pid_t tids[64];

static void *worker(void *arg) {
    pid_t tid = (pid_t)syscall(SYS_gettid);
    pthread_mutex_lock(&lock);
    tids[(long)arg] = tid;
    started++;
    pthread_cond_broadcast(&cond);
    while (!done) pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 4;
    if (n < 0 || n > 64) return 2;
    pthread_t t[64];
    for (long i = 0; i < n; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    pthread_mutex_lock(&lock);
    while (started < n) pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    printf("tid %d\n", (int)syscall(SYS_gettid));
    for (int i = 0; i < n; i++) printf("tid %d\n", (int)tids[i]);
    printf("ready\n");
    fflush(stdout);
    char buf[256];
    while (read(0, buf, sizeof buf) > 0) {}
    pthread_mutex_lock(&lock);
    done = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    printf("done\n");
    return 0;
}
