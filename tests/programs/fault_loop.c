// Faults and recovers, `rounds` times (argv[1], default 3000) of each: SIGSEGV (a store
// through a bad pointer), SIGBUS (a load from a mapped page beyond the end of its file) and
// SIGFPE (integer division by zero). Each handler returns with siglongjmp. Every fault is in
// the middle of a block, with instructions before and after it. With argv[2] = "threads" four
// threads do the same at once.
//
// Integer division by zero traps only on some targets (x86; 32-bit ARM, whose libgcc raises
// SIGFPE); elsewhere it yields a value (AArch64, RISC-V, POWER) or QEMU raises SIGTRAP where
// Linux would raise SIGFPE (MIPS `teq`), and those targets skip the SIGFPE rounds.
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static __thread sigjmp_buf env;
static __thread long caught[3];
static volatile int *bad = (volatile int *)16;
static volatile int zero;
static volatile char *beyond;   /* second page of a one-page file mapped as two */
static int rounds;

#if defined(__x86_64__) || defined(__i386__) || defined(__arm__)
#define KINDS 3
#else
#define KINDS 2
#endif

static void on_fault(int sig) {
    caught[sig == SIGSEGV ? 0 : sig == SIGBUS ? 1 : 2]++;
    siglongjmp(env, sig);
}

__attribute__((noinline)) static int segv(int x) {
    int y = x * 3 + 1;
    *bad = y;           /* faults */
    y ^= x << 2;
    return y + 7;
}

__attribute__((noinline)) static int bus(int x) {
    int y = x * 5 + 2;
    y += beyond[x & 63];  /* faults: SIGBUS */
    y ^= 0x33;
    return y;
}

__attribute__((noinline)) static int fpe(int x) {
    int y = x * 7 + 3;
    y = y / zero;       /* faults: SIGFPE */
    y += x;
    return y;
}

static void *loop(void *arg) {
    long *out = arg;
    volatile long sum = 0;
    for (int i = 0; i < rounds; i++) {
        for (int which = 0; which < KINDS; which++) {
            int sig = sigsetjmp(env, 1);
            if (sig == 0) {
                sum += which == 0 ? segv(i) : which == 1 ? bus(i) : fpe(i);
                fprintf(stderr, "no fault\n");
                exit(9);
            }
            sum += sig;
        }
    }
    out[0] = caught[0];
    out[1] = caught[1];
    out[2] = caught[2];
    out[3] = sum;
    return NULL;
}

int main(int argc, char **argv) {
    rounds = argc > 1 ? atoi(argv[1]) : 3000;
    int threads = argc > 2 && strcmp(argv[2], "threads") == 0 ? 4 : 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);

    long page = sysconf(_SC_PAGESIZE);
    int fd = memfd_create("fault_loop", 0);
    if (fd < 0 || ftruncate(fd, page) != 0) { perror("memfd"); return 2; }
    char *map = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) { perror("mmap"); return 2; }
    beyond = map + page;

    long r[5][4];
    if (threads) {
        pthread_t t[4];
        for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, loop, r[i + 1]);
        loop(r[0]);
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    } else {
        loop(r[0]);
    }
    for (int i = 0; i <= threads; i++)
        printf("thread %d: SIGSEGV %ld, SIGBUS %ld, SIGFPE %ld, sum %ld\n", i, r[i][0], r[i][1], r[i][2], r[i][3]);
    return 0;
}
