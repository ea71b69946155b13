// Writes to stdout and stderr before and after a fork, from both processes, unbuffered: a
// harness comparing a run's output byte for byte sees every line where the guest wrote it.
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("out: before fork\n");
    fprintf(stderr, "err: before fork\n");
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        printf("out: child\n");
        fprintf(stderr, "err: child\n");
        return 3;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("out: parent, child exited %d\n", WEXITSTATUS(status));
    fprintf(stderr, "err: parent\n");
    return 0;
}
