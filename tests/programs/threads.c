// Threads doing independent work, joined by main: eight, or argv[1] (at most 64).
// Exercises per-vCPU counting.
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

#define MAX_THREADS 64

static uint64_t results[MAX_THREADS];

static void *work(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    uint64_t x = id + 1;
    for (unsigned i = 0; i < 200000 + 10000 * id; i++) x = x * 6364136223846793005ull + 1442695040888963407ull;
    results[id] = x;
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 8;
    if (threads < 1 || threads > MAX_THREADS) return 2;
    pthread_t t[MAX_THREADS];
    for (uintptr_t i = 0; i < (uintptr_t)threads; i++) pthread_create(&t[i], NULL, work, (void *)i);
    uint64_t sum = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        sum ^= results[i];
    }
    printf("threads: %d, checksum: %016llx\n", threads, (unsigned long long)sum);
    return 0;
}
