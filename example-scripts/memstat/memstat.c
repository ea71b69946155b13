/*
 * memstat (C): memory accesses by direction and size, and the hottest addresses.
 * Subscribes to memory events (one per completed access) and writes memstat.txt:
 *   reads N / writes N / size-S-reads N / size-S-writes N / top-K hottest addresses.
 * Argument: top=K (default 10).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cannonball.h"

CB_SCRIPT("memstat", "0.1.0", "Memory reads and writes by size, and the hottest addresses")

static const cb_argument arguments[] = {
    {"top", CB_INTEGER, "10", "how many of the hottest addresses to list"},
};

const cb_argument *cb_arguments(size_t *count) {
    *count = sizeof arguments / sizeof arguments[0];
    return arguments;
}

/* Open-addressing hash table: address -> accesses. */
typedef struct {
    uint64_t addr;
    uint64_t count;
} slot;

static slot *table;
static size_t capacity = 1 << 16, used;
static uint64_t reads, writes, by_size[2][5];
static long top = 10;

static size_t hash(uint64_t a) { return (size_t)((a * 0x9E3779B97F4A7C15ull) >> 20); }

static void grow(void);

static void add(uint64_t addr) {
    if (2 * (used + 1) > capacity) grow();
    size_t i = hash(addr) & (capacity - 1);
    while (table[i].count && table[i].addr != addr) i = (i + 1) & (capacity - 1);
    if (!table[i].count) {
        table[i].addr = addr;
        used++;
    }
    table[i].count++;
}

static void grow(void) {
    slot *old = table;
    size_t old_cap = capacity;
    capacity *= 2;
    table = calloc(capacity, sizeof(slot));
    used = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].count) continue;
        size_t j = hash(old[i].addr) & (capacity - 1);
        while (table[j].count) j = (j + 1) & (capacity - 1);
        table[j] = old[i];
        used++;
    }
    free(old);
}

bool cb_init(const cb_run_info *info, const cb_args *args, cb_subscription *subscription, char **error) {
    (void)info;
    top = strtol(cb_arg(args, "top"), NULL, 0);
    if (top < 0) {
        *error = cb_strdup("top must not be negative");
        return false;
    }
    table = calloc(capacity, sizeof(slot));
    /* Addresses, sizes and directions only: capture need not fetch the values. */
    cb_memory_values(false);
    subscription->kinds = CB_MEMORY;
    return true;
}

void cb_on_events(const cb_event_batch *batch) {
    for (size_t i = 0; i < batch->mem_info.len; i++) {
        uint8_t info = batch->mem_info.ptr[i];
        bool store = cb_mem_is_store(info);
        if (store) writes++;
        else reads++;
        by_size[store][info & 7]++;
        add(batch->mem_addr.ptr[i]);
    }
}

static int hotter(const void *a, const void *b) {
    const slot *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

bool cb_finish(const cb_run_summary *summary, char **error) {
    (void)summary;
    size_t n = 0;
    for (size_t i = 0; i < capacity; i++)
        if (table[i].count) table[n++] = table[i];
    qsort(table, n, sizeof(slot), hotter);

    size_t cap = 4096 + 64 * (size_t)top, len = 0;
    char *r = malloc(cap);
    len += snprintf(r + len, cap - len, "reads %" PRIu64 "\nwrites %" PRIu64 "\n", reads, writes);
    for (int s = 0; s < 5; s++)
        if (by_size[0][s] || by_size[1][s])
            len += snprintf(r + len, cap - len, "size-%u reads %" PRIu64 " writes %" PRIu64 "\n", 1u << s,
                            by_size[0][s], by_size[1][s]);
    len += snprintf(r + len, cap - len, "distinct-addresses %zu\n", n);
    for (size_t i = 0; i < n && i < (size_t)top; i++)
        len += snprintf(r + len, cap - len, "hot %#" PRIx64 " %" PRIu64 "\n", table[i].addr, table[i].count);
    bool ok = cb_write_report("memstat.txt", r, len, error);
    free(r);
    return ok;
}
