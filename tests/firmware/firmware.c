/*
 * A bare-metal program for the system-mode tests (tests/tests/system.rs), one source for
 * riscv64 (`virt`, -bios none), aarch64 (`virt`) and 32-bit ARM Cortex-M3 (`mps2-an385`).
 *
 * It does known work on every CPU it runs on (a loop of squares, a buffer filled and summed),
 * prints one line per CPU and a total through the board's UART, and ends QEMU with exit status 3
 * (riscv64: the SiFive test device; ARM: semihosting SYS_EXIT / SYS_EXIT_EXTENDED), so that a
 * test sees the status pass through; built with -DFOREVER it loops instead, until stopped. `never_called` is in the image and never runs.
 *
 * Built with Debian's Linux cross compilers, freestanding: see system.rs for the flags.
 */

#define EXIT_STATUS 3
#define MAX_CPUS 2

#include "board.h"

/* ---- the work ---- */

__attribute__((noinline)) ulong square_sum(ulong n) {
    ulong sum = 0;
    for (ulong i = 0; i < n; i++) sum += i * i;
    return sum;
}

static volatile unsigned int buffers[MAX_CPUS][256];

__attribute__((noinline)) ulong fill_and_sum(volatile unsigned int *buf, unsigned n) {
    for (unsigned i = 0; i < n; i++) buf[i] = i * 7u;
    ulong sum = 0;
    for (unsigned i = 0; i < n; i++) sum += buf[i];
    return sum;
}

__attribute__((noinline)) void never_called(void) {
    print("never printed\n");
}

static volatile ulong results[MAX_CPUS];
static volatile unsigned int done[MAX_CPUS];

void firmware_main(unsigned cpu) {
    if (cpu >= MAX_CPUS) return; /* more CPUs than the test gives: park them */
#if defined(SMP) && defined(BOARD_STARTS_CPUS)
    if (cpu == 0) board_start_cpu(1); /* riscv64's harts all start by themselves */
#endif
    results[cpu] = square_sum(1000 + 500 * cpu) + fill_and_sum(buffers[cpu], 200);
    if (cpu != 0) {
        done[cpu] = 1;
        return;
    }
#ifdef SMP
    while (!done[1]) {
    }
#endif
    ulong total = 0;
    for (unsigned c = 0; c < MAX_CPUS; c++) {
        if (c == 0 || done[c]) {
            print("firmware: cpu ");
            board_putc((char)('0' + c));
            print(" result ");
            print_hex(results[c]);
            print("\n");
            total += results[c];
        }
    }
    print("firmware: total ");
    print_hex(total);
    print("\n");
#ifdef FOREVER
    /* For the tests that end a run from outside (signals, the monitor, timeout). */
    print("firmware: running until stopped\n");
    for (;;) results[0] += square_sum(100);
#endif
    board_exit(EXIT_STATUS);
}
