// Sign-extending and zero-extending loads of bytes and halfwords, ROUNDS times each, in two
// functions of their own (tests/tests/memory_info.rs reads the compiler's choice of
// instruction in each with objdump: movsb/movsw or lb/lh in load_signed, movzb/movzw or
// lbu/lhu in load_unsigned). Prints the sums, which depend on the extension.
#include <stdio.h>

#define ROUNDS 1000

static signed char sc[16] = {-1, -2, -3, -4, 5, 6, 7, 8, -9, -10, 11, 12, -13, 14, -15, 16};
static short ss[16] = {-100, 200, -300, 400, -500, 600, -700, 800, -900, 1000, -1100, 1200, -1300, 1400, -1500, 1600};
static unsigned char uc[16] = {255, 254, 253, 252, 5, 6, 7, 8, 247, 246, 11, 12, 243, 14, 241, 16};
static unsigned short us[16] = {65436, 200, 65236, 400, 65036, 600, 64836, 800, 64636, 1000, 64436, 1200, 64236, 1400, 64036, 1600};

__attribute__((noinline)) long load_signed(const signed char *c, const short *h, int i) {
    return (long)c[i & 15] + (long)h[i & 15];
}

__attribute__((noinline)) unsigned long load_unsigned(const unsigned char *c, const unsigned short *h, int i) {
    return (unsigned long)c[i & 15] + (unsigned long)h[i & 15];
}

int main(void) {
    long s = 0;
    unsigned long u = 0;
    for (int i = 0; i < ROUNDS; i++) {
        s += load_signed(sc, ss, i);
        u += load_unsigned(uc, us, i);
    }
    printf("signed %ld unsigned %lu\n", s, u);
    return 0;
}
