/*
 * Reading what schema 9 records of a scheduled sweep: the sweeps row's scheduling
 * options, the admissions rows, the measured total RSS of the runs at once, and the
 * attempts of a run that --retry-oom replaced. Like the rest of the reader, nothing read
 * is trusted: a value that cannot be what its column says is counted in the report and
 * read as absent, and a database without these columns or this table (schema 8 and
 * before) reads as a sweep run without scheduling options.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rsstimeline.h"
#include "sweepdecode.h"
#include "sweepfold.h"
#include "sweepread.h"
#include "sweepread_internal.h"
#include "textclean.h"

/* The longest stagger a sweeps row may record: a day, far beyond any useful one. */
#define MAX_STAGGER_MS 86400000LL
/* The most CPUs, workers or attempts a row may record: beyond any machine. */
#define MAX_COUNT 1048576LL

static size_t find_run(const ms_run_mem_t *runs, size_t n, long long run_id)
{
    size_t lo = 0, hi = n;

    /* runs are sorted by run_id while the reader looks them up. */
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (runs[mid].run_id < run_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < n && runs[lo].run_id == run_id) ? lo : SIZE_MAX;
}

/* Column col as a whole number in [lo, hi]: 1 with *v set, 0 for NULL, -1 unusable. */
static int checked(sqlite3_stmt *st, int col, long long lo, long long hi, long long *v)
{
    switch (ms__int_col(st, col, lo, hi, v)) {
    case MS__V_OK:
        return 1;
    case MS__V_NULL:
        return 0;
    default:
        return -1;
    }
}

/* Reads the first sweeps row's start and scheduling options. */
static int read_sweep_sched(sqlite3 *db, const ms__optional_cols_t *oc, ms_sweep_data_t *out)
{
    size_t *const bad = out->report.bad;
    ms_sched_opts_t *const o = &out->sched;
    sqlite3_stmt *st = NULL;
    long long v;
    int s, rc = -EIO;

    if (out->info.n_sweeps == 0 || (!oc->started && !oc->sched))
        return 0;
    if (sqlite3_prepare_v2(db,
                           oc->sched ? (oc->started
                                            ? "SELECT started_ns, mem_budget_kb, jobs_auto,"
                                              " stagger_ms, run_order, retry_oom, jobs FROM sweeps"
                                              " ORDER BY sweep_id LIMIT 1"
                                            : "SELECT NULL, mem_budget_kb, jobs_auto,"
                                              " stagger_ms, run_order, retry_oom, jobs FROM sweeps"
                                              " ORDER BY sweep_id LIMIT 1")
                                     : "SELECT started_ns, NULL, NULL, NULL, NULL, NULL, NULL"
                                       " FROM sweeps ORDER BY sweep_id LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    s = sqlite3_step(st);
    if (s == SQLITE_DONE) {
        rc = 0;
        goto out;
    }
    if (s != SQLITE_ROW)
        goto out;
    /* The start only places admissions in time; a start that is none places nothing. */
    if (checked(st, 0, 1, MS_NS_LIMIT - 1, &v) == 1)
        out->info.started_ns = v;
    {
        int any_bad = 0;
        switch (checked(st, 1, 1, MS_KB_LIMIT, &v)) {
        case 1:
            o->have_budget = 1;
            o->budget_kb = (unsigned long long)v;
            break;
        case -1:
            any_bad = 1;
            break;
        }
        switch (checked(st, 2, 0, 1, &v)) {
        case 1:
            o->jobs_auto = v == 1;
            break;
        case -1:
            any_bad = 1;
            break;
        }
        switch (checked(st, 3, -1, MAX_STAGGER_MS, &v)) {
        case 1:
            o->have_stagger = 1;
            o->stagger_ms = v;
            break;
        case -1:
            any_bad = 1;
            break;
        }
        switch (sqlite3_column_type(st, 4)) {
        case SQLITE_NULL:
            break;
        case SQLITE_TEXT:
            ms_clean_text(o->order, sizeof o->order, (const char *)sqlite3_column_text(st, 4));
            break;
        default:
            any_bad = 1;
            break;
        }
        switch (checked(st, 5, 0, MAX_COUNT, &v)) {
        case 1:
            o->have_retry = 1;
            o->retry_oom = v;
            break;
        case -1:
            any_bad = 1;
            break;
        }
        /* -j is read back for the Schedule line only; the sweep read it as it always did. */
        if (checked(st, 6, 1, MAX_COUNT, &v) == 1)
            o->jobs = v;
        if (any_bad)
            bad[MS_BAD_SWEEP_SCHEDULE]++;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

/* The columns of the admissions table in the order read_admission reads them. */
static const char *const adm_cols[] = {
    "run_id",       "decided_ns",           "rule",           "predicted_kb",
    "basis",        "running",              "running_predicted_kb", "running_rss_kb",
    "available_kb", "available_source",     "budget_kb",      "waited_ms",
};
#define ADM_NCOLS (sizeof adm_cols / sizeof adm_cols[0])

/* A size column into *have and *kb; an unusable one counts and reads as absent. */
static void adm_size(sqlite3_stmt *st, int col, int *have, unsigned long long *kb, size_t *bad)
{
    long long v;

    switch (checked(st, col, 0, MS_KB_LIMIT, &v)) {
    case 1:
        *have = 1;
        *kb = (unsigned long long)v;
        break;
    case -1:
        bad[MS_BAD_ADMISSION_SIZE]++;
        break;
    }
}

/* A text column, cleaned into buf; NULL and non-text read as "". */
static void adm_text(sqlite3_stmt *st, int col, char *buf, size_t len)
{
    buf[0] = '\0';
    if (sqlite3_column_type(st, col) == SQLITE_TEXT)
        ms_clean_text(buf, len, (const char *)sqlite3_column_text(st, col));
}

static void read_admission(sqlite3_stmt *st, ms_sched_admission_t *a, size_t *bad)
{
    long long v;

    memset(a, 0, sizeof *a);
    a->run_id = sqlite3_column_int64(st, 0);
    switch (checked(st, 1, 0, MS_NS_LIMIT - 1, &v)) {
    case 1:
        a->have_decided = 1;
        a->decided_ns = v;
        break;
    case -1:
        bad[MS_BAD_ADMISSION_TIME]++;
        break;
    }
    /* A rule is a word of the launcher's; one of another type is shown as it reads. */
    if (sqlite3_column_type(st, 2) != SQLITE_NULL)
        ms_clean_text(a->rule, sizeof a->rule, (const char *)sqlite3_column_text(st, 2));
    adm_size(st, 3, &a->have_predicted, &a->predicted_kb, bad);
    adm_text(st, 4, a->basis, sizeof a->basis);
    a->running = -1;
    switch (checked(st, 5, 0, MS_COUNT_LIMIT, &v)) {
    case 1:
        a->running = v;
        break;
    case -1:
        bad[MS_BAD_ADMISSION_COUNT]++;
        break;
    }
    adm_size(st, 6, &a->have_running_predicted, &a->running_predicted_kb, bad);
    adm_size(st, 7, &a->have_running_rss, &a->running_rss_kb, bad);
    adm_size(st, 8, &a->have_available, &a->available_kb, bad);
    adm_text(st, 9, a->available_source, sizeof a->available_source);
    adm_size(st, 10, &a->have_budget, &a->budget_kb, bad);
    switch (checked(st, 11, 0, MS_NS_LIMIT / 1000000, &v)) {
    case 1:
        a->waited_ms = v;
        break;
    case -1:
        bad[MS_BAD_ADMISSION_COUNT]++;
        break;
    }
}

/* Reads the admissions rows of the runs read, sorted by run_id. */
static int read_admissions(sqlite3 *db, ms_sweep_data_t *out)
{
    char sql[512] = "SELECT";
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int s;

    for (size_t i = 0; i < ADM_NCOLS; i++) {
        const size_t l = strlen(sql);
        int has = 0;
        if (ms__sweep_has_column(db, "admissions", adm_cols[i], &has) != 0)
            return -EIO;
        snprintf(sql + l, sizeof sql - l, "%s %s", i ? "," : "", has ? adm_cols[i] : "NULL");
    }
    /* run_id is the table's INTEGER PRIMARY KEY: always a whole number, never twice. */
    strncat(sql, " FROM admissions ORDER BY run_id", sizeof sql - strlen(sql) - 1);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        /* A row of a run not read (of another sweep, or skipped) describes none of these. */
        if (sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
            find_run(out->runs, out->n_runs, sqlite3_column_int64(st, 0)) == SIZE_MAX)
            continue;
        if (ms__grow((void **)&out->admissions, &cap, out->n_admissions,
                     sizeof *out->admissions, 64) != 0) {
            sqlite3_finalize(st);
            return -ENOMEM;
        }
        read_admission(st, &out->admissions[out->n_admissions++], out->report.bad);
    }
    sqlite3_finalize(st);
    return s == SQLITE_DONE ? 0 : -EIO;
}

int ms__sweep_read_sched(sqlite3 *db, const ms__optional_cols_t *oc, ms_sweep_data_t *out)
{
    int rc = read_sweep_sched(db, oc, out);

    if (rc == 0 && oc->admissions)
        rc = read_admissions(db, out);
    return rc;
}

static int cmp_proc(const void *a, const void *b)
{
    const long long x = *(const long long *)a;
    const ms__proc_fold_t *y = b;
    return (x > y->proc_id) - (x < y->proc_id);
}

/* A process and the time of its last usable sample, the moment it leaves the sum. */
typedef struct proc_end {
    int64_t last_t;
    size_t proc;
} proc_end_t;

static int cmp_end(const void *a, const void *b)
{
    const proc_end_t *x = a, *y = b;
    return (x->last_t > y->last_t) - (x->last_t < y->last_t);
}

int ms__sweep_measured_total(sqlite3 *db, ms_sweep_data_t *out, const ms__proc_fold_t *procs,
                             size_t n_procs)
{
    ms_rss_sum_t sum = {0};
    sqlite3_stmt *st = NULL;
    proc_end_t *by_end = NULL;
    size_t n_end = 0, next_end = 0;
    int s, rc = -ENOMEM;

    by_end = malloc((n_procs > 0 ? n_procs : 1) * sizeof *by_end);
    if (by_end == NULL || ms_rss_sum_init(&sum, n_procs) != 0)
        goto out;
    for (size_t i = 0; i < n_procs; i++)
        if (procs[i].n_samples > 0)
            by_end[n_end++] = (proc_end_t){procs[i].last_t, i};
    qsort(by_end, n_end, sizeof *by_end, cmp_end);

    /*
     * One pass over the samples in time order; SQLite sorts them (spilling to its
     * temporary files for a large sweep), so memory stays with the processes.
     */
    rc = -EIO;
    if (sqlite3_prepare_v2(db, "SELECT proc_id, t_ns, rss_kb FROM samples ORDER BY t_ns", -1, &st,
                           NULL) != SQLITE_OK)
        goto out;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        long long proc_id, t, rss;
        const ms__proc_fold_t *p;

        /* The same checks as the scan's: a sample it did not use is not used here. */
        if (ms__int_col(st, 0, INT64_MIN, INT64_MAX, &proc_id) != MS__V_OK ||
            ms__int_col(st, 1, 0, MS_NS_LIMIT - 1, &t) != MS__V_OK ||
            ms__int_col(st, 2, 0, MS_KB_LIMIT, &rss) != MS__V_OK)
            continue;
        p = n_procs > 0 ? bsearch(&proc_id, procs, n_procs, sizeof *procs, cmp_proc) : NULL;
        if (p == NULL || p->n_samples == 0)
            continue;
        /* A process leaves the sum after the readings of the instant of its last sample. */
        while (next_end < n_end && by_end[next_end].last_t < t)
            ms_rss_sum_end(&sum, by_end[next_end++].proc);
        ms_rss_sum_reading(&sum, (size_t)(p - procs), t, rss);
    }
    if (s != SQLITE_DONE)
        goto out;
    out->have_measured_total = sum.have_max;
    out->measured_total_kb = sum.have_max && sum.max > 0 ? (unsigned long long)sum.max : 0;
    out->measured_total_at_ns = sum.max_at_ns;
    rc = 0;
out:
    sqlite3_finalize(st);
    ms_rss_sum_free(&sum);
    free(by_end);
    return rc;
}

/* Orders runs by (seq, run_id), as the reader leaves them. */
static int before(const ms_run_mem_t *a, long long seq, long long run_id)
{
    return a->seq < seq || (a->seq == seq && a->run_id <= run_id);
}

/*
 * Whether two runs ran the same work: the same command where both have one recorded,
 * else the same parameters label; without either, nothing says they differ.
 */
static int same_work(const ms_sweep_data_t *d, const ms_run_mem_t *a, const ms_run_mem_t *b)
{
    if (a->have_command_key || b->have_command_key)
        return a->have_command_key && b->have_command_key && a->command_key == b->command_key;
    if (a->have_label || b->have_label)
        return a->have_label && b->have_label &&
               strcmp(d->labels + a->label_at, d->labels + b->label_at) == 0;
    return 1;
}

int ms__sweep_split_attempts(ms_sweep_data_t *out)
{
    size_t n_sup = 0, k = 0, j = 0;

    for (size_t i = 0; i < out->n_runs; i++)
        n_sup += out->runs[i].superseded != 0;
    if (n_sup == 0)
        return 0;
    out->superseded = malloc(n_sup * sizeof *out->superseded);
    if (out->superseded == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < out->n_runs; i++) {
        if (out->runs[i].superseded)
            out->superseded[k++] = out->runs[i];
        else
            out->runs[j++] = out->runs[i];
    }
    out->n_runs = j;
    out->n_superseded = k;
    /* Each attempt is followed by the first standing run after it of the same seq. */
    for (size_t i = 0; i < out->n_superseded; i++) {
        ms_run_mem_t *const sup = &out->superseded[i];
        size_t lo = 0, hi = out->n_runs;
        while (lo < hi) {
            const size_t mid = lo + (hi - lo) / 2;
            if (before(&out->runs[mid], sup->seq, sup->run_id))
                lo = mid + 1;
            else
                hi = mid;
        }
        /*
         * Of the same work: a sweep read together with others (a merge, several paths)
         * can hold other runs of the same seq, which are not this attempt's retry.
         */
        for (; lo < out->n_runs && out->runs[lo].seq == sup->seq; lo++) {
            if (!same_work(out, sup, &out->runs[lo]))
                continue;
            sup->retried_as = out->runs[lo].run_id;
            out->runs[lo].earlier_attempts++;
            break;
        }
    }
    return 0;
}
