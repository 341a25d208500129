/* The large blocks live at a run's peak, read, symbolized and rendered (peakblocks.h). */
#include "peakblocks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "textclean.h"

struct ms_block_reader {
    sqlite3 *db;
    sqlite3_stmt *reading; /* NULL: the database has no block tables */
    sqlite3_stmt *blocks;
    sqlite3_stmt *frames;
    sqlite3_stmt *kind;
    ms_symbolizer_t *sym;
};

int ms_block_reader_open(sqlite3 *db, ms_block_reader_t **out)
{
    ms_block_reader_t *r = calloc(1, sizeof *r);
    sqlite3_stmt *st = NULL;
    int tables = 0;

    *out = NULL;
    if (r == NULL)
        return -ENOMEM;
    r->db = db;
    if (sqlite3_prepare_v2(db,
                           "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
                           " ('blocks', 'block_readings', 'stacks')",
                           -1, &st, NULL) != SQLITE_OK) {
        free(r);
        return -EIO;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        tables = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    r->sym = ms_symbolizer_new();
    if (r->sym == NULL) {
        free(r);
        return -ENOMEM;
    }
    if (tables == 3) {
        if (sqlite3_prepare_v2(db,
                               "SELECT b.proc_id, p.pid, b.t_ns, b.rss_kb, b.untracked,"
                               " (SELECT count(*) FROM block_readings c JOIN processes q"
                               " ON q.proc_id = c.proc_id WHERE q.run_id = ?1),"
                               " (SELECT started_ns FROM runs WHERE run_id = ?1),"
                               " (SELECT max(rss_kb) FROM samples s WHERE s.proc_id = b.proc_id"
                               " AND typeof(s.rss_kb) = 'integer')"
                               " FROM block_readings b JOIN processes p ON p.proc_id = b.proc_id"
                               " WHERE p.run_id = ?1 AND typeof(b.rss_kb) = 'integer'"
                               " ORDER BY b.rss_kb DESC, b.t_ns LIMIT 1",
                               -1, &r->reading, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db,
                               "SELECT bytes, resident_kb, allocated_ns, stack_id FROM blocks"
                               " WHERE proc_id = ?1 AND t_ns = ?2 AND typeof(bytes) = 'integer'"
                               " AND bytes > 0 ORDER BY bytes DESC, addr",
                               -1, &r->blocks, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "SELECT frames FROM stacks WHERE stack_id = ?1", -1,
                               &r->frames, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db,
                               "SELECT kind FROM samples WHERE proc_id = ?1 AND t_ns = ?2"
                               " LIMIT 1",
                               -1, &r->kind, NULL) != SQLITE_OK) {
            ms_block_reader_close(r);
            return -EIO;
        }
    }
    *out = r;
    return 0;
}

void ms_block_reader_close(ms_block_reader_t *r)
{
    if (r == NULL)
        return;
    sqlite3_finalize(r->reading);
    sqlite3_finalize(r->blocks);
    sqlite3_finalize(r->frames);
    sqlite3_finalize(r->kind);
    ms_symbolizer_free(r->sym);
    free(r);
}

static const char *base_name(const char *path, size_t len, size_t *out_len)
{
    size_t at = len;

    while (at > 0 && path[at - 1] != '/')
        at--;
    *out_len = len - at;
    return path + at;
}

/* The symbolized text of one recorded frame line; NULL when out of memory. */
static char *frame_text(ms_symbolizer_t *sym, const char *line, size_t len, int *named)
{
    ms_frame_t fr;
    ms_sym_t s;
    char module[4096], build_id[160];
    char *out = NULL;
    size_t blen;
    const char *base;

    *named = 0;
    if (ms_frame_parse(line, len, &fr) != 0 || fr.module == NULL ||
        fr.module_len >= sizeof module || fr.build_id_len >= sizeof build_id)
        return strndup(line, len);
    memcpy(module, fr.module, fr.module_len);
    module[fr.module_len] = '\0';
    if (fr.build_id != NULL)
        memcpy(build_id, fr.build_id, fr.build_id_len);
    build_id[fr.build_id != NULL ? fr.build_id_len : 0] = '\0';
    base = base_name(module, fr.module_len, &blen);
    if (ms_symbolize(sym, module, build_id[0] != '\0' ? build_id : NULL, fr.offset, &s) != 0)
        s.status = MS_SYM_MISSING;
    if (s.status == MS_SYM_OK && s.function != NULL) {
        char where[1200] = "";
        *named = 1;
        if (s.file != NULL && s.line > 0) {
            size_t flen;
            const char *const fb = base_name(s.file, strlen(s.file), &flen);
            snprintf(where, sizeof where, " at %.*s:%d", (int)flen, fb, s.line);
        }
        if (asprintf(&out, "%s%s%s%s (%.*s+0x%llx)", s.function,
                     s.inlined && s.symbol != NULL ? " inlined in " : "",
                     s.inlined && s.symbol != NULL ? s.symbol : "", where, (int)blen, base,
                     (unsigned long long)fr.offset) < 0)
            out = NULL;
        return out;
    }
    if (asprintf(&out, "%.*s+0x%llx %.*s (%s)", (int)blen, base, (unsigned long long)fr.offset,
                 fr.symbol != NULL ? (int)fr.symbol_len : 1, fr.symbol != NULL ? fr.symbol : "?",
                 s.status == MS_SYM_OK ? "no function" : ms_sym_status_name(s.status)) < 0)
        out = NULL;
    return out;
}

static int read_frames(ms_block_reader_t *r, ms_peak_blocks_t *b, ms_block_view_t *v)
{
    const unsigned char *text;
    int rc = 0;

    sqlite3_reset(r->frames);
    sqlite3_bind_int64(r->frames, 1, v->stack_id);
    if (sqlite3_step(r->frames) != SQLITE_ROW)
        return 0;
    text = sqlite3_column_text(r->frames, 0);
    for (const char *p = (const char *)text; p != NULL && *p != '\0' && rc == 0;) {
        const char *const nl = strchr(p, '\n');
        const size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        if (len > 0) {
            ms_block_frame_t *const nf = realloc(v->frames, (v->n_frames + 1) * sizeof *nf);
            if (nf == NULL) {
                rc = -ENOMEM;
                break;
            }
            v->frames = nf;
            nf[v->n_frames].raw = strndup(p, len);
            nf[v->n_frames].text = frame_text(r->sym, p, len, &nf[v->n_frames].symbolized);
            if (nf[v->n_frames].raw == NULL || nf[v->n_frames].text == NULL) {
                free(nf[v->n_frames].raw);
                free(nf[v->n_frames].text);
                rc = -ENOMEM;
                break;
            }
            b->n_symbolized += nf[v->n_frames].symbolized != 0;
            b->n_frames++;
            v->n_frames++;
        }
        p = nl != NULL ? nl + 1 : NULL;
    }
    sqlite3_reset(r->frames);
    return rc;
}

char *ms_frames_symbolized(ms_block_reader_t *r, const char *frames)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    int failed = f == NULL;

    for (const char *p = frames; !failed && p != NULL && *p != '\0';) {
        const char *const nl = strchr(p, '\n');
        const size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        if (n > 0) {
            int named;
            char *const t = frame_text(r->sym, p, n, &named);
            if (t == NULL)
                failed = 1;
            else
                fprintf(f, "%s\n", t);
            free(t);
        }
        p = nl != NULL ? nl + 1 : NULL;
    }
    if (f != NULL && fclose(f) != 0)
        failed = 1;
    if (failed) {
        free(out);
        return NULL;
    }
    return out;
}

int ms_peak_blocks_read(ms_block_reader_t *r, long long run_id, ms_peak_blocks_t *out)
{
    long long proc_id;
    int rc = 0, step;

    memset(out, 0, sizeof *out);
    if (r->reading == NULL)
        return 0;
    sqlite3_reset(r->reading);
    sqlite3_bind_int64(r->reading, 1, run_id);
    step = sqlite3_step(r->reading);
    if (step != SQLITE_ROW) {
        sqlite3_reset(r->reading);
        return step == SQLITE_DONE ? 0 : -EIO;
    }
    out->have = 1;
    proc_id = sqlite3_column_int64(r->reading, 0);
    out->pid = sqlite3_column_int64(r->reading, 1);
    out->t_ns = sqlite3_column_int64(r->reading, 2);
    out->rss_kb = (unsigned long long)sqlite3_column_int64(r->reading, 3);
    out->untracked = (unsigned long long)sqlite3_column_int64(r->reading, 4);
    out->procs = (size_t)sqlite3_column_int64(r->reading, 5);
    if (sqlite3_column_type(r->reading, 6) == SQLITE_INTEGER)
        out->run_start_ns = sqlite3_column_int64(r->reading, 6);
    if (sqlite3_column_type(r->reading, 7) == SQLITE_INTEGER &&
        sqlite3_column_int64(r->reading, 7) > 0)
        out->proc_max_kb = (unsigned long long)sqlite3_column_int64(r->reading, 7);
    sqlite3_reset(r->reading);

    sqlite3_reset(r->kind);
    sqlite3_bind_int64(r->kind, 1, proc_id);
    sqlite3_bind_int64(r->kind, 2, out->t_ns);
    if (sqlite3_step(r->kind) == SQLITE_ROW && sqlite3_column_text(r->kind, 0) != NULL)
        snprintf(out->kind, sizeof out->kind, "%s", (const char *)sqlite3_column_text(r->kind, 0));
    sqlite3_reset(r->kind);

    sqlite3_reset(r->blocks);
    sqlite3_bind_int64(r->blocks, 1, proc_id);
    sqlite3_bind_int64(r->blocks, 2, out->t_ns);
    while (rc == 0 && (step = sqlite3_step(r->blocks)) == SQLITE_ROW) {
        ms_block_view_t *const nb = realloc(out->blocks, (out->n + 1) * sizeof *nb);
        ms_block_view_t *v;
        if (nb == NULL) {
            rc = -ENOMEM;
            break;
        }
        out->blocks = nb;
        v = &nb[out->n++];
        memset(v, 0, sizeof *v);
        v->bytes = (unsigned long long)sqlite3_column_int64(r->blocks, 0);
        v->resident_kb = sqlite3_column_type(r->blocks, 1) == SQLITE_INTEGER
                             ? sqlite3_column_int64(r->blocks, 1)
                             : -1;
        v->allocated_ns = sqlite3_column_type(r->blocks, 2) == SQLITE_INTEGER
                              ? sqlite3_column_int64(r->blocks, 2)
                              : 0;
        v->stack_id = sqlite3_column_type(r->blocks, 3) == SQLITE_INTEGER
                          ? sqlite3_column_int64(r->blocks, 3)
                          : 0;
        if (v->resident_kb > 0)
            out->resident_kb += (unsigned long long)v->resident_kb;
        out->unknown += v->resident_kb < 0;
        /* Stacks are read once the statement is done with: it shares the connection. */
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = -EIO;
    sqlite3_reset(r->blocks);
    for (size_t i = 0; rc == 0 && i < out->n; i++)
        if (out->blocks[i].stack_id != 0)
            rc = read_frames(r, out, &out->blocks[i]);
    if (rc != 0)
        ms_peak_blocks_free(out);
    return rc;
}

void ms_peak_blocks_free(ms_peak_blocks_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        for (size_t k = 0; k < b->blocks[i].n_frames; k++) {
            free(b->blocks[i].frames[k].raw);
            free(b->blocks[i].frames[k].text);
        }
        free(b->blocks[i].frames);
    }
    free(b->blocks);
    memset(b, 0, sizeof *b);
}

unsigned long long ms_peak_blocks_near(unsigned long long rss_kb)
{
    return rss_kb + (rss_kb / 32 > 1024 ? rss_kb / 32 : 1024);
}

static double mib(unsigned long long kb)
{
    return (double)kb / 1024.0;
}

static double pct(unsigned long long part, unsigned long long whole)
{
    return whole > 0 ? (double)part * 100.0 / (double)whole : 0.0;
}

void ms_peak_blocks_summary(const ms_peak_blocks_t *b, unsigned long long run_peak_kb, char *buf,
                            size_t len)
{
    size_t at = 0;

#define PUT(...)                                                                        \
    do {                                                                                \
        const int n_ = snprintf(buf + at, len - at, __VA_ARGS__);                       \
        at = n_ < 0 ? at : at + (size_t)n_ < len ? at + (size_t)n_ : len - 1;           \
    } while (0)
    if (len == 0)
        return;
    buf[0] = '\0';
    PUT("%zu live at the %s reading of %.1f MiB (pid %lld", b->n,
        b->kind[0] != '\0' ? b->kind : "highest", mib(b->rss_kb), b->pid);
    if (b->run_start_ns > 0 && b->t_ns >= b->run_start_ns)
        PUT(", %.2f s into the run", (double)(b->t_ns - b->run_start_ns) / 1e9);
    PUT("): %.1f MiB of them resident, %.1f%% of that reading", mib(b->resident_kb),
        pct(b->resident_kb, b->rss_kb));
    if (run_peak_kb > 0)
        PUT(", %.1f%% of the run's peak of %.1f MiB", pct(b->resident_kb, run_peak_kb),
            mib(run_peak_kb));
#undef PUT
}

size_t ms_peak_blocks_notes(const ms_peak_blocks_t *b, char notes[][MS_PEAK_BLOCKS_NOTE_MAX])
{
    size_t n = 0;

    if (b->unknown > 0)
        snprintf(notes[n++], MS_PEAK_BLOCKS_NOTE_MAX,
                 "the resident size of %zu of them is unknown: none of its pages was mapped "
                 "at the reading",
                 b->unknown);
    if (b->proc_max_kb > ms_peak_blocks_near(b->rss_kb))
        snprintf(notes[n++], MS_PEAK_BLOCKS_NOTE_MAX,
                 "this process read up to %.1f MiB at a reading without a list: a tick taken "
                 "from outside, or a list that could not be written",
                 mib(b->proc_max_kb));
    if (b->untracked > 0)
        snprintf(notes[n++], MS_PEAK_BLOCKS_NOTE_MAX,
                 "%llu more large blocks were allocated than the shim could track",
                 b->untracked);
    return n;
}

void ms_peak_blocks_write(FILE *f, const ms_peak_blocks_t *b, unsigned long long run_peak_kb,
                          size_t max_frames)
{
    const int64_t run_start_ns = b->run_start_ns;
    char line[512], notes[3][MS_PEAK_BLOCKS_NOTE_MAX];
    size_t n_notes;

    if (!b->have) {
        fputs("  LargeBlocks: none recorded\n", f);
        return;
    }
    ms_peak_blocks_summary(b, run_peak_kb, line, sizeof line);
    fprintf(f, "  LargeBlocks: %s\n", line);
    n_notes = ms_peak_blocks_notes(b, notes);
    for (size_t i = 0; i < n_notes; i++)
        fprintf(f, "    (%s)\n", notes[i]);
    for (size_t i = 0; i < b->n; i++) {
        const ms_block_view_t *const v = &b->blocks[i];
        const size_t shown = max_frames == 0 || v->n_frames < max_frames ? v->n_frames : max_frames;
        fprintf(f, "    %.1f MiB allocated, ", (double)v->bytes / 1048576.0);
        if (v->resident_kb >= 0)
            fprintf(f, "%.1f MiB resident (%.1f%% of the reading)", mib((unsigned long long)v->resident_kb),
                    pct((unsigned long long)v->resident_kb, b->rss_kb));
        else
            fputs("resident size unknown", f);
        if (run_start_ns > 0 && v->allocated_ns >= run_start_ns)
            fprintf(f, ", allocated %.2f s into the run", (double)(v->allocated_ns - run_start_ns) / 1e9);
        fputc('\n', f);
        if (v->n_frames == 0)
            fputs("      (no stack recorded)\n", f);
        for (size_t k = 0; k < shown; k++) {
            fputs("      ", f);
            ms_write_clean(f, v->frames[k].text, 0);
            fputc('\n', f);
        }
        if (shown < v->n_frames)
            fprintf(f, "      ... %zu more frame%s (--full shows them)\n", v->n_frames - shown,
                    v->n_frames - shown == 1 ? "" : "s");
    }
}

void ms_peak_blocks_write_json(FILE *f, const ms_peak_blocks_t *b, unsigned long long run_peak_kb)
{
    int first = 1;

    if (!b->have) {
        fputs("null", f);
        return;
    }
    ms_json_str(f, &first, "Kind", b->kind[0] != '\0' ? b->kind : NULL);
    ms_json_int(f, &first, "Pid", b->pid);
    ms_json_int(f, &first, "T_ns", (long long)b->t_ns);
    ms_json_dec1(f, &first, "Reading_RSS_MB", mib(b->rss_kb));
    ms_json_dec1(f, &first, "Resident_MB", mib(b->resident_kb));
    ms_json_dec1(f, &first, "ShareOfReading_Pct", pct(b->resident_kb, b->rss_kb));
    ms_json_dec1(f, &first, "ShareOfPeak_Pct", pct(b->resident_kb, run_peak_kb));
    ms_json_int(f, &first, "Untracked", (long long)b->untracked);
    ms_json_dec1(f, &first, "ProcessMaxRSS_MB", mib(b->proc_max_kb));
    ms_json_key(f, &first, "Blocks");
    fputc('[', f);
    for (size_t i = 0; i < b->n; i++) {
        const ms_block_view_t *const v = &b->blocks[i];
        int bf = 1;
        if (i > 0)
            fputc(',', f);
        ms_json_int(f, &bf, "Bytes", (long long)v->bytes);
        if (v->resident_kb >= 0)
            ms_json_int(f, &bf, "Resident_kB", v->resident_kb);
        else
            ms_json_null(f, &bf, "Resident_kB");
        if (v->allocated_ns > 0)
            ms_json_int(f, &bf, "Allocated_ns", (long long)v->allocated_ns);
        else
            ms_json_null(f, &bf, "Allocated_ns");
        ms_json_key(f, &bf, "Frames");
        fputc('[', f);
        for (size_t k = 0; k < v->n_frames; k++) {
            if (k > 0)
                fputc(',', f);
            ms_json_string(f, v->frames[k].raw);
        }
        fputc(']', f);
        ms_json_key(f, &bf, "Symbolized");
        fputc('[', f);
        for (size_t k = 0; k < v->n_frames; k++) {
            if (k > 0)
                fputc(',', f);
            ms_json_string(f, v->frames[k].text);
        }
        fputs("]}", f);
    }
    fputs("]}", f);
}
