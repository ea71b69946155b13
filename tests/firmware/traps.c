/*
 * A bare-metal program with known discontinuities and privilege levels, for the system-mode
 * tests (tests/tests/system_traps.rs), on the boards of board.h:
 *
 * - exactly CALLS supervisor calls from the privileged level (`ecall` from M-mode, `svc` at
 *   EL1 or in privileged thread mode), each from `make_calls`;
 * - exactly TICKS timer interrupts (CLINT machine timer, the generic timer's virtual timer
 *   through the GICv2, SysTick), taken while `wait_for_ticks` waits;
 * - `user_work` run at user level (U-mode, EL0, unprivileged thread mode), which comes back
 *   with one more supervisor call: CALLS + 1 exceptions in all;
 * - the exit: the SiFive test device on riscv64 (no host call), semihosting on ARM (one host
 *   call).
 *
 * It prints what it counted and `user_work`'s result, then exits with status 0.
 */

#define BOARD_OWN_VECTORS
#include "board.h"

#define CALLS 7
#define TICKS 5
#define USER_N 300

static volatile unsigned ticks, calls, returns_from_user;

/* Runs at user level: squares below USER_N. */
__attribute__((noinline)) ulong user_work(void) {
    ulong sum = 0;
    for (ulong i = 0; i < USER_N; i++) sum += i * i;
    return sum;
}
static volatile ulong user_result;
void user_body(void) { user_result = user_work(); }

static void unexpected(const char *what) {
    print("traps: unexpected ");
    print(what);
    print("\n");
    board_exit(1);
}

#if defined(__riscv)
#define MTIMECMP ((volatile ulong *)0x2004000UL)
#define MTIME ((volatile ulong *)0x200bff8UL)
#define DELTA 2000UL
#define csr_read(name) ({ ulong v_; __asm__ volatile("csrr %0, " #name : "=r"(v_)); v_; })
#define csr_write(name, v) __asm__ volatile("csrw " #name ", %0" ::"r"((ulong)(v)))
#define csr_set(name, v) __asm__ volatile("csrs " #name ", %0" ::"r"((ulong)(v)))
#define csr_clear(name, v) __asm__ volatile("csrc " #name ", %0" ::"r"((ulong)(v)))

__attribute__((interrupt("machine"), aligned(4))) void trap_entry(void) {
    ulong cause = csr_read(mcause);
    if ((long)cause < 0) {
        if ((cause & 0xff) != 7) unexpected("interrupt");
        ticks++;
        if (ticks < TICKS) *MTIMECMP = *MTIME + DELTA;
        else csr_clear(mie, 1UL << 7); /* MTIE: no more timer interrupts */
    } else if (cause == 11) { /* ecall from M-mode */
        calls++;
        csr_write(mepc, csr_read(mepc) + 4);
    } else if (cause == 8) { /* ecall from U-mode: back to M-mode after it */
        returns_from_user++;
        csr_write(mepc, csr_read(mepc) + 4);
        csr_set(mstatus, 3UL << 11); /* MPP = M */
    } else {
        unexpected("exception");
    }
}

__attribute__((noinline)) void make_calls(void) {
    for (int i = 0; i < CALLS; i++) __asm__ volatile("ecall" ::: "memory");
}

static void setup(void) {
    /* PMP: U-mode may use all memory (with PMP present, it may use none by default). */
    csr_write(pmpaddr0, -1UL);
    csr_write(pmpcfg0, 0x1f);
    /* The handler saves the FP registers too (the ABI is lp64d): the FPU must be on. */
    csr_set(mstatus, 1UL << 13);
    csr_write(mtvec, (ulong)trap_entry);
}

static void start_ticks(void) {
    *MTIMECMP = *MTIME + DELTA;
    csr_set(mie, 1UL << 7);     /* MTIE */
    csr_set(mstatus, 1UL << 3); /* MIE */
}

static void idle(void) { __asm__ volatile("wfi"); }

/* mret into user_entry at U-mode; its ecall brings it back to M-mode right after. */
void run_user(void);
__asm__(".text\n.globl run_user\nrun_user:\n"
        "  addi sp, sp, -16\n  sd ra, 8(sp)\n"
        "  la t0, user_entry\n  csrw mepc, t0\n  li t0, 0x1800\n  csrc mstatus, t0\n  mret\n"
        "user_entry:\n  call user_body\n  ecall\n"
        "  ld ra, 8(sp)\n  addi sp, sp, 16\n  ret\n");

#elif defined(__aarch64__)
#define GICD ((volatile unsigned int *)0x08000000UL)
#define GICC ((volatile unsigned int *)0x08010000UL)
#define VTIMER_IRQ 27
#define DELTA 20000UL

/* Called from the vectors below with the vector's offset. */
void trap(ulong vector) {
    ulong esr;
    __asm__ volatile("mrs %0, esr_el1" : "=r"(esr));
    if (vector == 0x280 || vector == 0x480) { /* IRQ from EL1 or EL0 */
        unsigned iar = GICC[0x0c / 4];
        if ((iar & 0x3ff) != VTIMER_IRQ) unexpected("interrupt");
        ticks++;
        if (ticks < TICKS) __asm__ volatile("msr cntv_tval_el0, %0" ::"r"(DELTA));
        else __asm__ volatile("msr cntv_ctl_el0, %0" ::"r"(0UL));
        GICC[0x10 / 4] = iar; /* EOI */
    } else if (vector == 0x200 && (esr >> 26) == 0x15) { /* SVC at EL1 */
        calls++;
    } else if (vector == 0x400 && (esr >> 26) == 0x15) { /* SVC from EL0: back to EL1h */
        returns_from_user++;
        __asm__ volatile("msr spsr_el1, %0" ::"r"(0x3c5UL));
    } else {
        unexpected("exception");
    }
}

/* The vector table: every entry saves the caller-saved registers, calls trap(offset). */
#define VECTOR(off)                                                                             \
    ".balign 0x80\n  sub sp, sp, #176\n  stp x0, x1, [sp]\n  stp x2, x3, [sp, #16]\n"         \
    "  stp x4, x5, [sp, #32]\n  stp x6, x7, [sp, #48]\n  stp x8, x9, [sp, #64]\n"               \
    "  stp x10, x11, [sp, #80]\n  stp x12, x13, [sp, #96]\n  stp x14, x15, [sp, #112]\n"        \
    "  stp x16, x17, [sp, #128]\n  stp x18, x30, [sp, #144]\n  mov x0, #" #off "\n  b vector_common\n"
__asm__(".text\n.balign 0x800\n.globl vectors\nvectors:\n" VECTOR(0x000) VECTOR(0x080) VECTOR(0x100)
            VECTOR(0x180) VECTOR(0x200) VECTOR(0x280) VECTOR(0x300) VECTOR(0x380) VECTOR(0x400)
                VECTOR(0x480) VECTOR(0x500) VECTOR(0x580) VECTOR(0x600) VECTOR(0x680) VECTOR(0x700)
                    VECTOR(0x780)
        "vector_common:\n  bl trap\n"
        "  ldp x0, x1, [sp]\n  ldp x2, x3, [sp, #16]\n  ldp x4, x5, [sp, #32]\n  ldp x6, x7, [sp, #48]\n"
        "  ldp x8, x9, [sp, #64]\n  ldp x10, x11, [sp, #80]\n  ldp x12, x13, [sp, #96]\n"
        "  ldp x14, x15, [sp, #112]\n  ldp x16, x17, [sp, #128]\n  ldp x18, x30, [sp, #144]\n"
        "  add sp, sp, #176\n  eret\n");
extern char vectors[];

__attribute__((noinline)) void make_calls(void) {
    for (int i = 0; i < CALLS; i++) __asm__ volatile("svc #0" ::: "memory");
}

static void setup(void) {
    __asm__ volatile("msr vbar_el1, %0\n isb" ::"r"((ulong)vectors));
    GICD[0] = 1;                          /* GICD_CTLR: enable */
    GICD[0x100 / 4] = 1u << VTIMER_IRQ;   /* GICD_ISENABLER0 */
    GICC[0x04 / 4] = 0xff;                /* GICC_PMR: all priorities */
    GICC[0] = 1;                          /* GICC_CTLR: enable */
}

static void start_ticks(void) {
    __asm__ volatile("msr cntv_tval_el0, %0" ::"r"(DELTA));
    __asm__ volatile("msr cntv_ctl_el0, %0" ::"r"(1UL));
    __asm__ volatile("msr daifclr, #2"); /* unmask IRQs */
}

static void idle(void) { __asm__ volatile("wfi"); }

/* eret into user_entry at EL0 (its own stack); its svc brings it back to EL1h after it. */
ulong user_stack[512] __attribute__((aligned(16), used));
void run_user(void);
__asm__(".text\n.globl run_user\nrun_user:\n"
        "  stp x19, x30, [sp, #-16]!\n"
        "  adr x0, user_entry\n  msr elr_el1, x0\n  msr spsr_el1, xzr\n"
        "  ldr x0, =user_stack + 4096\n  msr sp_el0, x0\n  eret\n"
        "user_entry:\n  bl user_body\n  svc #1\n"
        "  ldp x19, x30, [sp], #16\n  ret\n.ltorg\n");

#elif defined(__arm__)
#define SYST ((volatile unsigned int *)0xE000E010UL) /* CSR, RVR, CVR */
#define DELTA 25000u

void svc_handler(void) {
    unsigned control;
    __asm__ volatile("mrs %0, control" : "=r"(control));
    if (control & 1) { /* from unprivileged thread mode: privileged again */
        returns_from_user++;
        __asm__ volatile("msr control, %0\n isb" ::"r"(control & ~1u));
    } else {
        calls++;
    }
}

void systick_handler(void) {
    ticks++;
    if (ticks >= TICKS) SYST[0] = 0; /* stop the timer */
}

void fault_handler(void) { unexpected("exception"); }

/* The M-profile vector table: stack, reset, NMI, HardFault ... SVCall (11), SysTick (15). */
__attribute__((section(".vectors"), used)) static void *const vectors[16] = {
    (void *)0x00400000, (void *)_start, (void *)fault_handler, (void *)fault_handler,
    (void *)fault_handler, (void *)fault_handler, (void *)fault_handler, 0, 0, 0, 0,
    (void *)svc_handler, (void *)fault_handler, 0, (void *)fault_handler, (void *)systick_handler,
};

__attribute__((noinline)) void make_calls(void) {
    for (int i = 0; i < CALLS; i++) __asm__ volatile("svc #0" ::: "memory");
}

static void setup(void) {}

static void start_ticks(void) {
    SYST[1] = DELTA; /* reload */
    SYST[2] = 0;     /* current */
    SYST[0] = 7;     /* enable, interrupt, processor clock */
}

static void idle(void) { __asm__ volatile("wfi"); }

/* Unprivileged thread mode for user_body; its svc makes the thread privileged again. */
__attribute__((noinline)) void run_user(void) {
    __asm__ volatile("msr control, %0\n isb" ::"r"(1u));
    user_body();
    __asm__ volatile("svc #1" ::: "memory");
}
#endif

__attribute__((noinline)) void wait_for_ticks(void) {
    start_ticks();
    while (ticks < TICKS) idle();
}

static void print_dec(ulong v) {
    char buf[24];
    int i = (int)sizeof(buf) - 1;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    print(&buf[i]);
}

void firmware_main(unsigned cpu) {
    if (cpu != 0) return;
    setup();
    make_calls();
    wait_for_ticks();
    run_user();
    print("traps: calls ");
    print_dec(calls);
    print(" ticks ");
    print_dec(ticks);
    print(" returns ");
    print_dec(returns_from_user);
    print(" user ");
    print_dec(user_result);
    print("\n");
    board_exit(0);
}
