// A fork after which the parent runs a number of instructions known from this file: the fork,
// the parent's wait4 and its exit_group are one block of assembly per architecture, so after
// the fork returns the parent executes a fixed number of instructions (PARENT_TAIL below) in 3
// translation blocks (each ends at the conditional branch, with its delay slot on MIPS, or at
// a system call), with no memory access and 2 system calls (wait4, exit_group). The block is
// aligned so that it never crosses a page (which would split a block). QEMU's plugins in a
// forked child keep counting from the parent's counters, so
//     child's own = child's total - (parent's total - what the parent ran after the fork),
// every term from QEMU's plugins and this file, none from the plugin under test
// (tests/src/oracle.rs, fork_counted_parent_tail, holds the same numbers).
//
// Parent's instructions after the fork: x86_64 11, i386 11, aarch64 9, arm 11, riscv64 9,
// mips and mipsel 11, ppc64le 10.
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

// Returns only in the child (0); the parent waits for it and exits 0 inside.
static long fork_and_let_the_parent_wait(void) {
#if defined(__x86_64__)
    long r;
    __asm__ volatile(".balign 128\n\t"
                     "mov $57, %%eax\n\t" // fork()
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
                     : "=a"(r)
                     :
                     : "rcx", "r11", "rdi", "rsi", "rdx", "r10", "memory");
    return r;
#elif defined(__i386__)
    long r;
    __asm__ volatile(".balign 128\n\t"
                     "mov $2, %%eax\n\t" // fork()
                     "int $0x80\n\t"
                     "test %%eax, %%eax\n\t"
                     "jz 1f\n\t"
                     "mov %%eax, %%ebx\n\t" // wait4(pid, NULL, 0, NULL)
                     "xor %%ecx, %%ecx\n\t"
                     "xor %%edx, %%edx\n\t"
                     "xor %%esi, %%esi\n\t"
                     "mov $114, %%eax\n\t"
                     "int $0x80\n\t"
                     "mov $252, %%eax\n\t" // exit_group(0)
                     "xor %%ebx, %%ebx\n\t"
                     "int $0x80\n\t"
                     "1:\n\t"
                     : "=a"(r)
                     :
                     : "ebx", "ecx", "edx", "esi", "memory");
    return r;
#elif defined(__aarch64__)
    register long x0 __asm__("x0") = 17; // clone(SIGCHLD, 0, 0, 0, 0)
    __asm__ volatile(".balign 128\n\t"
                     "mov x1, #0\n\t"
                     "mov x2, #0\n\t"
                     "mov x3, #0\n\t"
                     "mov x4, #0\n\t"
                     "mov x8, #220\n\t"
                     "svc #0\n\t"
                     "cbz x0, 1f\n\t"
                     "mov x1, #0\n\t" // wait4(pid, NULL, 0, NULL)
                     "mov x2, #0\n\t"
                     "mov x3, #0\n\t"
                     "mov x8, #260\n\t"
                     "svc #0\n\t"
                     "mov x0, #0\n\t" // exit_group(0)
                     "mov x8, #94\n\t"
                     "svc #0\n\t"
                     "1:\n\t"
                     : "+r"(x0)
                     :
                     : "x1", "x2", "x3", "x4", "x8", "memory");
    return x0;
#elif defined(__arm__)
    register long r0 __asm__("r0");
    // r7 carries the call number; it may be the frame pointer, so it is kept in ip around
    // the fork (one more instruction after it, in both processes).
    __asm__ volatile(".balign 128\n\t"
                     "mov ip, r7\n\t"
                     "mov r7, #2\n\t" // fork()
                     "svc #0\n\t"
                     "mov r7, ip\n\t"
                     "cmp r0, #0\n\t"
                     "beq 1f\n\t"
                     "mov r1, #0\n\t" // wait4(pid, NULL, 0, NULL)
                     "mov r2, #0\n\t"
                     "mov r3, #0\n\t"
                     "mov r7, #114\n\t"
                     "svc #0\n\t"
                     "mov r0, #0\n\t" // exit_group(0)
                     "mov r7, #248\n\t"
                     "svc #0\n\t"
                     "1:\n\t"
                     : "=r"(r0)
                     :
                     : "r1", "r2", "r3", "ip", "memory", "cc");
    return r0;
#elif defined(__riscv)
    register long a0 __asm__("a0") = 17; // clone(SIGCHLD, 0, 0, 0, 0)
    __asm__ volatile(".balign 128\n\t"
                     "li a1, 0\n\t"
                     "li a2, 0\n\t"
                     "li a3, 0\n\t"
                     "li a4, 0\n\t"
                     "li a7, 220\n\t"
                     "ecall\n\t"
                     "beqz a0, 1f\n\t"
                     "li a1, 0\n\t" // wait4(pid, NULL, 0, NULL)
                     "li a2, 0\n\t"
                     "li a3, 0\n\t"
                     "li a7, 260\n\t"
                     "ecall\n\t"
                     "li a0, 0\n\t" // exit_group(0)
                     "li a7, 94\n\t"
                     "ecall\n\t"
                     "1:\n\t"
                     : "+r"(a0)
                     :
                     : "a1", "a2", "a3", "a4", "a7", "memory");
    return a0;
#elif defined(__mips__)
    register long v0 __asm__("$2");
    __asm__ volatile(".set push\n\t"
                     ".set noreorder\n\t"
                     ".balign 128\n\t"
                     "li $2, 4002\n\t" // fork()
                     "syscall\n\t"
                     "beqz $2, 1f\n\t"
                     "nop\n\t"
                     "move $4, $2\n\t" // wait4(pid, NULL, 0, NULL)
                     "move $5, $0\n\t"
                     "move $6, $0\n\t"
                     "move $7, $0\n\t"
                     "li $2, 4114\n\t"
                     "syscall\n\t"
                     "li $2, 4246\n\t" // exit_group(0)
                     "move $4, $0\n\t"
                     "syscall\n\t"
                     "1:\n\t"
                     ".set pop\n\t"
                     : "=r"(v0)
                     :
                     : "$3", "$4", "$5", "$6", "$7", "memory");
    return v0;
#elif defined(__powerpc64__)
    register long r3 __asm__("r3");
    __asm__ volatile(".balign 128\n\t"
                     "li 0, 2\n\t" // fork()
                     "sc\n\t"
                     "cmpdi 3, 0\n\t"
                     "beq 1f\n\t"
                     "li 4, 0\n\t" // wait4(pid, NULL, 0, NULL)
                     "li 5, 0\n\t"
                     "li 6, 0\n\t"
                     "li 0, 114\n\t"
                     "sc\n\t"
                     "li 3, 0\n\t" // exit_group(0)
                     "li 0, 234\n\t"
                     "sc\n\t"
                     "1:\n\t"
                     : "=r"(r3)
                     :
                     : "r0", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "cr0", "ctr", "memory");
    return r3;
#else
#error "fork_counted.c: no assembly for this architecture"
#endif
}

int main(void) {
    unsigned long before = work(20000);
    printf("parent before the fork: %lx\n", before);
    fflush(stdout);
    if (fork_and_let_the_parent_wait() != 0) return 1; // a failed fork: the child never ran
    char line[64];
    snprintf(line, sizeof line, "child: %lx\n", work(50000) ^ before);
    return write(1, line, strlen(line)) > 0 ? 0 : 1;
}
