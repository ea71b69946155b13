// Dies of SIGABRT, delivered as the kill system call returns: nothing runs after the call.
#include <stdlib.h>

int main(void) {
    abort();
}
