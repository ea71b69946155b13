/* Code in anonymous memory, as a JIT makes it: `mov $CALLS, %eax; ret` written into an
 * mmap'd page and called CALLS times. It exits with status 0 when every call returned CALLS. */
#include <string.h>
#include <sys/mman.h>

#define CALLS 777

int main(void) {
    unsigned char code[] = {0xb8, CALLS & 0xff, CALLS >> 8, 0, 0, 0xc3}; /* mov $CALLS, %eax; ret */
    void *page = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return 2;
    memcpy(page, code, sizeof code);
    int (*f)(void) = (int (*)(void))page;
    for (int i = 0; i < CALLS; i++)
        if (f() != CALLS) return 1;
    return 0;
}
