/*
 * /init of the initramfs that tests/tests/system.rs boots Debian's x86_64 kernel with. Two jobs,
 * chosen on the kernel command line (the kernel hands `key=value` words it does not know to
 * init's environment):
 *
 *   cannonball_job=kallsyms   copy the code symbols of /proc/kallsyms (types t, T, w, W) to
 *                             the second serial port: the running image's own symbol map;
 *   cannonball_getppid=N      make exactly N getppid system calls, say so on the console.
 *
 * Then it powers the machine off (QEMU runs with -no-reboot and exits).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void power_off(void) {
    sync();
    reboot(RB_POWER_OFF);
    for (;;) pause();
}

static void dump_kallsyms(void) {
    mkdir("/proc", 0555);
    if (mount("proc", "/proc", "proc", 0, NULL) != 0) {
        perror("init: mount /proc");
        return;
    }
    FILE *in = fopen("/proc/kallsyms", "r");
    int out = open("/dev/ttyS1", O_WRONLY | O_NOCTTY);
    if (!in || out < 0) {
        perror("init: kallsyms or ttyS1");
        return;
    }
    static char buf[1 << 16];
    size_t used = 0, lines = 0;
    char line[512];
    while (fgets(line, sizeof line, in)) {
        char *type = strchr(line, ' ');
        if (!type || !strchr("tTwW", type[1])) continue;
        size_t len = strlen(line);
        if (used + len > sizeof buf) {
            write(out, buf, used);
            used = 0;
        }
        memcpy(buf + used, line, len);
        used += len;
        lines++;
    }
    write(out, buf, used);
    close(out);
    printf("init: %zu code symbols written\n", lines);
}

int main(void) {
    const char *job = getenv("cannonball_job");
    const char *calls = getenv("cannonball_getppid");
    if (job && strcmp(job, "kallsyms") == 0) {
        dump_kallsyms();
    } else if (calls) {
        long n = atol(calls);
        for (long i = 0; i < n; i++) syscall(SYS_getppid);
        printf("init: %ld getppid calls done\n", n);
    } else {
        printf("init: no job given\n");
    }
    fflush(stdout);
    power_off();
    return 0;
}
