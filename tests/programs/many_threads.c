// More than 64 guest threads alive at once: argv[1] threads (default 100) start, all wait at a
// barrier until every one of them runs, then each works (a loop touching memory) and exits.
// Prints the sum of their results, which is known by construction.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_barrier_t all_alive;
static unsigned long results[1024];

static void *work(void *arg) {
    unsigned long id = (unsigned long)arg;
    volatile unsigned long buf[16];
    pthread_barrier_wait(&all_alive);
    unsigned long x = id;
    for (int i = 0; i < 20000; i++) {
        buf[i & 15] = x;
        x = x * 3 + buf[(i + 7) & 15] % 7;
    }
    results[id] = x & 0xffff;
    return NULL;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 100;
    if (n < 1 || n > 1024) return 2;
    pthread_t t[1024];
    pthread_barrier_init(&all_alive, NULL, (unsigned)n);
    for (long i = 0; i < n; i++) pthread_create(&t[i], NULL, work, (void *)i);
    unsigned long sum = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        sum += results[i];
    }
    printf("%d threads, sum %lu\n", n, sum);
    return 0;
}
