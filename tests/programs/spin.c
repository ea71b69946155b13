/* Says it started, then computes forever: a long-running program for stop-by-signal tests.
 * With an argument it instead sleeps in a system call (nanosleep) forever. */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    volatile unsigned long n = 0;
    puts("started");
    fflush(stdout);
    if (argc > 1)
        for (;;)
            pause();
    for (;;)
        n++;
}
