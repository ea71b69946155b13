// The bundled demo program: a little work with calls, loops and branches, and a known output.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_prime(unsigned n) {
    if (n < 2) return 0;
    for (unsigned d = 2; d * d <= n; d++)
        if (n % d == 0) return 0;
    return 1;
}

static int cmp_desc(const void *a, const void *b) {
    return *(const int *)b - *(const int *)a;
}

int main(int argc, char **argv) {
    unsigned limit = argc > 1 ? (unsigned)atoi(argv[1]) : 10000;
    unsigned count = 0;
    for (unsigned n = 0; n < limit; n++) count += is_prime(n);

    int values[64];
    for (int i = 0; i < 64; i++) values[i] = (i * 37) % 64;
    qsort(values, 64, sizeof values[0], cmp_desc);

    char word[] = "cannonball";
    size_t len = strlen(word);
    for (size_t i = 0; i < len / 2; i++) {
        char t = word[i]; word[i] = word[len - 1 - i]; word[len - 1 - i] = t;
    }
    printf("primes below %u: %u\n", limit, count);
    printf("largest: %d, smallest: %d\n", values[0], values[63]);
    printf("reversed: %s\n", word);
    return 0;
}
