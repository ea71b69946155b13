// fork, then the child works a little and execs /bin/echo (which runs natively, outside QEMU
// and the plugin); the parent waits. The child's events before the exec must not be lost.
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t work(uint64_t x, unsigned n) {
    for (unsigned i = 0; i < n; i++) x = x * 6364136223846793005ull + 1;
    return x;
}

int main(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        uint64_t x = work(7, 100000);
        char arg[32];
        snprintf(arg, sizeof arg, "%016llx", (unsigned long long)x);
        execl("/bin/echo", "echo", "child before exec:", arg, (char *)NULL);
        return 127;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("parent: %016llx, child exited %d\n", (unsigned long long)work(3, 50000), WEXITSTATUS(status));
    return 0;
}
