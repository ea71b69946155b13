// A fork after which the parent runs a number of instructions known from this file: the fork,
// the parent's wait4 and its exit_group are one block of assembly, so after the fork returns
// the parent executes exactly 11 instructions in 3 translation blocks (each ends at the jz or
// at a syscall), with no memory access and 2 system calls (wait4, exit_group). QEMU's plugins
// in a forked child keep counting from the parent's counters, so
//     child's own = child's total - (parent's total - what the parent ran after the fork),
// every term from QEMU's plugins and this file, none from the plugin under test.
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile unsigned long cells[256];

static unsigned long work(unsigned long n) {
    unsigned long x = 1;
    for (unsigned long i = 0; i < n; i++) {
        x = x * 2862933555777941757ul + 3037000493ul;
        cells[i % 256] ^= x;
    }
    return x ^ cells[n % 256];
}

int main(void) {
    unsigned long before = work(20000);
    printf("parent before the fork: %lx\n", before);
    fflush(stdout);
    long pid;
    __asm__ volatile("mov $57, %%eax\n\t" // fork()
                     "syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jz 1f\n\t"
                     "mov %%rax, %%rdi\n\t" // wait4(pid, NULL, 0, NULL)
                     "xor %%esi, %%esi\n\t"
                     "xor %%edx, %%edx\n\t"
                     "xor %%r10d, %%r10d\n\t"
                     "mov $61, %%eax\n\t"
                     "syscall\n\t"
                     "mov $231, %%eax\n\t" // exit_group(0)
                     "xor %%edi, %%edi\n\t"
                     "syscall\n\t"
                     "1:\n\t"
                     : "=a"(pid)
                     :
                     : "rcx", "r11", "rdi", "rsi", "rdx", "r10", "memory");
    // Only the child gets here.
    char line[64];
    snprintf(line, sizeof line, "child: %lx\n", work(50000) ^ before);
    return write(1, line, strlen(line)) > 0 ? 0 : 1;
}
