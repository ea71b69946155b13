// What the timeline example draws: three threads that each make a failing system call and
// signal themselves (a handler runs and returns through rt_sigreturn), a fork whose child
// makes its own calls, and the parent's failing calls after the child exited.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t handled;

static void on_usr1(int sig) {
    (void)sig;
    handled++;
}

static uint64_t work(uint64_t x, unsigned n) {
    for (unsigned i = 0; i < n; i++) x = x * 6364136223846793005ull + 1;
    return x;
}

static void *thread(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    uint64_t x = work(id, 20000 * (unsigned)(id + 1));
    int fd = open("/no/such/dir/timeline", O_RDONLY);  // fails: ENOENT
    if (fd >= 0) close(fd);
    pthread_kill(pthread_self(), SIGUSR1);  // tgkill, then the handler, then rt_sigreturn
    return (void *)(uintptr_t)(x & 1);
}

int main(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    pthread_t t[3];
    for (uintptr_t i = 0; i < 3; i++) pthread_create(&t[i], NULL, thread, (void *)i);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        uint64_t x = work(7, 30000);
        if (close(12345) == 0) return 3;  // fails: EBADF
        printf("child: %016llx\n", (unsigned long long)x);
        return 0;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (access("/no/such/file", F_OK) == 0) return 4;  // fails: ENOENT
    printf("parent: handled %d, child exited %d\n", (int)handled, WEXITSTATUS(status));
    return 0;
}
