/*
 * icount (C): the number of guest instructions executed, in total and per vCPU (thread),
 * from inline counters. Writes icount.txt to the out directory and logs the total.
 * Merge step: the runs' totals summed, and how many runs had one ("total N", "runs N").
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cannonball.h"

CB_SCRIPT("icount", "0.1.0", "Counts executed guest instructions: total and per vCPU (thread)")

bool cb_init(const cb_run_info *info, const cb_args *args, cb_subscription *subscription, char **error) {
    (void)info, (void)args, (void)subscription, (void)error;
    return true; /* no events needed: instruction totals come with every run summary */
}

bool cb_finish(const cb_run_summary *summary, char **error) {
    uint64_t total = 0;
    for (size_t i = 0; i < summary->instructions.len; i++) total += summary->instructions.ptr[i].instructions;

    size_t cap = 64 + 48 * summary->instructions.len, len = 0;
    char *report = malloc(cap);
    len += snprintf(report + len, cap - len, "total %" PRIu64 "\n", total);
    for (size_t i = 0; i < summary->instructions.len; i++) {
        const cannonball_script_types_vcpu_instructions_t *v = &summary->instructions.ptr[i];
        if (v->instructions > 0)
            len += snprintf(report + len, cap - len, "vcpu %" PRIu32 " %" PRIu64 "\n", v->vcpu, v->instructions);
    }
    bool ok = cb_write_report("icount.txt", report, len, error);
    free(report);
    if (ok) cb_log_info("%" PRIu64 " instructions executed", total);
    return ok;
}

bool cb_merge(const cb_report_set *runs, size_t count, char **error) {
    uint64_t total = 0, counted = 0;
    for (size_t i = 0; i < count; i++) {
        const cb_report *r = cb_report_find(&runs[i], "icount.txt");
        if (!r) continue; /* a run stopped before its exit */
        uint64_t n;
        char line[64];
        size_t len = r->len < sizeof line - 1 ? r->len : sizeof line - 1;
        memcpy(line, r->data, len);
        line[len] = 0;
        if (sscanf(line, "total %" SCNu64, &n) != 1) {
            char message[160];
            snprintf(message, sizeof message, "icount.txt of run %s has no total", runs[i].run);
            *error = cb_strdup(message);
            return false;
        }
        total += n;
        counted++;
    }
    char report[96];
    int len = snprintf(report, sizeof report, "total %" PRIu64 "\nruns %" PRIu64 "\n", total, counted);
    return cb_write_report("icount.txt", report, (size_t)len, error);
}
