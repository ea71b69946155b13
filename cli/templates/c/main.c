// {{name}}: executions of the main binary's blocks, from inline counters.
// Build: `cannonball build . -o {{name}}.wasm`; run:
// `cannonball run --script {{name}}.wasm -- /path/to/program`.
#include <inttypes.h>
#include <stdio.h>
#include "cannonball.h"

CB_SCRIPT("{{name}}", "0.1.0", "Block executions in the main binary")

bool cb_init(const cb_run_info *info, const cb_args *args, cb_subscription *sub, char **error) {
    (void)info, (void)args, (void)error;
    sub->kinds = CB_BLOCK_COUNTS;
    sub->filter.is_some = true;
    sub->filter.val.tag = CANNONBALL_SCRIPT_TYPES_ADDRESS_FILTER_MAIN_BINARY;
    return true;
}

bool cb_finish(const cb_run_summary *s, char **error) {
    uint64_t total = 0;
    for (size_t i = 0; i < s->block_execs.len; i++) total += s->block_execs.ptr[i];
    char line[64];
    int n = snprintf(line, sizeof line, "%" PRIu64 " block executions\n", total);
    return cb_write_report("{{name}}.txt", line, n, error);
}
