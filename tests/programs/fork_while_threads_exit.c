// Forks again and again while other threads start, make system calls and exit: the moment
// CPython's test_is_alive_after_fork hits by chance. Each child starts and joins a thread of
// its own (so it needs the process's thread machinery intact), then exits with 10; a child
// that has not exited after 60 s counts as hung: what each of its threads is doing (state,
// kernel wait channel, system call) goes to stderr, and it is killed.
// Usage: fork_while_threads_exit [FORKS]   Prints "forks N hung H wrong W".
#include <dirent.h>
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

// Prints the first line of /proc/PID/task/TID/NAME, prefixed.
static void show(pid_t pid, const char *tid, const char *name) {
    char path[128], line[256] = "";
    snprintf(path, sizeof path, "/proc/%d/task/%s/%s", (int)pid, tid, name);
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(line, sizeof line, f)) line[0] = 0;
        fclose(f);
    }
    for (char *c = line; *c; c++) if (*c == '\n') *c = 0;
    fprintf(stderr, " %s=[%s]", name, line);
}

// What the threads of a hung child are doing, for the test's failure message.
static void describe_hung(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *dir = opendir(path);
    if (!dir) return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.') continue;
        fprintf(stderr, "hung child %d thread %s:", (int)pid, e->d_name);
        show(pid, e->d_name, "stat");
        show(pid, e->d_name, "wchan");
        show(pid, e->d_name, "syscall");
        fprintf(stderr, "\n");
    }
    closedir(dir);
}

static int wait_child(pid_t pid) {
    struct timespec nap = {0, 1000000};
    for (int waited_ms = 0; waited_ms < 60000; waited_ms++) {
        int status;
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        nanosleep(&nap, NULL);
    }
    describe_hung(pid);
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
