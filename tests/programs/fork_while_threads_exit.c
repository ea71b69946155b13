// Forks again and again while other threads start, make system calls and exit: the moment
// CPython's test_is_alive_after_fork hits by chance. Each child starts and joins a thread of
// its own (so it needs the process's thread machinery intact), then exits with 10; a child
// that has not exited after 20 s counts as hung and is killed.
// Usage: fork_while_threads_exit [FORKS]   Prints "forks N hung H wrong W".
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop;

static void *brief(void *arg) {
    (void)arg;
    getppid();
    return NULL;
}

// Keeps threads exiting for as long as the main thread forks.
static void *churn(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        pthread_t t;
        if (pthread_create(&t, NULL, brief, NULL) == 0) pthread_join(t, NULL);
    }
    return NULL;
}

static int wait_child(pid_t pid) {
    struct timespec nap = {0, 1000000};
    for (int waited_ms = 0; waited_ms < 20000; waited_ms++) {
        int status;
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        nanosleep(&nap, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

int main(int argc, char **argv) {
    int forks = argc > 1 ? atoi(argv[1]) : 200;
    pthread_t churners[2];
    for (int i = 0; i < 2; i++) pthread_create(&churners[i], NULL, churn, NULL);
    int hung = 0, wrong = 0;
    for (int i = 0; i < forks; i++) {
        pid_t pid = fork();
        if (pid < 0) return 1;
        if (pid == 0) {
            pthread_t t;
            if (pthread_create(&t, NULL, brief, NULL) != 0 || pthread_join(t, NULL) != 0) _exit(11);
            _exit(10);
        }
        int code = wait_child(pid);
        if (code < 0) hung++;
        else if (code != 10) wrong++;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) pthread_join(churners[i], NULL);
    printf("forks %d hung %d wrong %d\n", forks, hung, wrong);
    return hung || wrong;
}
