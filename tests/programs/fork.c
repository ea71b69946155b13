// Work, fork, more work in both processes; the parent waits for the child.
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned long work(unsigned long n) {
    unsigned long x = 1;
    for (unsigned long i = 0; i < n; i++) x = x * 2862933555777941757ul + 3037000493ul;
    return x;
}

int main(void) {
    unsigned long before = work(100000);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        printf("child: %lx\n", work(300000) ^ before);
        return 0;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("parent: %lx, child exited %d\n", work(50000) ^ before, WEXITSTATUS(status));
    return 0;
}
