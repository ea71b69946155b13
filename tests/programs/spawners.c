// A child by vfork (which exits at once), one by posix_spawn (which runs /bin/true), then a
// library loaded with dlopen (argv[1]) whose `counted` function is called CALLS times.
#include <dlfcn.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#define CALLS 1000

extern char **environ;

int main(int argc, char **argv) {
    int status = 0;
    fflush(stdout);
    pid_t pid = vfork();
    if (pid == 0) _exit(7);
    waitpid(pid, &status, 0);
    printf("vfork child exited %d\n", WEXITSTATUS(status));

    char *args[] = {"true", NULL};
    int err = posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ);
    if (err == 0) waitpid(pid, &status, 0);
    printf("posix_spawn: %d, exited %d\n", err, WEXITSTATUS(status));

    if (argc < 2) return 0;
    void *lib = dlopen(argv[1], RTLD_NOW);
    if (!lib) {
        printf("dlopen: %s\n", dlerror());
        return 1;
    }
    int (*counted)(int) = (int (*)(int))dlsym(lib, "counted");
    int sum = 0;
    for (int i = 0; i < CALLS; i++) sum += counted(i);
    printf("counted %d times: %d\n", CALLS, sum);
    return 0;
}
