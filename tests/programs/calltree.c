// A program with a known call tree, for the profile example (tests/tests/profile.rs) and the
// cov page (cov_html.rs): main calls a() three times and b() once, both call leaf(); then a
// tail call, a longjmp out of two frames, a signal handler that runs inside raise(), and a
// last call of leaf() straight from main. leaf(n) runs its loop n times, so the instructions
// of each call are k0 + n * k1 for the same k0 and k1. One function's symbol holds HTML's
// special characters, as C++ template names do.
#pragma GCC optimize("optimize-sibling-calls")
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>

#define NOINLINE __attribute__((noinline))

volatile unsigned long sink;
static jmp_buf env;

NOINLINE void leaf(unsigned n) {
    for (unsigned i = 0; i < n; i++) sink += i;
}

NOINLINE void a(void) {
    leaf(10);
    sink++;
}

NOINLINE void b(void) {
    leaf(100);
    sink++;
}

NOINLINE void tail_target(unsigned n) {
    for (unsigned i = 0; i < n; i++) sink ^= i;
}

// Compiled as a jump to tail_target (sibling call): tail_target returns straight to main.
NOINLINE void tailer(void) {
    sink++;
    tail_target(50);
}

NOINLINE void thrower(void) {
    sink++;
    longjmp(env, 1);
}

NOINLINE void deep(void) {
    sink++;
    thrower();
    sink++;
}

NOINLINE void handler(int sig) {
    (void)sig;
    leaf(20);
    sink++;
}

NOINLINE void raiser(void) {
    sink++;
    raise(SIGUSR1);
    sink++;
}

// The name as the symbol table holds it (GCC emits it as written, quoted for the assembler).
NOINLINE void html_special(void) __asm__("\"tmpl<a&b>::run\"");
NOINLINE void html_special(void) {
    sink += 3;
}

int main(void) {
    signal(SIGUSR1, handler);
    for (int i = 0; i < 3; i++) a();
    b();
    tailer();
    if (setjmp(env) == 0) deep();
    raiser();
    html_special();
    leaf(5);
    printf("calltree: %lu\n", sink);
    return 0;
}
