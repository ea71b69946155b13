/* The program of tests/tests/stripped.rs, built there as PIE with -g and then stripped in
 * several ways. Local (static) functions, a function reached only through a pointer, a qsort
 * callback that libc calls back into, and calls through the PLT: what a symbol table names
 * and a stripped file must recover from its unwind tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int __attribute__((noinline)) compare(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static unsigned __attribute__((noinline)) mix(unsigned h, unsigned v) {
    h ^= v;
    h *= 16777619u;
    return h;
}

unsigned __attribute__((noinline)) checksum(const int *values, int n) {
    unsigned h = 2166136261u;
    for (int i = 0; i < n; i++)
        h = mix(h, (unsigned)values[i]);
    return h;
}

static int __attribute__((noinline)) odd(int x) { return x & 1; }
static int __attribute__((noinline)) even(int x) { return !(x & 1); }

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 300;
    int *values = malloc(sizeof(int) * (size_t)n);
    unsigned seed = 12345;
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        values[i] = (int)(seed >> 16) % 1000;
    }
    qsort(values, (size_t)n, sizeof(int), compare);
    int (*pick)(int) = strlen(argv[0]) % 2 ? odd : even;
    int picked = 0;
    for (int i = 0; i < n; i++)
        picked += pick(values[i]);
    printf("checksum %u picked %d\n", checksum(values, n), picked);
    free(values);
    return 0;
}
