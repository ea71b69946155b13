// The program the foreign-architecture tests build with each Debian cross compiler: threads,
// a fork, system calls that succeed and fail, and memory accesses of every size with values
// that show the byte order. Output is the same on every architecture.
//
//   foreign          threads + fork + system calls
//   foreign memory   one thread: loads and stores of 1, 2, 4 and 8 bytes, nothing else
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4

static uint64_t results[THREADS];

// Not inlined, so that it is a function of its own in the listing tests.
__attribute__((noinline)) uint32_t mix(uint32_t x, unsigned rounds) {
    for (unsigned i = 0; i < rounds; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if (x & 1) x += 0x9e3779b9u;
    }
    return x;
}

static void *work(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    results[id] = mix((uint32_t)id + 1, 20000 + 1000 * (unsigned)id);
    return NULL;
}

// Volatile, so that every access below is a real load or store of exactly that size.
static volatile uint8_t b8[16];
static volatile uint16_t b16[16];
static volatile uint32_t b32[16];
static volatile uint64_t b64[16];

__attribute__((noinline)) static uint64_t memory(void) {
    for (unsigned i = 0; i < 16; i++) {
        b8[i] = (uint8_t)(0xa0 + i);
        b16[i] = (uint16_t)(0xb1c0 + i);
        b32[i] = 0xd2e3f400u + i;
        b64[i] = 0x0102030405060700ull + i;
    }
    uint64_t sum = 0;
    for (unsigned i = 0; i < 16; i++) sum += b8[i] + b16[i] + b32[i] + b64[i];
    return sum;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "memory") == 0) {
        printf("memory: %llx\n", (unsigned long long)memory());
        return 0;
    }
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, work, (void *)i);
    uint64_t sum = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        sum ^= results[i];
    }
    printf("threads: %llx\n", (unsigned long long)sum);
    int fd = open("/nonexistent/cannonball", O_RDONLY);
    printf("open: %d errno %s\n", fd, errno == ENOENT ? "ENOENT" : "other");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        printf("child: %x\n", mix(7, 30000));
        return 3;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("parent: %x, child exited %d\n", mix(11, 10000), WEXITSTATUS(status));
    return 0;
}
