// A few system calls whose numbers and names differ between guest architectures
// (tests/tests/foreign_syscalls.rs): write, openat of a path, getpid, a call that does not
// exist, openat of a path above 2 GiB, exit_group.
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PATH "/no/such/dir/cannonball-syscall-numbers"

int main(void) {
    const char msg[] = "syscall numbers\n";
    write(1, msg, sizeof msg - 1);
    openat(AT_FDCWD, PATH, O_RDONLY);
    syscall(SYS_getpid);
    // No such call: ENOSYS. On mips QEMU answers numbers beyond its table before plugins see them.
    syscall(9999);
    // A 32-bit guest's pointer above 2 GiB reaches plugins sign-extended to 64 bits (mips o32
    // user space ends at 2 GiB: the mmap fails there).
    char *high = mmap((void *)0x90000000, 4096, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (high != MAP_FAILED) {
        strcpy(high, PATH "-high");
        openat(AT_FDCWD, high, O_RDONLY);
    }
    return 0;
}
