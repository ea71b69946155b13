// vCPU indices reused while other threads live: QEMU gives a new thread the index above every
// live one, so it reuses an exited thread's index. Threads A and B (1, 2) start and stay
// alive; then, four times over, a thread C starts (3) and exits and the next one takes its
// index; then E and F (3, 4) start and exit and G takes 3, an index below one that a thread
// created before it had: ordering threads by index no longer gives the order of their clones.
// A and B wait on a pipe meanwhile. Every thread calls gettid (directly and through pthread_kill's tgkill) so
// that each track can be checked against the tid the kernel gave it.
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int gate[2];

// Host threads of this QEMU process (guest threads and QEMU's own): QEMU runs each guest
// thread on a host thread and releases its vCPU index before that thread ends.
static int tasks(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

// QEMU wakes a joiner before it releases the exited thread's vCPU index: wait until the
// thread is gone from the process (at most 10 s), so that the next thread can reuse it.
static void wait_released(int before) {
    struct timespec nap = {0, 1000000};
    for (int i = 0; i < 10000 && tasks() > before; i++) nanosleep(&nap, NULL);
}

static uint64_t work(uint64_t x, unsigned n) {
    for (unsigned i = 0; i < n; i++) x = x * 6364136223846793005ull + 1;
    return x;
}

static pthread_barrier_t both;  // E and F: alive at the same time

static void *paired(void *arg) {
    pthread_barrier_wait(&both);
    uint64_t x = work((uintptr_t)arg, 5000);
    syscall(SYS_gettid);
    return (void *)(uintptr_t)(x & 1);
}

static void *short_lived(void *arg) {
    uint64_t x = work((uintptr_t)arg, 5000);
    syscall(SYS_gettid);
    return (void *)(uintptr_t)(x & 1);
}

static void *long_lived(void *arg) {
    syscall(SYS_gettid);
    char c;
    if (read(gate[0], &c, 1) != 1) return NULL;  // until every short-lived thread is gone
    uint64_t x = work((uintptr_t)arg, 5000);
    syscall(SYS_gettid);
    return (void *)(uintptr_t)(x & 1);
}

int main(void) {
    if (pipe(gate) != 0) return 2;
    pthread_t a, b;
    pthread_create(&a, NULL, long_lived, (void *)1);
    pthread_create(&b, NULL, long_lived, (void *)2);
    for (uintptr_t i = 0; i < 4; i++) {
        pthread_t c;
        int before = tasks();
        pthread_create(&c, NULL, short_lived, (void *)(10 + i));
        pthread_join(c, NULL);
        wait_released(before);
    }
    pthread_t e, f, g;
    pthread_barrier_init(&both, NULL, 2);
    int before = tasks();
    pthread_create(&e, NULL, paired, (void *)20);
    pthread_create(&f, NULL, paired, (void *)21);
    pthread_join(e, NULL);
    pthread_join(f, NULL);
    wait_released(before);
    pthread_create(&g, NULL, short_lived, (void *)22);
    pthread_join(g, NULL);
    if (write(gate[1], "ab", 2) != 2) return 3;
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    syscall(SYS_gettid);
    printf("reuse: done\n");
    return 0;
}
