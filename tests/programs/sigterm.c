// Works, then dies of SIGTERM it sends itself (no handler): killed by a signal, not by a
// fault. Exit status 143 under a shell.
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

int main(void) {
    volatile uint64_t x = 1;
    for (unsigned i = 0; i < 200000; i++) x = x * 6364136223846793005ull + 1;
    printf("about to die: %llx\n", (unsigned long long)x);
    fflush(stdout);
    raise(SIGTERM);
    return 0;
}
