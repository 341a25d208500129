/*
 * Reading a sweep: every row of the sweeps, runs, processes and samples tables decoded
 * and checked, then folded and reduced (sweepfold.c), in one read transaction.
 *
 * Samples are read in one sequential scan and folded into per-process figures. Only runs
 * whose processes overlap in time need a time-ordered merge of their samples. The scan
 * holds the samples of such runs while it comes to them, up to a fixed number, and
 * reduces each run as soon as its last sample came (see HELD_MAX_ROWS); the samples of
 * the others are read again through the samples_by_proc index, one run at a time. Memory
 * is bounded by that number and the largest run rather than by the database.
 *
 * Nothing read is trusted: every number is checked for its type and a plausible range
 * (dbreport.h) before it is used, so that a damaged or hand-made database gives counted
 * skips instead of wrong figures, and no arithmetic on what is accepted can overflow. A
 * process whose samples are not in time order in the scan is read again, in order, to
 * find exact duplicates, which count once.
 */
#include "sweepdecode.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "memsweep/defaults.h"
#include "memsweep/schema.h"
#include "parammem.h"
#include "sweepfold.h"
#include "sweepread.h"
#include "sweepread_internal.h"
#include "textclean.h"

/* A constant spelled into SQL text. */
#define STR_(x) #x
#define STR(x) STR_(x)

/* Counts reason in bad when bad is not NULL (re-reads do not count again). */
static void count_bad(size_t *bad, ms_bad_t reason)
{
    if (bad != NULL)
        bad[reason]++;
}

static uint64_t fnv1a(const unsigned char *s)
{
    uint64_t h = 1469598103934665603ULL;
    if (s == NULL)
        return 0;
    for (; *s != '\0'; s++)
        h = (h ^ *s) * 1099511628211ULL;
    return h;
}

/*
 * The pages a reading shares with other processes, from its PSS at columns c (pss_kb),
 * c + 1 (pss_anon_kb), c + 2 (pss_shmem_kb), c + 3 (rss_anon_kb), c + 4 (rss_shmem_kb):
 * the anonymous and shared-memory pages counted in its RSS less their PSS, which is what
 * fork and shared memory share (a library's pages, shared with every process of the
 * machine, stay counted whole, as for a process alone); RSS less PSS when the kernel
 * gave no split. -1 without a usable PSS.
 */
static long long shared_pages(sqlite3_stmt *st, int c, unsigned long long rss)
{
    long long pss, pa, ps, ra, rs;

    if (ms__int_col(st, c, 0, MS_KB_LIMIT, &pss) != MS__V_OK || (unsigned long long)pss > rss)
        return -1;
    if (ms__int_col(st, c + 1, 0, MS_KB_LIMIT, &pa) == MS__V_OK &&
        ms__int_col(st, c + 2, 0, MS_KB_LIMIT, &ps) == MS__V_OK &&
        ms__int_col(st, c + 3, 0, MS_KB_LIMIT, &ra) == MS__V_OK &&
        ms__int_col(st, c + 4, 0, MS_KB_LIMIT, &rs) == MS__V_OK)
        return (ra > pa ? ra - pa : 0) + (rs > ps ? rs - ps : 0);
    return (long long)(rss - (unsigned long long)pss);
}

/*
 * Checks the sample at columns c (t_ns), c + 1 (rss_kb), c + 2 (hwm_kb), c + 3 (kind),
 * c + 5 to c + 9 (the PSS figures, or NULLs: shared_pages) and, when stack_col >= 0,
 * stack_col (stack_id). Returns MS_BAD_COUNT when the sample is
 * usable, with *s filled and ignored values counted in bad; otherwise the reason to skip
 * it, which the caller counts.
 */
static ms_bad_t read_sample(sqlite3_stmt *st, int c, int stack_col, ms__sample_row_t *s, size_t *bad)
{
    long long v;

    switch (ms__int_col(st, c, 0, MS_NS_LIMIT - 1, &v)) {
    case MS__V_OK:
        s->t = v;
        break;
    case MS__V_NULL:
        return MS_BAD_SAMPLE_T_NULL;
    case MS__V_TYPE:
        return MS_BAD_SAMPLE_T;
    case MS__V_LOW:
        return MS_BAD_SAMPLE_T_EARLY;
    case MS__V_HIGH:
        return MS_BAD_SAMPLE_T_LATE;
    }
    switch (ms__int_col(st, c + 1, 0, MS_KB_LIMIT, &v)) {
    case MS__V_OK:
        s->rss = (unsigned long long)v;
        break;
    case MS__V_NULL:
        return MS_BAD_SAMPLE_RSS_NULL;
    case MS__V_TYPE:
        return MS_BAD_SAMPLE_RSS;
    case MS__V_LOW:
        return MS_BAD_SAMPLE_RSS_NEGATIVE;
    case MS__V_HIGH:
        return MS_BAD_SAMPLE_RSS_HUGE;
    }
    s->hwm = -1;
    switch (ms__int_col(st, c + 2, 0, MS_KB_LIMIT, &v)) {
    case MS__V_OK:
        s->hwm = v;
        break;
    case MS__V_NULL:
        break;
    case MS__V_TYPE:
        count_bad(bad, MS_BAD_SAMPLE_HWM);
        break;
    case MS__V_LOW:
    case MS__V_HIGH:
        count_bad(bad, MS_BAD_SAMPLE_HWM_RANGE);
        break;
    }
    {
        /* As sqlite3_column_text, without a second lookup of the column (sweepdecode.h). */
        const unsigned char *kind = sqlite3_value_text(sqlite3_column_value(st, c + 3));
        s->kind = ms_sample_kind_of((const char *)kind);
        s->kind_hash = s->kind == MS_SAMPLE_OTHER ? fnv1a(kind) : 0;
    }
    s->shared = shared_pages(st, c + 5, s->rss);
    s->have_stack = 0;
    if (stack_col >= 0) {
        switch (ms__int_col(st, stack_col, INT64_MIN, INT64_MAX, &v)) {
        case MS__V_OK:
            s->have_stack = 1;
            s->stack_id = v;
            break;
        case MS__V_NULL:
            break;
        default:
            count_bad(bad, MS_BAD_SAMPLE_STACK);
            break;
        }
    }
    return MS_BAD_COUNT;
}

/* A nullable count column: its value, or 0 for NULL; a bad value counts reason and reads 0. */
static unsigned long long count_col(sqlite3_stmt *st, int col, size_t *bad, ms_bad_t reason,
                                    int *present)
{
    long long v;

    *present = 0;
    switch (ms__int_col(st, col, 0, MS_COUNT_LIMIT, &v)) {
    case MS__V_OK:
        *present = 1;
        return (unsigned long long)v;
    case MS__V_NULL:
        return 0;
    default:
        bad[reason]++;
        return 0;
    }
}

void ms_sweep_free(ms_sweep_data_t *d)
{
    free(d->runs);
    free(d->labels);
    free(d->superseded);
    free(d->admissions);
    memset(d, 0, sizeof *d);
}

static int cmp_proc_id(const void *a, const void *b)
{
    const ms__proc_fold_t *x = a, *y = b;
    return (x->proc_id > y->proc_id) - (x->proc_id < y->proc_id);
}

static int cmp_ll(const void *a, const void *b)
{
    const long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static size_t find_run(const ms_run_mem_t *runs, size_t n, long long run_id)
{
    size_t lo = 0, hi = n;
    /* runs are sorted by run_id for this lookup. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (runs[mid].run_id < run_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < n && runs[lo].run_id == run_id) ? lo : SIZE_MAX;
}

static ms__proc_fold_t *find_proc(ms__proc_fold_t *procs, size_t n, long long proc_id)
{
    ms__proc_fold_t key;
    if (n == 0)
        return NULL;
    key.proc_id = proc_id;
    return bsearch(&key, procs, n, sizeof *procs, cmp_proc_id);
}

static int cmp_run_id(const void *a, const void *b)
{
    const ms_run_mem_t *x = a, *y = b;
    return (x->run_id > y->run_id) - (x->run_id < y->run_id);
}

static int cmp_run_seq(const void *a, const void *b)
{
    const ms_run_mem_t *x = a, *y = b;
    if (x->seq != y->seq)
        return (x->seq > y->seq) - (x->seq < y->seq);
    return (x->run_id > y->run_id) - (x->run_id < y->run_id);
}

/* A growable set of ids (of skipped rows), sorted before it is searched. */
typedef struct id_set {
    long long *v;
    size_t n, cap;
} id_set_t;

static int id_set_add(id_set_t *s, long long id)
{
    if (s->n == s->cap) {
        const size_t ncap = s->cap ? s->cap * 2 : 64;
        long long *nv = realloc(s->v, ncap * sizeof *nv);
        if (nv == NULL)
            return -ENOMEM;
        s->v = nv;
        s->cap = ncap;
    }
    s->v[s->n++] = id;
    return 0;
}

static void id_set_sort(id_set_t *s)
{
    if (s->n > 1)
        qsort(s->v, s->n, sizeof *s->v, cmp_ll);
}

static int id_set_has(const id_set_t *s, long long id)
{
    return s->n > 0 && bsearch(&id, s->v, s->n, sizeof *s->v, cmp_ll) != NULL;
}

/*
 * Steps st (bound to one process: proc_id, t_ns, rss_kb, hwm_kb, kind) to its next usable
 * sample of that process, as the scan accepted it. Returns 1 with *s filled, 0 at the end,
 * or -EIO.
 */
static int next_sample_of(sqlite3_stmt *st, long long proc_id, ms__sample_row_t *s)
{
    for (;;) {
        long long id;
        const int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            return 0;
        if (step != SQLITE_ROW)
            return -EIO;
        /* The comparison in SQL follows the column's affinity; the scan does not. */
        if (ms__int_col(st, 0, INT64_MIN, INT64_MAX, &id) != MS__V_OK || id != proc_id)
            continue;
        if (read_sample(st, 1, -1, s, NULL) == MS_BAD_COUNT)
            return 1;
    }
}

static int status_is_known(const char *s)
{
    static const char *const known[] = {MS_STATUS_OK,      MS_STATUS_FAILED,
                                        MS_STATUS_KILLED,  MS_STATUS_OOM, MS_STATUS_TIMEOUT,
                                        MS_STATUS_INTERRUPTED, MS_STATUS_RUNNING,
                                        MS_STATUS_CANCELLED, MS_STATUS_LOST};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(s, known[i]) == 0)
            return 1;
    return 0;
}

/* The most CPUs a sweeps row may record: beyond any machine Linux runs on. */
#define MAX_CPUS 1048576

/* Reads the first sweeps row and how many there are. */
static int read_sweep(sqlite3 *db, ms_sweep_data_t *out, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v;
    int s, rc = -EIO;

    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sweeps", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        goto out;
    out->info.n_sweeps = (size_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    out->report.no_sweep_row = out->info.n_sweeps == 0;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        goto out;
    s = sqlite3_step(st);
    if (s == SQLITE_DONE) {
        rc = 0;
        goto out;
    }
    if (s != SQLITE_ROW)
        goto out;
    out->info.sweep_id = sqlite3_column_int64(st, 0);
    switch (ms__int_col(st, 1, 1, MS_KB_LIMIT, &v)) {
    case MS__V_OK:
        out->info.have_mem_total = 1;
        out->info.mem_total_kb = (unsigned long long)v;
        break;
    case MS__V_NULL: /* MemTotal could not be read where the sweep ran */
        break;
    case MS__V_TYPE:
        out->report.bad[MS_BAD_SWEEP_MEM_TOTAL]++;
        break;
    case MS__V_LOW:
    case MS__V_HIGH:
        out->report.bad[MS_BAD_SWEEP_MEM_TOTAL_RANGE]++;
        break;
    }
    switch (ms__int_col(st, 2, MS_MIN_INTERVAL_MS, MS_MAX_INTERVAL_MS, &v)) {
    case MS__V_OK:
        out->info.interval_ms = v;
        break;
    case MS__V_NULL:
        out->report.bad[MS_BAD_SWEEP_INTERVAL_NULL]++;
        break;
    case MS__V_TYPE:
        out->report.bad[MS_BAD_SWEEP_INTERVAL]++;
        break;
    case MS__V_LOW:
    case MS__V_HIGH:
        out->report.bad[MS_BAD_SWEEP_INTERVAL_RANGE]++;
        break;
    }
    if (sqlite3_column_text(st, 3) != NULL)
        ms_clean_text(out->info.hostname, sizeof out->info.hostname,
                      (const char *)sqlite3_column_text(st, 3));
    /* The reserve's upper bound is MS_KB_LIMIT in MiB: no reserve is larger than memory. */
    switch (ms__int_col(st, 4, 0, MS_KB_LIMIT / 1024, &v)) {
    case MS__V_OK:
        out->info.have_reserve = 1;
        out->info.reserve_mb = v;
        break;
    case MS__V_NULL: /* a column of every version, NOT NULL: only a hand-made row lacks it */
        break;
    case MS__V_TYPE:
        out->report.bad[MS_BAD_SWEEP_RESERVE]++;
        break;
    case MS__V_LOW:
    case MS__V_HIGH:
        out->report.bad[MS_BAD_SWEEP_RESERVE_RANGE]++;
        break;
    }
    if (sqlite3_column_type(st, 5) == SQLITE_FLOAT || sqlite3_column_type(st, 5) == SQLITE_INTEGER)
        out->info.safety_factor = sqlite3_column_double(st, 5);

    /* Schema 4: where the memory figure came from, the machine's own, the CPUs. */
    switch (sqlite3_column_type(st, 6)) {
    case SQLITE_NULL:
        snprintf(out->info.mem_source, sizeof out->info.mem_source, "%s",
                 MS_MEM_SOURCE_MEMINFO);
        break;
    case SQLITE_TEXT:
        ms_clean_text(out->info.mem_source, sizeof out->info.mem_source,
                      (const char *)sqlite3_column_text(st, 6));
        break;
    default:
        out->report.bad[MS_BAD_SWEEP_MEM_SOURCE]++;
        break;
    }
    switch (ms__int_col(st, 7, 1, MS_KB_LIMIT, &v)) {
    case MS__V_OK:
        out->info.have_host_mem_total = 1;
        out->info.host_mem_total_kb = (unsigned long long)v;
        break;
    case MS__V_NULL:
        /* Before version 4 (and from the shim alone) the figure is the machine's. */
        if (sqlite3_column_type(st, 6) == SQLITE_NULL && out->info.have_mem_total) {
            out->info.have_host_mem_total = 1;
            out->info.host_mem_total_kb = out->info.mem_total_kb;
        }
        break;
    case MS__V_TYPE:
        out->report.bad[MS_BAD_SWEEP_HOST_MEM]++;
        break;
    case MS__V_LOW:
    case MS__V_HIGH:
        out->report.bad[MS_BAD_SWEEP_HOST_MEM_RANGE]++;
        break;
    }
    switch (ms__int_col(st, 8, 1, MAX_CPUS, &v)) {
    case MS__V_OK:
        out->info.cpus = v;
        break;
    case MS__V_NULL:
        break;
    case MS__V_TYPE:
        out->report.bad[MS_BAD_SWEEP_CPUS]++;
        break;
    case MS__V_LOW:
    case MS__V_HIGH:
        out->report.bad[MS_BAD_SWEEP_CPUS_RANGE]++;
        break;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

/*
 * Reads runs.maxrss_kb and maxrss_floor_kb (columns col and col + 1) into the run's peak
 * views. A ru_maxrss without a floor cannot be told from the launcher's copy, so it is
 * left out; a value that cannot be a size is ignored and counted.
 */
static void read_wait4(sqlite3_stmt *st, int col, ms_run_mem_t *r, size_t *bad)
{
    long long kb = 0, floor_kb = 0;
    const ms__vcheck_t v = ms__int_col(st, col, 0, MS_KB_LIMIT, &kb);
    const ms__vcheck_t vf = ms__int_col(st, col + 1, 0, MS_KB_LIMIT, &floor_kb);

    if (v == MS__V_NULL)
        return;
    if (v != MS__V_OK || (vf != MS__V_OK && vf != MS__V_NULL)) {
        count_bad(bad, MS_BAD_RUN_MAXRSS);
        return;
    }
    /* Without its floor, ru_maxrss cannot be told from the launcher's copy: not used. */
    if (vf == MS__V_NULL)
        return;
    r->peaks.wait4_kb = (unsigned long long)kb;
    r->peaks.wait4_floor_kb = (unsigned long long)floor_kb;
    r->peaks.wait4 = kb > floor_kb ? MS_WAIT4_ABOVE : MS_WAIT4_AT_FLOOR;
}

/*
 * Reads runs.attempt and runs.superseded (columns col and col + 1, schema 9). A value
 * that cannot be one is ignored and counted: an odd attempt number reads as not
 * recorded, an odd superseded flag as standing, so that no run is dropped on a guess.
 */
static void read_attempt(sqlite3_stmt *st, int col, ms_run_mem_t *r, size_t *bad)
{
    long long v;

    switch (ms__int_col(st, col, 1, 1000000, &v)) {
    case MS__V_OK:
        r->attempt = v;
        break;
    case MS__V_NULL:
        break;
    default:
        count_bad(bad, MS_BAD_RUN_ATTEMPT);
        break;
    }
    switch (ms__int_col(st, col + 1, 0, 1, &v)) {
    case MS__V_OK:
        r->superseded = v == 1;
        break;
    case MS__V_NULL:
        break;
    default:
        count_bad(bad, MS_BAD_RUN_SUPERSEDED);
        break;
    }
}

/*
 * Whether the first sweep is a launcher's sweep that has not finished. A database made by
 * the shim alone never gets finished_ns, and has no launcher to finish its runs.
 */
static int read_unfinished(sqlite3 *db, ms_sweep_data_t *out)
{
    sqlite3_stmt *st = NULL;
    int has_origin = 0;
    int s;

    if (out->info.n_sweeps == 0)
        return 0;
    if (ms__sweep_has_column(db, "sweeps", "origin", &has_origin) != 0)
        return -EIO;
    if (sqlite3_prepare_v2(db,
                           has_origin ? "SELECT finished_ns IS NULL AND origin IN ('"
                                        MS_ORIGIN_LAUNCHER "','" MS_ORIGIN_EXEC "','"
                                        MS_ORIGIN_MERGE "') FROM sweeps ORDER BY sweep_id LIMIT 1"
                                      : "SELECT finished_ns IS NULL FROM sweeps ORDER BY sweep_id"
                                        " LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        out->info.unfinished = sqlite3_column_int(st, 0) != 0;
    sqlite3_finalize(st);
    return s == SQLITE_ROW || s == SQLITE_DONE ? 0 : -EIO;
}

/*
 * The kind of a reason a run was not measured: the launcher writes "statically linked:
 * /opt/bin/solve", "setuid: /usr/bin/x (owned by uid 0)", "no process reported by
 * /usr/bin/python3, which is dynamically linked (see the run's log)", and the summary
 * counts runs by the part before the first ": " or, without one, before the first word
 * that is a path. A reason without either is its own kind. The kind is cleaned for
 * printing and cut where a word ends when it does not fit.
 */
static void reason_kind(const char *why, char *kind, size_t len)
{
    const char *colon = strstr(why, ": ");
    size_t n = colon != NULL ? (size_t)(colon - why) : strlen(why);
    char *copy;

    if (colon == NULL) {
        for (const char *p = why; *p != '\0'; p++) {
            if (*p == '/' && (p == why || p[-1] == ' ')) {
                size_t m = (size_t)(p - why);
                while (m > 0 && why[m - 1] == ' ')
                    m--;
                if (m > 0)
                    n = m;
                break;
            }
        }
    }
    copy = strndup(why, n);
    ms_clean_text(kind, len, copy != NULL ? copy : why);
    free(copy);
}

/*
 * Keeps run r's label (column col, NULL when too long) in the data's labels when it holds
 * parameters: it starts with NAME=value and is not the run's command line (column col +
 * 1, its first characters), which the launcher writes as the label of a run without
 * parameters.
 */
static int keep_label(sqlite3_stmt *st, int col, ms_sweep_data_t *out, size_t *cap,
                      ms_run_mem_t *r)
{
    const char *label = (const char *)sqlite3_column_text(st, col);
    const char *cursor = label;
    ms_param_pair_t pair;
    size_t n;

    if (label == NULL || !ms_param_label_next(&cursor, &pair) ||
        ms_param_label_is_command(label, (const char *)sqlite3_column_text(st, col + 1)))
        return 0;
    n = strlen(label) + 1;
    if (out->labels_len + n > *cap) {
        size_t ncap = *cap != 0 ? *cap : 4096;
        char *nl;
        while (ncap < out->labels_len + n)
            ncap *= 2;
        nl = realloc(out->labels, ncap);
        if (nl == NULL)
            return -ENOMEM;
        out->labels = nl;
        *cap = ncap;
    }
    memcpy(out->labels + out->labels_len, label, n);
    r->have_label = 1;
    r->label_at = out->labels_len;
    out->labels_len += n;
    return 0;
}

/* Reads the runs, sorted by run_id for lookups; skipped ones go to skipped_runs. */
static int read_runs(sqlite3 *db, ms_sweep_data_t *out, int has_uninstrumented,
                     int has_usage, int has_command, int has_node, int has_attempts,
                     id_set_t *skipped_runs)
{
    sqlite3_stmt *st = NULL;
    char sql[1024];
    size_t cap = 0, labels_cap = 0;
    int s;

    /*
     * With several sweeps rows only the first sweep's runs are read. A label longer than
     * MS_PARAM_LABEL_MAX bytes is not read (the table by parameter value leaves its run
     * out); of the command, only as much as tells whether it is the label.
     */
    snprintf(sql, sizeof sql,
             "SELECT run_id, seq, status, %s, %s, %s,"
             " CASE WHEN typeof(label) = 'text' AND length(CAST(label AS BLOB)) <= %d"
             " THEN label END, %s, %s, %s, %s FROM runs ORDER BY run_id",
             has_uninstrumented ? "uninstrumented" : "NULL",
             has_usage ? "maxrss_kb, maxrss_floor_kb" : "NULL, NULL",
             out->info.n_sweeps > 1
                 ? "sweep_id IS (SELECT sweep_id FROM sweeps ORDER BY sweep_id LIMIT 1)"
                 : "1",
             MS_PARAM_LABEL_MAX,
             has_command ? "substr(command, 1, " STR(MS_PARAM_LABEL_MAX) " + 1)" : "NULL",
             has_node ? "node_mem_kb, node_reserve_mb, node_cpus" : "NULL, NULL, NULL",
             has_attempts ? "attempt, superseded" : "NULL, NULL",
             has_command ? "CAST(command AS BLOB)" : "NULL");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        ms_run_mem_t *r;
        long long run_id, seq = 0;
        int ok_id = ms__int_col(st, 0, INT64_MIN, INT64_MAX, &run_id) == MS__V_OK;
        ms_bad_t why = MS_BAD_COUNT;

        if (sqlite3_column_int(st, 6) == 0)
            why = MS_BAD_RUN_OTHER_SWEEP;
        else if (!ok_id)
            why = MS_BAD_RUN_ID;
        else {
            switch (ms__int_col(st, 1, INT64_MIN, INT64_MAX, &seq)) {
            case MS__V_OK:
                break;
            case MS__V_NULL:
                why = MS_BAD_RUN_SEQ_NULL;
                break;
            default:
                why = MS_BAD_RUN_SEQ;
                break;
            }
        }
        if (why == MS_BAD_COUNT && out->n_runs > 0 && out->runs[out->n_runs - 1].run_id == run_id)
            why = MS_BAD_RUN_ID_DUP;
        if (why != MS_BAD_COUNT) {
            out->report.bad[why]++;
            if (ok_id && why != MS_BAD_RUN_ID_DUP && id_set_add(skipped_runs, run_id) != 0)
                goto nomem;
            continue;
        }
        if (ms__grow((void **)&out->runs, &cap, out->n_runs, sizeof *out->runs, 256) != 0)
            goto nomem;
        r = &out->runs[out->n_runs++];
        memset(r, 0, sizeof *r);
        r->run_id = run_id;
        r->seq = seq;
        {
            /* The node it ran on: a plausible memory size, with its reserve and CPUs. */
            long long mem_kb = 0, reserve = -1, cpus = 0;
            if (ms__int_col(st, 9, 1, 1LL << 52, &mem_kb) == MS__V_OK) {
                r->have_node = 1;
                r->node_mem_kb = (unsigned long long)mem_kb;
                if (ms__int_col(st, 10, 0, 1LL << 40, &reserve) != MS__V_OK)
                    reserve = -1;
                if (ms__int_col(st, 11, 1, 1LL << 20, &cpus) != MS__V_OK)
                    cpus = 0;
                r->node_reserve_mb = reserve;
                r->node_cpus = cpus;
            }
        }
        {
            const unsigned char *status = sqlite3_column_text(st, 2);
            ms_clean_text(r->status, sizeof r->status,
                          status != NULL ? (const char *)status : "NULL");
            r->status_known = status != NULL && status_is_known((const char *)status);
        }
        if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
            const unsigned char *why_text = sqlite3_column_text(st, 3);
            r->not_measured = 1;
            reason_kind(why_text != NULL && why_text[0] != '\0' ? (const char *)why_text
                                                                : "no reason recorded",
                        r->not_measured_kind, sizeof r->not_measured_kind);
        }
        r->peaks.tracking = MS_TRACKING_UNKNOWN;
        read_wait4(st, 4, r, out->report.bad);
        read_attempt(st, 12, r, out->report.bad);
        if (keep_label(st, 7, out, &labels_cap, r) != 0)
            goto nomem;
        if (sqlite3_column_type(st, 14) != SQLITE_NULL) {
            /* The command as a key: runs of one configuration have the same command. */
            const unsigned char *cmd = sqlite3_column_blob(st, 14);
            const int len = sqlite3_column_bytes(st, 14);
            uint64_t h = 1469598103934665603ULL;
            for (int k = 0; cmd != NULL && k < len; k++)
                h = (h ^ cmd[k]) * 1099511628211ULL;
            r->have_command_key = 1;
            r->command_key = h;
        }
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE)
        return -EIO;
    /* SQL orders numbers numerically; sorting again only guards the binary search. */
    for (size_t i = 1; i < out->n_runs; i++) {
        if (out->runs[i - 1].run_id > out->runs[i].run_id) {
            qsort(out->runs, out->n_runs, sizeof *out->runs, cmp_run_id);
            break;
        }
    }
    id_set_sort(skipped_runs);
    return 0;
nomem:
    sqlite3_finalize(st);
    return -ENOMEM;
}

/*
 * Checks one processes row (columns as read_processes selects them) into *p. Returns
 * MS_BAD_COUNT when the row is usable, else the reason to skip it.
 */
static ms_bad_t check_process(sqlite3_stmt *st, const ms_sweep_data_t *out,
                              const id_set_t *skipped_runs, ms__proc_fold_t *p, size_t *bad)
{
    long long v;
    size_t ri;
    int present_total, present;

    memset(p, 0, sizeof *p);
    if (ms__int_col(st, 0, INT64_MIN, INT64_MAX, &v) != MS__V_OK)
        return MS_BAD_PROC_ID;
    p->proc_id = v;
    if (ms__int_col(st, 1, INT64_MIN, INT64_MAX, &v) != MS__V_OK)
        return MS_BAD_PROC_RUN;
    ri = find_run(out->runs, out->n_runs, v);
    if (ri == SIZE_MAX)
        return id_set_has(skipped_runs, v) ? MS_BAD_PROC_RUN_SKIPPED : MS_BAD_PROC_NO_RUN;
    p->run_index = ri;
    switch (ms__int_col(st, 2, INT64_MIN, INT64_MAX, &v)) {
    case MS__V_OK:
        p->pid = v;
        break;
    case MS__V_NULL:
        return MS_BAD_PROC_PID_NULL;
    default:
        return MS_BAD_PROC_PID;
    }
    switch (ms__int_col(st, 3, 0, MS_NS_LIMIT - 1, &v)) {
    case MS__V_OK:
        p->started_ns = v;
        break;
    case MS__V_NULL:
        return MS_BAD_PROC_START_NULL;
    case MS__V_TYPE:
        return MS_BAD_PROC_START;
    case MS__V_LOW:
        return MS_BAD_PROC_START_EARLY;
    case MS__V_HIGH:
        return MS_BAD_PROC_START_LATE;
    }
    /* From here on a bad value is ignored, not a reason to skip the process. */
    switch (ms__int_col(st, 4, 0, MS_NS_LIMIT - 1, &v)) {
    case MS__V_OK:
        if (v < p->started_ns) {
            bad[MS_BAD_PROC_END_BEFORE_START]++;
        } else {
            p->have_ended = 1;
            p->ended_ns = v;
        }
        break;
    case MS__V_NULL:
        break;
    case MS__V_TYPE:
        bad[MS_BAD_PROC_END]++;
        break;
    case MS__V_LOW:
    case MS__V_HIGH:
        bad[MS_BAD_PROC_END_RANGE]++;
        break;
    }
    switch (ms__int_col(st, 5, 0, MS_KB_LIMIT, &v)) {
    case MS__V_OK:
        p->col_hwm_kb = (unsigned long long)v;
        break;
    case MS__V_NULL:
        break;
    case MS__V_TYPE:
        bad[MS_BAD_PROC_HWM]++;
        break;
    case MS__V_LOW:
    case MS__V_HIGH:
        bad[MS_BAD_PROC_HWM_RANGE]++;
        break;
    }
    p->tracking = MS_TRACKING_UNKNOWN;
    switch (ms__int_col(st, 6, INT64_MIN, INT64_MAX, &v)) {
    case MS__V_OK:
        p->tracking = v != 0 ? MS_TRACKING_ON : MS_TRACKING_OFF;
        break;
    case MS__V_NULL:
        break;
    default:
        bad[MS_BAD_PROC_TRACKING]++;
        break;
    }
    {
        const unsigned long long total = count_col(st, 7, bad, MS_BAD_PROC_DROPPED,
                                                   &present_total);
        p->dropped_rate = count_col(st, 8, bad, MS_BAD_PROC_DROPPED, &present);
        p->dropped_queue = count_col(st, 9, bad, MS_BAD_PROC_DROPPED, &present);
        /* alloc_dropped is the total; without it the two causes add up to it. */
        p->dropped = present_total ? total : p->dropped_rate + p->dropped_queue;
    }
    p->unstored = count_col(st, 10, bad, MS_BAD_PROC_UNSTORED, &present);
    p->has_note = sqlite3_column_int(st, 11) != 0;
    return MS_BAD_COUNT;
}

/* Reads the processes, sorted by proc_id for lookups; skipped ones go to skipped_procs. */
static int read_processes(sqlite3 *db, ms_sweep_data_t *out, const ms__optional_cols_t *oc,
                          const id_set_t *skipped_runs, ms__proc_fold_t **procs_out,
                          size_t *n_out, id_set_t *skipped_procs)
{
    sqlite3_stmt *st = NULL;
    ms__proc_fold_t *procs = NULL;
    size_t n = 0, cap = 0;
    char sql[512];
    int s, rc = 0;

    snprintf(sql, sizeof sql,
             "SELECT proc_id, run_id, pid, started_ns, ended_ns, hwm_kb,"
             " %s, %s, %s, %s, %s, %s FROM processes ORDER BY proc_id",
             oc->tracking ? "alloc_tracking" : "NULL", oc->dropped ? "alloc_dropped" : "NULL",
             oc->dropped_rate ? "alloc_dropped_rate" : "NULL",
             oc->dropped_queue ? "alloc_dropped_queue" : "NULL",
             oc->unstored ? "unstored" : "NULL",
             /* The shim notes a process only when a write of it failed. */
             oc->note ? "note IS NOT NULL AND note <> '', note" : "0, NULL");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        ms__proc_fold_t p;
        ms_bad_t why = check_process(st, out, skipped_runs, &p, out->report.bad);
        if (why == MS_BAD_COUNT && n > 0 && procs[n - 1].proc_id == p.proc_id)
            why = MS_BAD_PROC_ID_DUP;
        if (why != MS_BAD_COUNT) {
            out->report.bad[why]++;
            if (why != MS_BAD_PROC_ID && why != MS_BAD_PROC_ID_DUP &&
                id_set_add(skipped_procs, p.proc_id) != 0) {
                rc = -ENOMEM;
                goto out;
            }
            continue;
        }
        if (ms__grow((void **)&procs, &cap, n, sizeof *procs, 256) != 0) {
            rc = -ENOMEM;
            goto out;
        }
        procs[n++] = p;
        out->runs[p.run_index].n_processes++;
        if (p.has_note && p.unstored > 0 && out->report.unstored_note[0] == '\0' &&
            sqlite3_column_text(st, 12) != NULL)
            ms_clean_text(out->report.unstored_note, sizeof out->report.unstored_note,
                          (const char *)sqlite3_column_text(st, 12));
    }
    if (s != SQLITE_DONE)
        rc = -EIO;
    for (size_t i = 1; rc == 0 && i < n; i++) {
        if (procs[i - 1].proc_id > procs[i].proc_id) {
            qsort(procs, n, sizeof *procs, cmp_proc_id);
            break;
        }
    }
    id_set_sort(skipped_procs);
out:
    sqlite3_finalize(st);
    if (rc != 0) {
        free(procs);
        procs = NULL;
        n = 0;
    }
    *procs_out = procs;
    *n_out = n;
    return rc;
}

/*
 * The samples of runs whose processes may overlap, held during the scan so that their
 * time-ordered merge needs no second read of them. Before the scan, the samples of each
 * run of more than one process are counted through the samples_by_proc index; the scan
 * holds that run's usable samples until it has seen as many, then reduces the run at
 * once and lets them go. Rows usually come run after run, so little is held at a time,
 * and never more than HELD_MAX_ROWS: a run that would go beyond it, a process whose
 * samples are not in time order, or a run that gets a sample after it was reduced (the
 * count in SQL and the scan's own reading of proc_id can differ on a damaged database)
 * is left to reduce_runs, which reads its samples again through the index. Memory thus
 * stays bounded whatever the number of samples.
 */
#define HELD_MAX_ROWS 65536

typedef enum held_state { HELD_NONE, HELD_COLLECTING, HELD_DONE, HELD_DROPPED } held_state_t;

/* A held sample and the position of its process in its run's slice of the order. */
typedef struct held_row {
    ms__sample_row_t s;
    size_t pos;
} held_row_t;

typedef struct held_run {
    held_state_t state;
    size_t first, count;  /* the run's slice of the order: order[first], ... */
    size_t expected;      /* samples of its processes, counted in SQL */
    size_t seen;          /* ... of which the scan has come to */
    held_row_t *rows;     /* the usable ones, in the order of the scan */
    size_t n, cap;
    ms_run_mem_t *result; /* the run as reduced when the last of them came */
} held_run_t;

typedef struct held {
    held_run_t *runs;     /* by run index; NULL when nothing is held */
    size_t *pos;          /* by fold index: position of the process in its run's slice */
    size_t n_runs;
    size_t held;          /* rows held over all runs */
    /* Room reused by every run reduced during the scan. */
    ms__proc_fold_t *procs;
    ms__proc_order_t *order;
    size_t procs_cap;
    size_t *offs;
    size_t offs_cap;
    ms__sample_row_t *rows;
    size_t rows_cap;
} held_t;

static void held_release(held_t *h, held_run_t *r)
{
    h->held -= r->n;
    free(r->rows);
    r->rows = NULL;
    r->n = r->cap = 0;
}

static void held_drop(held_t *h, held_run_t *r)
{
    held_release(h, r);
    free(r->result);
    r->result = NULL;
    r->state = HELD_DROPPED;
}

static void held_free(held_t *h)
{
    for (size_t i = 0; h->runs != NULL && i < h->n_runs; i++) {
        free(h->runs[i].rows);
        free(h->runs[i].result);
    }
    free(h->runs);
    free(h->pos);
    free(h->procs);
    free(h->order);
    free(h->offs);
    free(h->rows);
    memset(h, 0, sizeof *h);
}

/*
 * Whether counting the samples of one process goes through an index. Without one each
 * count would read the whole table, and the samples are better read again as before.
 */
static int count_uses_index(sqlite3 *db, const char *count_sql)
{
    sqlite3_stmt *st = NULL;
    char sql[160];
    int s, rows = 0, ok = 1;

    snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s", count_sql);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return 0;
    }
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *detail = sqlite3_column_text(st, 3);
        rows++;
        if (detail == NULL || strncmp((const char *)detail, "SEARCH", 6) != 0)
            ok = 0;
    }
    sqlite3_finalize(st);
    return s == SQLITE_DONE && rows > 0 && ok;
}

/*
 * Chooses the runs to hold (every run of more than one process whose samples, counted in
 * SQL, fit in HELD_MAX_ROWS) and counts their samples. Anything in the way (no index, an
 * error of the database) leaves h empty: reduce_runs then reads again the samples of
 * every run that needs them. 0 or -ENOMEM.
 */
static int held_prepare(sqlite3 *db, const ms__proc_fold_t *procs, size_t n_procs,
                        const ms__proc_order_t *order, size_t n_runs, held_t *h)
{
    static const char count_sql[] = "SELECT count(*) FROM samples WHERE proc_id = ?1";
    sqlite3_stmt *st = NULL;
    int any = 0, rc = 0;

    memset(h, 0, sizeof *h);
    for (size_t i = 1; i < n_procs && !any; i++)
        any = order[i].run_index == order[i - 1].run_index;
    if (!any || !count_uses_index(db, count_sql))
        return 0;
    h->n_runs = n_runs;
    h->runs = calloc(n_runs, sizeof *h->runs);
    h->pos = malloc(n_procs * sizeof *h->pos);
    if (h->runs == NULL || h->pos == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (sqlite3_prepare_v2(db, count_sql, -1, &st, NULL) != SQLITE_OK)
        goto give_up;
    for (size_t i = 0; i < n_procs;) {
        const size_t ri = order[i].run_index;
        size_t j = i, expected = 0;

        while (j < n_procs && order[j].run_index == ri) {
            h->pos[order[j].fold] = j - i;
            j++;
        }
        for (size_t k = i; j - i > 1 && k < j && expected <= HELD_MAX_ROWS; k++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, procs[order[k].fold].proc_id);
            if (sqlite3_step(st) != SQLITE_ROW)
                goto give_up;
            expected += (size_t)sqlite3_column_int64(st, 0);
        }
        if (sqlite3_stmt_status(st, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0) > 0)
            goto give_up;
        if (j - i > 1 && expected > 0 && expected <= HELD_MAX_ROWS) {
            h->runs[ri].state = HELD_COLLECTING;
            h->runs[ri].first = i;
            h->runs[ri].count = j - i;
            h->runs[ri].expected = expected;
        }
        i = j;
    }
    goto out;
give_up:
    held_free(h);
out:
    sqlite3_finalize(st);
    if (rc != 0)
        held_free(h);
    return rc;
}

/*
 * Reduces run r (index ri) from its held samples, as reduce_runs would after reading them
 * again, on copies of its processes so that nothing is left behind if the run is dropped
 * later. 0 or -ENOMEM.
 */
static int held_finish(held_t *h, held_run_t *r, size_t ri, const ms__proc_fold_t *procs,
                       const ms__proc_order_t *order, const ms_sweep_data_t *out)
{
    const size_t count = r->count;
    ms_run_mem_t run = out->runs[ri];
    int rc;

    if (count > h->procs_cap) {
        ms__proc_fold_t *np = realloc(h->procs, count * sizeof *np);
        ms__proc_order_t *no;
        if (np == NULL)
            return -ENOMEM;
        h->procs = np;
        no = realloc(h->order, count * sizeof *no);
        if (no == NULL)
            return -ENOMEM;
        h->order = no;
        h->procs_cap = count;
    }
    for (size_t k = 0; k < count; k++) {
        h->procs[k] = procs[order[r->first + k].fold];
        h->order[k] = order[r->first + k];
        h->order[k].fold = k;
        /* Held samples are in time order only while no process needs a recheck. */
        if (h->procs[k].recheck) {
            held_drop(h, r);
            return 0;
        }
    }
    rc = ms__run_reduce(h->procs, h->order, count, out->info.interval_ms, &run);
    if (rc == 1) {
        /* The samples of each process together, processes in the order of the slice. */
        if (count + 1 > h->offs_cap) {
            size_t *no = realloc(h->offs, (count + 1) * sizeof *no);
            if (no == NULL)
                return -ENOMEM;
            h->offs = no;
            h->offs_cap = count + 1;
        }
        if (r->n > h->rows_cap) {
            ms__sample_row_t *nr = realloc(h->rows, r->n * sizeof *nr);
            if (nr == NULL)
                return -ENOMEM;
            h->rows = nr;
            h->rows_cap = r->n;
        }
        memset(h->offs, 0, (count + 1) * sizeof *h->offs);
        for (size_t i = 0; i < r->n; i++)
            h->offs[r->rows[i].pos + 1]++;
        for (size_t k = 0; k < count; k++) {
            if (h->offs[k + 1] != h->procs[k].n_samples) {
                held_drop(h, r);
                return 0;
            }
            h->offs[k + 1] += h->offs[k];
        }
        for (size_t i = 0; i < r->n; i++)
            h->rows[h->offs[r->rows[i].pos]++] = r->rows[i].s;
        /* Each offset moved to the end of its process; shift them back to the starts. */
        for (size_t k = count; k > 0; k--)
            h->offs[k] = h->offs[k - 1];
        h->offs[0] = 0;
        rc = ms__run_merge(h->procs, h->order, count, h->rows, h->offs, out->info.interval_ms,
                           &run);
    }
    if (rc != 0)
        return rc;
    r->result = malloc(sizeof *r->result);
    if (r->result == NULL)
        return -ENOMEM;
    *r->result = run;
    r->state = HELD_DONE;
    held_release(h, r);
    return 0;
}

/*
 * Counts a sample of process procs[fold] (row: its decoding, NULL when it is not usable)
 * toward its held run, if any. 0 or -ENOMEM.
 */
static int held_note(held_t *h, const ms__proc_fold_t *procs, size_t fold,
                     const ms__sample_row_t *row, const ms__proc_order_t *order,
                     const ms_sweep_data_t *out)
{
    const size_t ri = procs[fold].run_index;
    held_run_t *r = &h->runs[ri];

    if (r->state == HELD_DONE) {
        /* More samples than SQL counted: the figures reduced early are void. */
        held_drop(h, r);
        return 0;
    }
    if (r->state != HELD_COLLECTING)
        return 0;
    r->seen++;
    if (row != NULL) {
        if (procs[fold].recheck || h->held >= HELD_MAX_ROWS) {
            held_drop(h, r);
            return 0;
        }
        if (r->n == r->cap) {
            const size_t ncap = r->cap ? r->cap * 2 : 64;
            held_row_t *nv = realloc(r->rows, ncap * sizeof *nv);
            if (nv == NULL)
                return -ENOMEM;
            r->rows = nv;
            r->cap = ncap;
        }
        r->rows[r->n].s = *row;
        r->rows[r->n].pos = h->pos[fold];
        r->n++;
        h->held++;
    }
    if (r->seen < r->expected)
        return 0;
    return held_finish(h, r, ri, procs, order, out);
}

/* The columns of shared_pages, of a database of schema 6 or later, or in their place. */
#define PSS_COLS "pss_kb, pss_anon_kb, pss_shmem_kb, rss_anon_kb, rss_shmem_kb"
#define NULL_PSS_COLS "NULL, NULL, NULL, NULL, NULL"

/* The one sequential scan of every sample, folded per process. 0, -ENOMEM or -EIO. */
static int scan_samples(sqlite3 *db, int read_stacks, int read_pss, ms__proc_fold_t *procs,
                        size_t n_procs,
                        const id_set_t *skipped_procs, const ms__proc_order_t *order,
                        held_t *h, ms_sweep_data_t *out)
{
    size_t *const bad = out->report.bad;
    const long long interval_ms = out->info.interval_ms;
    sqlite3_stmt *st = NULL;
    ms__proc_fold_t *last = NULL;
    char sql[256];
    int s, rc = 0;

    snprintf(sql, sizeof sql, "SELECT proc_id, t_ns, rss_kb, hwm_kb, kind, %s, %s FROM samples",
             read_stacks ? "stack_id" : "NULL", read_pss ? PSS_COLS : NULL_PSS_COLS);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        long long proc_id;
        ms__sample_row_t row;
        ms_bad_t why;
        ms__proc_fold_t *p;

        if (ms__int_col(st, 0, INT64_MIN, INT64_MAX, &proc_id) != MS__V_OK) {
            bad[MS_BAD_SAMPLE_PROC]++;
            continue;
        }
        p = (last != NULL && last->proc_id == proc_id) ? last : find_proc(procs, n_procs, proc_id);
        if (p == NULL) {
            bad[id_set_has(skipped_procs, proc_id) ? MS_BAD_SAMPLE_PROC_SKIPPED
                                                   : MS_BAD_SAMPLE_NO_PROC]++;
            continue;
        }
        last = p;
        why = read_sample(st, 1, read_stacks ? 5 : -1, &row, bad);
        if (why != MS_BAD_COUNT)
            bad[why]++;
        else
            ms__fold_sample(p, &row, interval_ms);
        if (h->runs != NULL && h->runs[p->run_index].state != HELD_NONE &&
            (rc = held_note(h, procs, (size_t)(p - procs), why == MS_BAD_COUNT ? &row : NULL,
                            order, out)) != 0)
            break;
    }
    sqlite3_finalize(st);
    if (rc != 0)
        return rc;
    return s == SQLITE_DONE ? 0 : -EIO;
}

/*
 * Appends to *rows (n used, cap allocated) the usable samples of process proc_id, in time
 * order, read through st (samples of one process by time). Returns 0, -ENOMEM or -EIO.
 */
static int read_proc_samples(sqlite3_stmt *st, long long proc_id, ms__sample_row_t **rows,
                             size_t *n, size_t *cap)
{
    ms__sample_row_t s;
    int got;

    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, proc_id);
    while ((got = next_sample_of(st, proc_id, &s)) == 1) {
        if (ms__grow((void **)rows, cap, *n, sizeof **rows, 1024) != 0)
            return -ENOMEM;
        (*rows)[(*n)++] = s;
    }
    return got < 0 ? -EIO : 0;
}

/*
 * Reduces the processes of every run: duplicates of the processes whose samples were not
 * in time order, then each run's figures, reading again the samples of the runs whose
 * processes overlap, one run at a time.
 */
static int reduce_runs(sqlite3 *db, int read_pss, ms_sweep_data_t *out, ms__proc_fold_t *procs,
                       size_t n_procs,
                       const ms__proc_order_t *order, const held_t *h)
{
    sqlite3_stmt *st_ps = NULL;
    ms__sample_row_t *rows = NULL;
    size_t *first = NULL;
    size_t cap = 0, first_cap = 0;
    int rc = 0;

    if (sqlite3_prepare_v2(db,
                           read_pss ? "SELECT proc_id, t_ns, rss_kb, hwm_kb, kind, NULL, " PSS_COLS
                                      " FROM samples WHERE proc_id = ? ORDER BY t_ns"
                                    : "SELECT proc_id, t_ns, rss_kb, hwm_kb, kind, NULL, " NULL_PSS_COLS
                                      " FROM samples WHERE proc_id = ? ORDER BY t_ns",
                           -1, &st_ps, NULL) != SQLITE_OK) {
        rc = -EIO;
        goto out;
    }
    for (size_t i = 0; i < n_procs; i++) {
        size_t n = 0;
        if (!procs[i].recheck)
            continue;
        if ((rc = read_proc_samples(st_ps, procs[i].proc_id, &rows, &n, &cap)) != 0)
            goto out;
        ms__fold_drop_duplicates(&procs[i], rows, n, out->report.bad);
    }

    for (size_t i = 0; i < n_procs;) {
        const size_t ri = order[i].run_index;
        ms_run_mem_t *run = &out->runs[ri];
        size_t j = i, n = 0;

        while (j < n_procs && order[j].run_index == ri)
            j++;
        if (h->runs != NULL && h->runs[ri].state == HELD_DONE) {
            /* Reduced during the scan from the samples it held. */
            *run = *h->runs[ri].result;
            i = j;
            continue;
        }
        rc = ms__run_reduce(procs, &order[i], j - i, out->info.interval_ms, run);
        if (rc == 1) {
            /* The processes overlap: the merge needs their samples, in time order. */
            if (j - i + 1 > first_cap) {
                size_t *nf = realloc(first, (j - i + 1) * sizeof *first);
                if (nf == NULL) {
                    rc = -ENOMEM;
                    goto out;
                }
                first = nf;
                first_cap = j - i + 1;
            }
            for (size_t k = i; k < j; k++) {
                first[k - i] = n;
                if (procs[order[k].fold].n_samples > 0 &&
                    (rc = read_proc_samples(st_ps, procs[order[k].fold].proc_id, &rows, &n,
                                            &cap)) != 0)
                    goto out;
            }
            first[j - i] = n;
            rc = ms__run_merge(procs, &order[i], j - i, rows, first, out->info.interval_ms,
                               run);
        }
        if (rc != 0)
            goto out;
        i = j;
    }
out:
    sqlite3_finalize(st_ps);
    free(rows);
    free(first);
    return rc;
}

int ms_sweep_read(sqlite3 *db, const char *name, ms_sweep_data_t *out, char *err, size_t errlen)
{
    ms__proc_fold_t *procs = NULL;
    ms__proc_order_t *order = NULL;
    held_t held = {0};
    size_t n_procs = 0;
    id_set_t skipped_runs = {0}, skipped_procs = {0};
    ms__optional_cols_t oc;
    const char *path = ms__sweep_db_name(db, name);
    char sql[512];
    int in_tx = 0;
    int read_stacks = 0;
    int rc = 0;

    memset(out, 0, sizeof *out);
    memset(&oc, 0, sizeof oc);
    out->info.reserve_mb = MS_DEFAULT_RESERVE_MB;
    out->info.safety_factor = MS_DEFAULT_SAFETY_FACTOR;
    out->info.interval_ms = MS_DEFAULT_INTERVAL_MS;

    /* One read transaction: a consistent snapshot even while a sweep is writing. */
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto sql_error;
    in_tx = 1;

    rc = ms__sweep_check_required(db, path, err, errlen);
    if (rc == -EIO)
        goto sql_error;
    if (rc != 0)
        goto out;
    if (ms__sweep_find_optional(db, &oc) != 0)
        goto sql_error;
    snprintf(sql, sizeof sql,
             "SELECT sweep_id, mem_total_kb, interval_ms, %s, %s, %s, %s, %s, %s FROM sweeps"
             " ORDER BY sweep_id LIMIT 1",
             oc.hostname ? "hostname" : "NULL", oc.reserve_mb ? "reserve_mb" : "NULL",
             oc.safety_factor ? "safety_factor" : "NULL",
             oc.mem_source ? "mem_source" : "NULL",
             oc.host_mem_total ? "host_mem_total_kb" : "NULL", oc.cpus ? "cpus" : "NULL");
    if (read_sweep(db, out, sql) != 0)
        goto sql_error;
    if (read_unfinished(db, out) != 0)
        goto sql_error;

    rc = read_runs(db, out, oc.uninstrumented, oc.maxrss && oc.maxrss_floor, oc.command,
                   oc.node, oc.attempt && oc.superseded, &skipped_runs);
    if (rc == -EIO)
        goto sql_error;
    if (rc != 0)
        goto nomem;
    rc = ms__sweep_read_sched(db, &oc, out);
    if (rc == -EIO)
        goto sql_error;
    if (rc != 0)
        goto nomem;

    /* Reading a column costs on every one of millions of samples: stack_id is read only
     * when some stack was recorded at all. */
    if (oc.stack_id && oc.stacks && ms__sweep_any_stack(db, &read_stacks) != 0)
        goto sql_error;

    rc = read_processes(db, out, &oc, &skipped_runs, &procs, &n_procs, &skipped_procs);
    if (rc == -EIO)
        goto sql_error;
    if (rc != 0)
        goto nomem;

    /* Each run's processes are one slice of the order, known before any sample is read. */
    if (ms__fold_order(procs, n_procs, &order) != 0 ||
        held_prepare(db, procs, n_procs, order, out->n_runs, &held) != 0)
        goto nomem;

    rc = scan_samples(db, read_stacks, oc.pss, procs, n_procs, &skipped_procs, order, &held, out);
    if (rc == -ENOMEM)
        goto nomem;
    if (rc != 0)
        goto sql_error;

    rc = reduce_runs(db, oc.pss, out, procs, n_procs, order, &held);
    if (rc == -EIO)
        goto sql_error;
    if (rc != 0)
        goto nomem;
    /* Only a scheduled sweep says how close it came to its budget: the extra pass is its. */
    if (out->n_admissions > 0) {
        rc = ms__sweep_measured_total(db, out, procs, n_procs);
        if (rc == -EIO)
            goto sql_error;
        if (rc != 0)
            goto nomem;
    }

    if (out->n_runs > 1)
        qsort(out->runs, out->n_runs, sizeof *out->runs, cmp_run_seq);
    if (ms__sweep_split_attempts(out) != 0)
        goto nomem;
    ms__sweep_fill_report(out);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    in_tx = 0;
    goto out;

nomem:
    rc = -ENOMEM;
    ms_set_err(err, errlen, "%s: %s", path, strerror(ENOMEM));
    goto out;
sql_error:
    rc = -EIO;
    ms__sweep_db_error(db, path, err, errlen);
out:
    if (in_tx)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    free(procs);
    free(order);
    held_free(&held);
    free(skipped_runs.v);
    free(skipped_procs.v);
    if (rc != 0)
        ms_sweep_free(out);
    return rc;
}
