/*
 * The boards of the system-mode tests (tests/tests/system.rs): a UART to print through, a way
 * to end QEMU with an exit status, the start-up code, for riscv64 (`virt`, -bios none),
 * aarch64 (`virt`) and 32-bit ARM Cortex-M3 (`mps2-an385`). Included by firmware.c and
 * traps.c; each defines `firmware_main(cpu)`.
 */
#ifndef BOARD_H
#define BOARD_H

typedef unsigned long ulong;

/* ---- the board: UART, exit, start-up, per architecture ---- */

#if defined(__riscv)
#define UART ((volatile unsigned char *)0x10000000UL) /* 16550 THR */
#define SIFIVE_TEST ((volatile unsigned int *)0x100000UL)
static void board_putc(char c) { *UART = (unsigned char)c; }
static void board_exit(int status) {
    *SIFIVE_TEST = ((unsigned)status << 16) | 0x3333; /* FAIL with a code: QEMU exits with it */
    for (;;) __asm__ volatile("wfi");
}
/* Every hart starts here (-bios none) with its id in a0: 16 KiB of stack each. */
__asm__(".section .text.start\n.globl _start\n_start:\n"
        "  csrr a0, mhartid\n  la sp, stack_top\n  slli t0, a0, 14\n  sub sp, sp, t0\n"
        "  call firmware_main\n1: wfi\n  j 1b\n.text\n");

#elif defined(__aarch64__)
#define UART ((volatile unsigned int *)0x09000000UL) /* PL011 DR */
static void board_putc(char c) { *UART = (unsigned char)c; }
static void board_exit(int status) {
    /* Semihosting SYS_EXIT (0x18), A64 form: a block {reason, subcode}. */
    static volatile ulong block[2];
    block[0] = 0x20026; /* ADP_Stopped_ApplicationExit */
    block[1] = (ulong)status;
    register ulong x0 __asm__("x0") = 0x18;
    register ulong x1 __asm__("x1") = (ulong)block;
    __asm__ volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
    for (;;) __asm__ volatile("wfe");
}
/* CPU 0 starts here; with SMP it starts CPU 1 here too (PSCI CPU_ON): 16 KiB of stack each. */
__asm__(".section .text.start\n.globl _start\n_start:\n"
        "  mrs x0, mpidr_el1\n  and x0, x0, #0xff\n  ldr x1, =stack_top\n  sub x1, x1, x0, lsl #14\n"
        "  mov sp, x1\n  bl firmware_main\n1: wfe\n  b 1b\n.ltorg\n.text\n");
void _start(void);
/* PSCI CPU_ON through the hypervisor call QEMU's virt board answers without firmware. */
static void board_start_cpu(unsigned cpu) {
    register ulong x0 __asm__("x0") = 0xc4000003; /* CPU_ON, SMC64/HVC64 */
    register ulong x1 __asm__("x1") = cpu;        /* target MPIDR */
    register ulong x2 __asm__("x2") = (ulong)_start;
    register ulong x3 __asm__("x3") = 0;
    __asm__ volatile("hvc #0" : "+r"(x0) : "r"(x1), "r"(x2), "r"(x3) : "memory");
}
#define BOARD_STARTS_CPUS

#elif defined(__arm__)
#define UART_DATA ((volatile unsigned int *)0x40004000UL) /* CMSDK APB UART0 */
#define UART_CTRL ((volatile unsigned int *)0x40004008UL)
static void board_putc(char c) {
    *UART_CTRL = 1; /* TX enable */
    *UART_DATA = (unsigned char)c;
}
static void board_exit(int status) {
    /* Semihosting SYS_EXIT_EXTENDED (0x20): a block {reason, subcode}. */
    static volatile unsigned int block[2];
    block[0] = 0x20026;
    block[1] = (unsigned int)status;
    register unsigned int r0 __asm__("r0") = 0x20;
    register unsigned int r1 __asm__("r1") = (unsigned int)block;
    __asm__ volatile("bkpt #0xab" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) __asm__ volatile("wfi");
}
#ifndef BOARD_OWN_VECTORS
/* The M-profile vector table: initial stack pointer, then the reset handler. */
void _start(void);
__attribute__((section(".vectors"), used)) static void *const vectors[2] = {
    (void *)0x00400000, /* top of the 4 MiB SSRAM1 */
    (void *)_start,
};
#endif
void firmware_main(unsigned cpu);
__attribute__((section(".text.start"), noreturn)) void _start(void) {
    firmware_main(0);
    for (;;) __asm__ volatile("wfi");
}
#else
#error "unsupported architecture"
#endif

/* ---- printing ---- */

static void print(const char *s) {
    while (*s) board_putc(*s++);
}

static void print_hex(ulong v) {
    char buf[2 * sizeof(ulong) + 1];
    int i = (int)sizeof(buf) - 1;
    buf[i] = 0;
    do {
        buf[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v && i > 0);
    print("0x");
    print(&buf[i]);
}

#endif
