// Does some work, then dies of SIGSEGV: a store through a null pointer in the middle of a
// block, with more instructions after it. With the argument "abort" it dies of SIGABRT instead.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile int *target;

__attribute__((noinline)) static int crash(int x) {
    int y = x * 3;
    *target = y;      /* faults here */
    y += x;
    y ^= 0x55;
    return y;
}

int main(int argc, char **argv) {
    unsigned long x = 1;
    for (int i = 0; i < 100000; i++) x = x * 6364136223846793005ul + 1;
    printf("about to crash: %lx\n", x);
    fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "abort") == 0) abort();  /* SIGABRT, raised by a system call */
    return crash((int)x);
}
