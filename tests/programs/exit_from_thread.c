// A worker thread ends the process with exit() (exit_group) while the main thread and
// three other workers are still busy: every thread's buffered events must still arrive.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile unsigned long sink;

static void *spin(void *arg) {
    (void)arg;
    for (;;) sink = sink * 3 + 1;
    return NULL;
}

static void *finisher(void *arg) {
    (void)arg;
    unsigned long x = 1;
    for (int i = 0; i < 300000; i++) x = x * 6364136223846793005ul + 1;
    printf("finisher: %lx\n", x);
    fflush(stdout);
    exit(0);
}

int main(void) {
    pthread_t t[4];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, spin, NULL);
    pthread_create(&t[3], NULL, finisher, NULL);
    for (;;) pause();
}
