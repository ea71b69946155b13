/* System calls with string and buffer arguments, for comparing the syscalls example's output
 * with strace: paths with spaces and quotes, data needing escapes (newline, tab, quote,
 * backslash, NUL, octal before a digit, bytes >= 0x7f), a write longer than 32 bytes, a read,
 * readlink, getcwd, a failing open and a bad pointer. Works in the current directory. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    static const char text[] = "line one\nline two\ttab \"q\" back\\slash and more text\n";
    static const char binary[] = {0, 1, '\n', 2, '7', 0x7f, (char)0xff, 'z'};
    char buf[256];
    int fd = open("data \"file\".txt", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return 1;
    if (write(fd, text, sizeof text - 1) != (ssize_t)(sizeof text - 1)) return 2;
    if (write(fd, binary, sizeof binary) != (ssize_t)sizeof binary) return 3;
    close(fd);
    fd = open("data \"file\".txt", O_RDONLY);
    if (read(fd, buf, 10) != 10) return 4;
    if (read(fd, buf, sizeof buf) <= 32) return 5;
    close(fd);
    if (open("no/such dir/file", O_RDONLY) >= 0) return 6;
    if (symlink("data \"file\".txt", "a link") != 0) return 7;
    ssize_t n = readlink("a link", buf, sizeof buf);
    if (n <= 0) return 8;
    if (!getcwd(buf, sizeof buf)) return 9;
    mkdir("sub dir", 0755);
    rmdir("sub dir");
    rename("data \"file\".txt", "renamed.txt");
    unlink("a link");
    unlink("renamed.txt");
    /* A pointer nothing is mapped at: the kernel answers EFAULT, the trace shows the address. */
    syscall(SYS_openat, AT_FDCWD, (const char *)16, O_RDONLY);
    write(1, "done\n", 5);
    return 0;
}
