/*
 * Cannonball C SDK glue: implements the component's exports (generated declarations in
 * script.h) on top of the script's cb_* hooks, converting and freeing the host's data.
 */
#include "cannonball.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char *const cb_script_name;
extern const char *const cb_script_version;
extern const char *const cb_script_description;

struct cb_args {
    script_list_argument_t list;
};

/* Optional hooks: weak defaults the script may override. */
__attribute__((weak)) const cb_argument *cb_arguments(size_t *count) {
    *count = 0;
    return NULL;
}
__attribute__((weak)) void cb_on_blocks(const cb_block *blocks, size_t count) {
    (void)blocks;
    (void)count;
}
__attribute__((weak)) void cb_on_events(const cb_event_batch *batch) { (void)batch; }
__attribute__((weak)) void cb_on_probes(uint32_t vcpu, const cb_probe_hit *hits, size_t count) {
    (void)vcpu;
    (void)hits;
    (void)count;
}
__attribute__((weak)) void cb_on_thread(uint32_t vcpu, cb_thread_event event) {
    (void)vcpu;
    (void)event;
}

char *cb_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy) memcpy(copy, s, n);
    return copy;
}

static void take_error(char *message, script_string_t *err) {
    script_string_dup(err, message ? message : "failed");
    free(message);
}

void exports_script_describe(script_script_info_t *ret) {
    size_t count = 0;
    const cb_argument *args = cb_arguments(&count);
    script_string_dup(&ret->name, cb_script_name);
    script_string_dup(&ret->version, cb_script_version);
    script_string_dup(&ret->description, cb_script_description);
    ret->arguments.len = count;
    ret->arguments.ptr = count ? calloc(count, sizeof(cb_argument_spec)) : NULL;
    for (size_t i = 0; i < count; i++) {
        cb_argument_spec *spec = &ret->arguments.ptr[i];
        script_string_dup(&spec->key, args[i].key);
        spec->kind = args[i].type;
        spec->default_.is_some = args[i].default_value != NULL;
        if (args[i].default_value) script_string_dup(&spec->default_.val, args[i].default_value);
        spec->required = false;
        script_string_dup(&spec->help, args[i].help);
    }
}

bool exports_script_init(script_run_info_t *info, script_list_argument_t *args, script_subscription_t *ret,
                         script_string_t *err) {
    /* NUL-terminate the values so cb_arg can hand them out as C strings. */
    for (size_t i = 0; i < args->len; i++) {
        script_string_t *v = &args->ptr[i].value;
        uint8_t *copy = malloc(v->len + 1);
        memcpy(copy, v->ptr, v->len);
        copy[v->len] = 0;
        free(v->ptr);
        v->ptr = copy;
    }
    struct cb_args wrapped = {*args};
    memset(ret, 0, sizeof *ret);
    char *error = NULL;
    bool ok = cb_init(info, &wrapped, ret, &error);
    if (!ok) take_error(error, err);
    script_list_argument_free(args);
    script_run_info_free(info);
    return ok;
}

const char *cb_arg(const cb_args *args, const char *key) {
    size_t n = strlen(key);
    for (size_t i = 0; i < args->list.len; i++) {
        script_string_t *k = &args->list.ptr[i].key;
        if (k->len == n && memcmp(k->ptr, key, n) == 0) return (const char *)args->list.ptr[i].value.ptr;
    }
    return NULL;
}

void exports_script_on_blocks(script_list_block_t *blocks) {
    cb_on_blocks(blocks->ptr, blocks->len);
    script_list_block_free(blocks);
}

static char *cstring(const script_string_t *s);

/* The script asked for probes: each batch asks the host for its hits. */
static bool probes_asked;

/* Hands the probe hits of the batch being delivered to cb_on_probes. */
static void deliver_probe_hits(uint32_t vcpu) {
    cannonball_script_host_probe_batch_t b;
    cannonball_script_host_probe_hits(&b);
    size_t n = b.probe.len;
    if (n > 0) {
        cb_probe_hit *hits = calloc(n, sizeof *hits);
        cb_probe_data *reads = calloc(b.data_hit.len ? b.data_hit.len : 1, sizeof *reads);
        size_t value_at = 0;
        for (size_t i = 0; i < n; i++) {
            hits[i] = (cb_probe_hit){
                .probe = b.probe.ptr[i],
                .exec = b.exec.ptr[i],
                .event = b.event.ptr[i],
                .call = b.call.ptr[i],
                .return_address = b.return_address.ptr[i],
                .stack_pointer = b.stack_pointer.ptr[i],
                .values = b.values.ptr + value_at,
                .value_count = b.value_count.ptr[i],
            };
            value_at += b.value_count.ptr[i];
        }
        /* Reads are in hit order: each hit's are consecutive. */
        size_t at = 0;
        for (size_t r = 0; r < b.data_hit.len; r++) {
            cb_probe_hit *h = &hits[b.data_hit.ptr[r]];
            reads[r] = (cb_probe_data){b.data_info.ptr[r] & 0xf, b.data_info.ptr[r], b.data.ptr + at, b.data_len.ptr[r]};
            if (h->read_count == 0) h->reads = &reads[r];
            h->read_count++;
            at += b.data_len.ptr[r];
        }
        cb_on_probes(vcpu, hits, n);
        free(reads);
        free(hits);
    }
    cannonball_script_host_probe_batch_free(&b);
}

void exports_script_on_events(script_event_batch_t *batch) {
    if (probes_asked) deliver_probe_hits(batch->vcpu);
    cb_on_events(batch);
    script_event_batch_free(batch);
}

int64_t cb_add_probe(const cb_probe *probe, char **error) {
    cannonball_script_host_probe_t p = {0};
    if (probe->symbol) {
        p.site.tag = CANNONBALL_SCRIPT_HOST_PROBE_SITE_SYMBOL;
        p.site.val.symbol = (script_string_t){(uint8_t *)probe->symbol, strlen(probe->symbol)};
    } else {
        p.site.tag = CANNONBALL_SCRIPT_HOST_PROBE_SITE_ADDRESS;
        p.site.val.address = probe->address;
    }
    p.at_return = probe->at_return;
    p.arguments = probe->arguments;
    script_string_t *regs = calloc(probe->register_count ? probe->register_count : 1, sizeof *regs);
    for (size_t i = 0; i < probe->register_count; i++)
        regs[i] = (script_string_t){(uint8_t *)probe->registers[i], strlen(probe->registers[i])};
    p.registers = (script_list_string_t){regs, probe->register_count};
    cannonball_script_host_probe_read_t *reads = calloc(probe->read_count ? probe->read_count : 1, sizeof *reads);
    for (size_t i = 0; i < probe->read_count; i++) {
        const cb_probe_read *r = &probe->reads[i];
        reads[i] = (cannonball_script_host_probe_read_t){
            r->argument, r->max_length, r->until_nul, {r->length_argument >= 0, (uint8_t)(r->length_argument >= 0 ? r->length_argument : 0)}};
    }
    p.reads = (cannonball_script_host_list_probe_read_t){reads, probe->read_count};
    uint32_t id;
    script_string_t err;
    bool ok = cannonball_script_host_add_probe(&p, &id, &err);
    free(regs);
    free(reads);
    if (!ok) {
        if (error) *error = cstring(&err);
        script_string_free(&err);
        return -1;
    }
    probes_asked = true;
    return id;
}

const uint8_t *cb_probe_read_bytes(const cb_probe_hit *hit, uint8_t index, size_t *len) {
    for (size_t i = 0; i < hit->read_count; i++) {
        if (hit->reads[i].index == index && !(hit->reads[i].info & CB_PROBE_UNREADABLE)) {
            if (len) *len = hit->reads[i].len;
            return hit->reads[i].bytes;
        }
    }
    return NULL;
}

size_t cb_register_names(char ***names) {
    script_list_string_t list;
    cannonball_script_host_register_names(&list);
    char **out = calloc(list.len ? list.len : 1, sizeof *out);
    for (size_t i = 0; i < list.len; i++) out[i] = cstring(&list.ptr[i]);
    size_t n = list.len;
    script_list_string_free(&list);
    *names = out;
    return n;
}

void cb_register_names_free(char **names, size_t count) {
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
}

void exports_script_on_thread(uint32_t vcpu, script_thread_event_t event) { cb_on_thread(vcpu, event); }

bool exports_script_finish(script_run_summary_t *summary, script_string_t *err) {
    char *error = NULL;
    bool ok = cb_finish(summary, &error);
    if (!ok) take_error(error, err);
    script_run_summary_free(summary);
    return ok;
}

static void vlog(cannonball_script_host_log_level_t level, const char *format, va_list ap) {
    char buf[1024];
    vsnprintf(buf, sizeof buf, format, ap);
    script_string_t message;
    script_string_set(&message, buf);
    cannonball_script_host_log(level, &message);
}

void cb_log_info(const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    vlog(CANNONBALL_SCRIPT_HOST_LOG_LEVEL_INFO, format, ap);
    va_end(ap);
}

void cb_log_error(const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    vlog(CANNONBALL_SCRIPT_HOST_LOG_LEVEL_ERROR, format, ap);
    va_end(ap);
}

typedef bool (*report_fn)(script_string_t *, script_list_u8_t *, script_string_t *);

static bool report(report_fn fn, const char *name, const void *data, size_t len, char **error) {
    script_string_t n;
    script_string_set(&n, name);
    script_list_u8_t contents = {(uint8_t *)data, len};
    script_string_t err;
    if (fn(&n, &contents, &err)) return true;
    if (error) {
        *error = malloc(err.len + 1);
        memcpy(*error, err.ptr, err.len);
        (*error)[err.len] = 0;
    }
    script_string_free(&err);
    return false;
}

bool cb_write_report(const char *name, const void *data, size_t len, char **error) {
    return report(cannonball_script_host_write_report, name, data, len, error);
}

bool cb_append_report(const char *name, const void *data, size_t len, char **error) {
    return report(cannonball_script_host_append_report, name, data, len, error);
}

/* A malloc'd, NUL-terminated copy of a WIT string. */
static char *cstring(const script_string_t *s) {
    char *out = malloc(s->len + 1);
    if (out) {
        memcpy(out, s->ptr, s->len);
        out[s->len] = 0;
    }
    return out;
}

bool cb_symbolize(uint64_t address, cb_location *location) {
    cannonball_script_host_location_t loc;
    memset(location, 0, sizeof *location);
    if (!cannonball_script_host_symbolize(address, &loc)) return false;
    location->module = cstring(&loc.module);
    location->module_base = loc.module_base;
    location->offset = loc.offset;
    if (loc.symbol.is_some) {
        location->symbol = cstring(&loc.symbol.val.name);
        location->symbol_start = loc.symbol.val.start;
        location->symbol_size = loc.symbol.val.size;
    }
    cannonball_script_host_location_free(&loc);
    return true;
}

void cb_location_free(cb_location *location) {
    free(location->module);
    free(location->symbol);
    location->module = location->symbol = NULL;
}

bool cb_symbol_source(uint64_t address, cb_symbol_source_kind *source) {
    cannonball_script_host_symbol_origin_t raw;
    if (!cannonball_script_host_symbol_source(address, &raw)) return false;
    *source = (cb_symbol_source_kind)raw;
    return true;
}

bool cb_read_memory(uint64_t address, void *buf, uint32_t len, char **error) {
    script_list_u8_t bytes;
    script_string_t err;
    if (!cannonball_script_host_read_memory(address, len, &bytes, &err)) {
        if (error) *error = cstring(&err);
        script_string_free(&err);
        return false;
    }
    /* The host returns exactly `len` bytes; copy no more than asked for regardless. */
    memcpy(buf, bytes.ptr, bytes.len < len ? bytes.len : len);
    script_list_u8_free(&bytes);
    return true;
}

size_t cb_disassemble(uint64_t address, const void *code, size_t len, cb_instruction **insns) {
    script_list_u8_t bytes = {(uint8_t *)code, len};
    cannonball_script_host_list_instruction_t list;
    cannonball_script_host_disassemble(address, &bytes, &list);
    *insns = list.len ? calloc(list.len, sizeof(cb_instruction)) : NULL;
    for (size_t i = 0; i < list.len; i++) {
        (*insns)[i].address = list.ptr[i].address;
        (*insns)[i].size = list.ptr[i].size;
        (*insns)[i].text = cstring(&list.ptr[i].text);
    }
    size_t count = list.len;
    cannonball_script_host_list_instruction_free(&list);
    return count;
}

void cb_instructions_free(cb_instruction *insns, size_t count) {
    for (size_t i = 0; i < count; i++) free(insns[i].text);
    free(insns);
}

void cb_emit(uint32_t tag, const void *data, size_t len) {
    script_list_u8_t payload = {(uint8_t *)data, len};
    cannonball_script_host_emit(tag, &payload);
}

size_t cb_source_frames(uint64_t address, cb_source_frame **frames) {
    cannonball_script_host_list_source_frame_t list;
    cannonball_script_host_source_frames(address, &list);
    *frames = list.len ? calloc(list.len, sizeof(cb_source_frame)) : NULL;
    for (size_t i = 0; i < list.len; i++) {
        (*frames)[i].file = cstring(&list.ptr[i].file);
        (*frames)[i].line = list.ptr[i].line;
        (*frames)[i].column = list.ptr[i].column;
        (*frames)[i].function = list.ptr[i].function.is_some ? cstring(&list.ptr[i].function.val) : NULL;
    }
    size_t count = list.len;
    cannonball_script_host_list_source_frame_free(&list);
    return count;
}

void cb_source_frames_free(cb_source_frame *frames, size_t count) {
    for (size_t i = 0; i < count; i++) {
        free(frames[i].file);
        free(frames[i].function);
    }
    free(frames);
}

void cb_source_lines(const uint64_t *addresses, size_t count, cb_line_columns *out) {
    script_list_u64_t list = {(uint64_t *)addresses, count};
    cannonball_script_host_line_columns_t cols;
    cannonball_script_host_source_lines(&list, &cols);
    out->file_count = cols.files.len;
    out->files = cols.files.len ? calloc(cols.files.len, sizeof(char *)) : NULL;
    for (size_t i = 0; i < cols.files.len; i++) out->files[i] = cstring(&cols.files.ptr[i]);
    /* The columns' buffers were allocated by cabi_realloc (malloc): keep them. */
    out->count = cols.line.len;
    out->file_index = cols.file_index.ptr;
    out->line = cols.line.ptr;
    cols.file_index = (script_list_u32_t){NULL, 0};
    cols.line = (script_list_u32_t){NULL, 0};
    cannonball_script_host_line_columns_free(&cols);
}

void cb_line_columns_free(cb_line_columns *columns) {
    for (size_t i = 0; i < columns->file_count; i++) free(columns->files[i]);
    free(columns->files);
    free(columns->file_index);
    free(columns->line);
    *columns = (cb_line_columns){0};
}

char *cb_syscall_name(int64_t number) {
    script_string_t name;
    if (!cannonball_script_host_syscall_name(number, &name)) return NULL;
    char *out = cstring(&name);
    script_string_free(&name);
    return out;
}

char *cb_errno_name(int32_t errnum) {
    script_string_t name;
    if (!cannonball_script_host_errno_name(errnum, &name)) return NULL;
    char *out = cstring(&name);
    script_string_free(&name);
    return out;
}
const cb_report *cb_report_find(const cb_report_set *run, const char *name) {
    for (size_t i = 0; i < run->count; i++)
        if (strcmp(run->reports[i].name, name) == 0) return &run->reports[i];
    return NULL;
}

#ifdef CB_WITH_MERGE
/* The merge step's export (world `merger`, bindings in merger.h): the runs' reports as
 * cb_report_set values with NUL-terminated names; the merged reports are those cb_merge
 * writes, so the returned list is empty. */
#include "merger.h"

static char *strndup_bytes(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

bool exports_cannonball_script_merge_merge(exports_cannonball_script_merge_list_report_set_t *inputs,
                                           exports_cannonball_script_merge_list_report_t *ret, merger_string_t *err) {
    size_t n = inputs->len;
    cb_report_set *sets = calloc(n ? n : 1, sizeof *sets);
    for (size_t i = 0; i < n; i++) {
        exports_cannonball_script_merge_report_set_t *in = &inputs->ptr[i];
        cb_report *reports = calloc(in->reports.len ? in->reports.len : 1, sizeof *reports);
        for (size_t j = 0; j < in->reports.len; j++) {
            reports[j].name = strndup_bytes(in->reports.ptr[j].name.ptr, in->reports.ptr[j].name.len);
            reports[j].data = in->reports.ptr[j].contents.ptr;
            reports[j].len = in->reports.ptr[j].contents.len;
        }
        sets[i].run = strndup_bytes(in->run.ptr, in->run.len);
        sets[i].reports = reports;
        sets[i].count = in->reports.len;
    }
    char *error = NULL;
    bool ok = cb_merge(sets, n, &error);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < sets[i].count; j++) free((char *)sets[i].reports[j].name);
        free((cb_report *)sets[i].reports);
        free((char *)sets[i].run);
    }
    free(sets);
    exports_cannonball_script_merge_list_report_set_free(inputs);
    ret->ptr = NULL;
    ret->len = 0;
    if (!ok) {
        merger_string_dup(err, error ? error : "merge failed");
        free(error);
    }
    return ok;
}
#endif

bool cb_thread_id(uint32_t vcpu, int64_t *tid) {
    int64_t value;
    if (!cannonball_script_host_thread_id(vcpu, &value)) return false;
    if (tid) *tid = value;
    return true;
}

void cb_memory_values(bool wanted) {
    cannonball_script_host_memory_values(wanted);
}

char *cb_device_name(uint16_t device) {
    script_string_t name;
    if (!cannonball_script_host_device_name(device, &name)) return NULL;
    char *out = cstring(&name);
    script_string_free(&name);
    return out;
}

static bool is_x86(const char *arch) { return !strcmp(arch, "x86_64") || !strcmp(arch, "i386"); }
static bool is_arm(const char *arch) { return !strcmp(arch, "aarch64") || !strcmp(arch, "arm"); }
static bool is_riscv(const char *arch) { return !strcmp(arch, "riscv64") || !strcmp(arch, "riscv32"); }

bool cb_privilege_is_user(const char *arch, uint8_t level) {
    return is_x86(arch) ? level == 3 : level == 0;
}

const char *cb_privilege_name(const char *arch, uint8_t level) {
    if (is_x86(arch)) {
        static const char *const rings[] = {"kernel", "ring 1", "ring 2", "user"};
        return level < 4 ? rings[level] : NULL;
    }
    if (level == 0 && (is_arm(arch) || is_riscv(arch))) return "user";
    if (level == 1 && (is_arm(arch) || is_riscv(arch))) return "kernel";
    if (level == 2 && is_arm(arch)) return "hypervisor";
    if (level == 3 && is_arm(arch)) return "secure monitor";
    if (level == 3 && is_riscv(arch)) return "machine";
    return NULL;
}
