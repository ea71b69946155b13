// Functions for probes (tests/tests/probes.rs), each printing what a probe must see: the
// arguments and return values of a recursion, calls left by longjmp, a void function whose
// return address is also a jump target (translated before the first call returns there),
// allocations with their sizes and pointers, string comparisons, and the same in threads.
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static jmp_buf env;

__attribute__((noipa)) long fact(long n) {
    long r = n <= 1 ? 1 : n * fact(n - 1);
    printf("fact(%ld) = %ld\n", n, r);
    return r;
}

__attribute__((noipa)) void jumper(int depth) {
    if (depth == 0)
        longjmp(env, 7);
    jumper(depth - 1);
    printf("never printed\n");
}

static volatile int sink;

__attribute__((noipa)) void note(int x) { sink += x; }

__attribute__((noipa)) long sum6(long a, long b, long c, long d, long e, long f) {
    long r = a + b * 2 + c * 3 + d * 4 + e * 5 + f * 6;
    printf("sum6(%ld, %ld, %ld, %ld, %ld, %ld) = %ld\n", a, b, c, d, e, f, r);
    return r;
}

static void allocate(const char *who) {
    void *keep[6];
    for (int i = 0; i < 6; i++) {
        keep[i] = malloc(16 * (i + 1));
        printf("%s malloc(%d) = %p\n", who, 16 * (i + 1), keep[i]);
    }
    void *z = calloc(3, 40);
    printf("%s calloc(3, 40) = %p\n", who, z);
    void *old = keep[0];
    keep[0] = realloc(keep[0], 1000);
    printf("%s realloc(%p, 1000) = %p\n", who, old, keep[0]);
    free(z);
    printf("%s free(%p)\n", who, z);
    for (int i = 1; i < 6; i += 2) {
        free(keep[i]);
        printf("%s free(%p)\n", who, keep[i]);
    }
}

static void *worker(void *arg) {
    long n = (long)arg;
    fact(n);
    char who[16];
    snprintf(who, sizeof who, "thread%ld", n);
    allocate(who);
    return NULL;
}

// Unoptimized, so that the code follows the source: the instruction after `call note` is
// also where `if` jumps when i is even, so QEMU translates it (i = 0) before any call
// returns there (i = 1).
__attribute__((noipa, optimize("O0"))) void notes(void) {
    for (int i = 0; i < 6; i++) {
        if (i & 1)
            note(i);
        sink++;
    }
}

int main(int argc, char **argv) {
    fact(5);
    sum6(1, 2, 3, 4, 5, 6);
    if (setjmp(env) == 0)
        jumper(3);
    else
        printf("longjmp\n");
    notes();
    allocate("main");
    const char *input = argc > 1 ? argv[1] : "none";
    int hits = (strcmp(input, "MAGIC-strcmp") == 0) + (strncmp(input, "MAGIC-strncmp", 13) == 0)
               + (memcmp(input, "MAGIC-memcmp", strlen(input) < 12 ? strlen(input) : 12) == 0)
               + (strcasecmp(input, "magic-strcasecmp") == 0);
    printf("compared %s: %d\n", input, hits);
    // "single": no threads (ltrace's breakpoints crash threaded programs now and then).
    if (argc > 2 && strcmp(argv[2], "single") == 0)
        return 0;
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, worker, (void *)(3 + i));
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    return 0;
}
