// A JIT: x86-64 code written into an anonymous mapping at run time, called, then overwritten
// with other code at the same addresses and called again (QEMU must drop its translations of
// the old code), once by writing through a writable and executable mapping (self-modifying
// code) and once by mprotect: write, then make it executable. Each round's result is known by
// construction: f(i) = i * 3 + k.
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define CALLS 1000

typedef long (*fn)(long);

/* `nops` nops (so that each version has its own instruction count), then
 * lea rax, [rdi + rdi*2 + imm32]; ret */
static void emit(unsigned char *at, int nops, int32_t k) {
    unsigned char code[] = {0x48, 0x8d, 0x84, 0x7f, 0, 0, 0, 0, 0xc3};
    memcpy(code + 4, &k, 4);
    memset(at, 0x90, (size_t)nops);
    memcpy(at + nops, code, sizeof code);
}

static long run(fn f) {
    long sum = 0;
    for (long i = 0; i < CALLS; i++) sum += f(i);
    return sum;
}

int main(void) {
    unsigned char *rwx = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *rx = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (rwx == MAP_FAILED || rx == MAP_FAILED) return 1;
    long total = 0;
    for (int32_t k = 1; k <= 3; k++) {
        emit(rwx, k, k * 1000); /* over code that ran: self-modifying */
        total += run((fn)rwx);
        mprotect(rx, 4096, PROT_READ | PROT_WRITE);
        emit(rx, 4 - k, -k);
        mprotect(rx, 4096, PROT_READ | PROT_EXEC);
        total += run((fn)rx);
    }
    /* sum over k of (3 * sum(i) + 1000k * CALLS) + (3 * sum(i) - k * CALLS) */
    printf("total %ld\n", total);
    return 0;
}
