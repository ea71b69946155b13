// A tiny input parser for the corpus tests: reads its input (the file named by argv[1], else
// stdin) and takes a different path per first word. "crash" dereferences NULL, "hang" loops
// forever, "exit N" exits with N; other words are counted by class.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static int vowels(const char *s) {
    int n = 0;
    for (; *s; s++) n += strchr("aeiou", *s) != NULL;
    return n;
}

__attribute__((noinline)) static int digits(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s >= '0' && *s <= '9';
    return n;
}

int main(int argc, char **argv) {
    FILE *in = argc > 1 ? fopen(argv[1], "r") : stdin;
    if (!in) return 2;
    char buf[256] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, in);
    buf[n] = 0;
    if (strncmp(buf, "crash", 5) == 0) {
        volatile int *p = NULL;
        return *p;
    }
    if (strncmp(buf, "hang", 4) == 0)
        for (volatile unsigned long i = 0;; i++) {}
    if (strncmp(buf, "exit ", 5) == 0) return atoi(buf + 5);
    if (buf[0] >= '0' && buf[0] <= '9') printf("digits %d\n", digits(buf));
    else printf("vowels %d\n", vowels(buf));
    return 0;
}
