// A known branch pattern: in pattern(), the test `i % 3 == 0` is true for 334 of 1000 values
// of i, and the loop's back edge is taken 999 times and falls through once.
#include <stdio.h>

static volatile unsigned threes, others;

__attribute__((noinline)) static unsigned pattern(void) {
    for (volatile unsigned i = 0; i < 1000; i++) {
        if (i % 3 == 0) threes++;
        else others += 2;
    }
    return threes + others;
}

int main(void) {
    printf("pattern: %u\n", pattern());
    return 0;
}
