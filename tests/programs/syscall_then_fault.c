// A fault at the very address a system call returned to, after other code ran since an
// earlier call from the same place: `probe` makes getpid and then loads through its argument.
// The first call's load succeeds; the second call's faults at the instruction right after the
// syscall (SIGSEGV, the process dies of it). Counting must take back the rest of that block.
#include <stddef.h>

static long __attribute__((noinline)) probe(const long *p) {
    long v;
    __asm__ volatile("mov $39, %%eax\n\tsyscall\n\tmov (%1), %0\n\tadd $1, %0\n\tadd $2, %0\n\tadd $3, %0"
                     : "=&r"(v)
                     : "r"(p)
                     : "rax", "rcx", "r11", "memory");
    return v;
}

int main(void) {
    long x = 5;
    volatile long sum = probe(&x);
    for (int i = 0; i < 1000; i++) sum += i;
    sum += probe(NULL);
    return (int)sum;
}
