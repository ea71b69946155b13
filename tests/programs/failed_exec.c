// Work, an execve that fails, more work: the process goes on after a failed execve and so must
// its analysis. argv[1] says how the execve fails:
//   missing    a path that does not exist (ENOENT)
//   noexec     a file without execute permission (EACCES), argv[2]
//   badelf     an executable file with an ELF header no kernel loads (ENOEXEC), argv[2]
//   e2big      /bin/true with an argument larger than the kernel's limit (E2BIG)
// It loops 1,000,000 times, tries the execve, prints its errno's name, loops 3,000,000 times
// (touching memory each round), makes a few system calls (getppid) and prints its sums.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile unsigned long sink[64];

__attribute__((noinline)) static unsigned long work(unsigned long rounds, unsigned long seed) {
    unsigned long x = seed;
    for (unsigned long i = 0; i < rounds; i++) {
        x = x * 6364136223846793005ul + 1442695040888963407ul;
        sink[i & 63] = x;
    }
    return x;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: failed_exec missing|noexec FILE|badelf FILE|e2big\n");
        return 2;
    }
    unsigned long before = work(1000000, 1);
    char *path = "/nonexistent/cannonball-no-such-program";
    char *args[] = {"child", NULL, NULL};
    char *big = NULL;
    if (strcmp(argv[1], "noexec") == 0 || strcmp(argv[1], "badelf") == 0) {
        path = argv[2];
    } else if (strcmp(argv[1], "e2big") == 0) {
        size_t n = 4u << 20; /* 4 MiB: over any ARG_MAX the kernel derives from an 8 MiB stack */
        big = malloc(n + 1);
        memset(big, 'a', n);
        big[n] = 0;
        path = "/bin/true";
        args[1] = big;
    }
    extern char **environ;
    execve(path, args, environ);
    int err = errno;
    printf("execve failed: %s\n", err == ENOENT ? "ENOENT" : err == EACCES ? "EACCES" : err == ENOEXEC ? "ENOEXEC" : err == E2BIG ? "E2BIG" : "other");
    free(big);
    unsigned long after = work(3000000, before);
    pid_t parent = 0;
    for (int i = 0; i < 5; i++) parent += getppid();
    printf("before %lx after %lx calls %d\n", before, after, parent != 0);
    return 0;
}
