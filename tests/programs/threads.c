// Eight threads doing independent work, joined by main. Exercises per-vCPU counting.
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>

#define THREADS 8

static uint64_t results[THREADS];

static void *work(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    uint64_t x = id + 1;
    for (unsigned i = 0; i < 200000 + 10000 * id; i++) x = x * 6364136223846793005ull + 1442695040888963407ull;
    results[id] = x;
    return NULL;
}

int main(void) {
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, work, (void *)i);
    uint64_t sum = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        sum ^= results[i];
    }
    printf("threads: %d, checksum: %016llx\n", THREADS, (unsigned long long)sum);
    return 0;
}
