/*
 * Reading a sweep database and reducing each run to its end and peak RSS, and to the
 * three views of its peak that `memsweep peaks` compares (peaks.h).
 *
 * A run is a tree of processes (a shell wrapper, the worker, its children). The run's RSS
 * at time t is the sum of the latest sample of every process alive at t. Its peak is the
 * largest such sum, and never less than any one process's kernel VmHWM. Its end RSS is
 * the run's RSS just before a process exits, at the exit where that is largest, counting
 * the exiting process at its exit RSS: the larger of its `end` sample and its last `tick`,
 * so that an interpreter's teardown (Python frees its objects before the process exits)
 * does not hide the footprint it ran with. For a single process that is its exit RSS, and
 * a wrapper shell that outlives the worker it started cannot hide the worker.
 *
 * Samples are read in one sequential scan and folded into per-process figures: for every
 * sample, and separately for the periodic ones (start, tick, end), so that the periodic
 * and all-samples peaks come out of the same pass. Only runs whose processes overlap in
 * time need a time-ordered merge; they are read again through the samples_by_proc index,
 * one run at a time, which keeps memory bounded by the largest run rather than by the
 * database. The merge keeps two running sums, one over all samples and one over the
 * periodic ones.
 *
 * Databases of schema version 1 have no allocation columns and no stacks table; the
 * columns are looked up, not assumed, and missing ones read as NULL.
 */
#include "sweepread.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_util.h"
#include "memsweep/defaults.h"
#include "memsweep/schema.h"

/* Per-process figures folded from the samples scan. */
typedef struct proc_fold {
    long long proc_id;
    size_t run_index;
    long long pid;
    int64_t started_ns;
    int64_t ended_ns;       /* as recorded; 0 when NULL */
    int64_t eff_end_ns;     /* ended_ns, or the next image's start after exec, or last sample */
    unsigned long long col_hwm_kb;
    unsigned long long col_end_rss_kb;
    int have_col_end_rss;
    size_t n_samples;
    int64_t first_t;
    int64_t last_t;
    unsigned long long last_rss;
    int64_t last_tick_t;            /* the latest tick sample, if any */
    unsigned long long last_tick_rss;
    int have_end_sample;            /* an end sample exists; end_rss is the latest one's */
    int64_t end_t;
    unsigned long long end_rss;
    unsigned long long max_rss;
    unsigned long long max_hwm;
    unsigned long long max_rss_periodic; /* largest RSS among start, tick and end samples */
    size_t kinds[MS_SAMPLE_KINDS];
    int have_stack;                      /* heaviest alloc/release sample with a stack: */
    ms_sample_kind_t stack_kind;
    long long stack_id;
    unsigned long long stack_rss;
    int64_t stack_t;
    ms_tracking_t tracking;              /* processes.alloc_tracking */
    unsigned long long dropped, dropped_rate, dropped_queue;
} proc_fold_t;

/* One event of a time-ordered merge: a sample of a process, or its exit. */
typedef struct merge_event {
    int64_t t;
    size_t proc;   /* index into the run's process list */
    size_t order;  /* position of reading, which breaks ties of time and process */
    int is_exit;
    int periodic;  /* a start, tick or end sample */
    unsigned long long rss;
} merge_event_t;

int ms_sweep_open(const char *path, sqlite3 **out, char *err, size_t errlen)
{
    struct stat st;
    char *dbpath = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *st_app = NULL;
    long long app_id = 0, version = 0;
    int rc = 0;

    *out = NULL;
    if (stat(path, &st) != 0) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        size_t n = strlen(path) + sizeof(MS_DB_FILE) + 2;
        dbpath = malloc(n);
        if (dbpath == NULL) {
            rc = -ENOMEM;
            ms_set_err(err, errlen, "%s: %s", path, strerror(ENOMEM));
            goto out;
        }
        snprintf(dbpath, n, "%s/%s", path, MS_DB_FILE);
        if (stat(dbpath, &st) != 0) {
            rc = -ENOENT;
            ms_set_err(err, errlen, "%s: no %s in this directory", path, MS_DB_FILE);
            goto out;
        }
    } else {
        dbpath = strdup(path);
        if (dbpath == NULL) {
            rc = -ENOMEM;
            ms_set_err(err, errlen, "%s: %s", path, strerror(ENOMEM));
            goto out;
        }
    }
    if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        ms_set_err(err, errlen, "%s: not a regular file", dbpath);
        goto out;
    }
    if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = -EIO;
        ms_set_err(err, errlen, "%s: %s", dbpath, db ? sqlite3_errmsg(db) : "cannot open");
        goto out;
    }
    sqlite3_busy_timeout(db, MS_BUSY_TIMEOUT_MS);
    if (sqlite3_prepare_v2(db, "SELECT (SELECT application_id FROM pragma_application_id),"
                               " (SELECT user_version FROM pragma_user_version)",
                           -1, &st_app, NULL) != SQLITE_OK ||
        sqlite3_step(st_app) != SQLITE_ROW) {
        rc = -EINVAL;
        ms_set_err(err, errlen, "%s: not a memsweep database (%s)", dbpath, sqlite3_errmsg(db));
        goto out;
    }
    app_id = sqlite3_column_int64(st_app, 0);
    version = sqlite3_column_int64(st_app, 1);
    if (app_id != MS_APPLICATION_ID || version < 1) {
        rc = -EINVAL;
        ms_set_err(err, errlen, "%s: not a memsweep database", dbpath);
        goto out;
    }
    if (version > MS_SCHEMA_VERSION) {
        rc = -EPROTONOSUPPORT;
        ms_set_err(err, errlen,
                "%s: schema version %lld is newer than this memsweep reads (%d); "
                "upgrade memsweep",
                dbpath, version, MS_SCHEMA_VERSION);
        goto out;
    }
    *out = db;
    db = NULL;
out:
    sqlite3_finalize(st_app);
    if (db != NULL)
        sqlite3_close(db);
    free(dbpath);
    return rc;
}

void ms_sweep_free(ms_sweep_data_t *d)
{
    free(d->runs);
    memset(d, 0, sizeof *d);
}

static int cmp_proc_id(const void *a, const void *b)
{
    const proc_fold_t *x = a, *y = b;
    return (x->proc_id > y->proc_id) - (x->proc_id < y->proc_id);
}

/* Processes sorted by (run_index, started_ns, proc_id), as indexes into the fold array. */
typedef struct proc_order {
    size_t run_index;
    int64_t started_ns;
    long long proc_id;
    size_t fold;
} proc_order_t;

/* A run's processes sorted by (pid, started_ns), to find the image a process exec'd into. */
typedef struct pid_order {
    long long pid;
    int64_t started_ns;
    size_t fold;
} pid_order_t;

static int cmp_pid_start(const void *a, const void *b)
{
    const pid_order_t *x = a, *y = b;
    if (x->pid != y->pid)
        return (x->pid > y->pid) - (x->pid < y->pid);
    if (x->started_ns != y->started_ns)
        return (x->started_ns > y->started_ns) - (x->started_ns < y->started_ns);
    return (x->fold > y->fold) - (x->fold < y->fold);
}

static int cmp_order(const void *a, const void *b)
{
    const proc_order_t *x = a, *y = b;
    if (x->run_index != y->run_index)
        return (x->run_index > y->run_index) - (x->run_index < y->run_index);
    if (x->started_ns != y->started_ns)
        return (x->started_ns > y->started_ns) - (x->started_ns < y->started_ns);
    return (x->proc_id > y->proc_id) - (x->proc_id < y->proc_id);
}

static int cmp_event(const void *a, const void *b)
{
    const merge_event_t *x = a, *y = b;
    if (x->t != y->t)
        return (x->t > y->t) - (x->t < y->t);
    /* At the same instant a sample counts before an exit, so the exit sees it. */
    if (x->is_exit != y->is_exit)
        return x->is_exit - y->is_exit;
    /* Otherwise reading order: each process's samples by time, processes by start. */
    return (x->order > y->order) - (x->order < y->order);
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

static proc_fold_t *find_proc(proc_fold_t *procs, size_t n, long long proc_id)
{
    proc_fold_t key;
    key.proc_id = proc_id;
    return bsearch(&key, procs, n, sizeof *procs, cmp_proc_id);
}

static int cmp_run_seq(const void *a, const void *b)
{
    const ms_run_mem_t *x = a, *y = b;
    if (x->seq != y->seq)
        return (x->seq > y->seq) - (x->seq < y->seq);
    return (x->run_id > y->run_id) - (x->run_id < y->run_id);
}

static unsigned long long umax(unsigned long long a, unsigned long long b)
{
    return a > b ? a : b;
}

/*
 * A process's RSS at its exit, as the end RSS counts it: after a recorded exit, the larger
 * of the end sample and the last tick (teardown only ever shrinks a process, and the last
 * tick shows what it held while working); without one (SIGKILL, _exit, exec), its last
 * sample.
 */
static unsigned long long exit_rss(const proc_fold_t *p)
{
    if (!p->have_end_sample)
        return p->last_rss;
    if (p->kinds[MS_SAMPLE_TICK] > 0 && p->last_tick_t <= p->end_t)
        return umax(p->end_rss, p->last_tick_rss);
    return p->end_rss;
}

/*
 * The time-ordered merge for a run whose processes overlap: the run's RSS from all
 * samples (its peak and end) and from the periodic samples alone (the periodic peak).
 */
static int merge_run(sqlite3_stmt *st_proc_samples, proc_fold_t *procs,
                     const proc_order_t *order, size_t count, ms_run_mem_t *run)
{
    merge_event_t *ev = NULL;
    unsigned long long *cur = NULL;     /* latest RSS of each process, any kind */
    unsigned long long *cur_per = NULL; /* latest RSS of each process, periodic kinds */
    size_t n_ev = 0, cap = 0;
    unsigned long long sum = 0, peak = 0, end = 0;
    unsigned long long sum_per = 0, peak_per = 0;
    int rc = 0;

    cur = calloc(count, sizeof *cur);
    cur_per = calloc(count, sizeof *cur_per);
    if (cur == NULL || cur_per == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        const proc_fold_t *p = &procs[order[i].fold];
        if (p->n_samples == 0)
            continue;
        sqlite3_reset(st_proc_samples);
        sqlite3_bind_int64(st_proc_samples, 1, p->proc_id);
        for (;;) {
            int s = sqlite3_step(st_proc_samples);
            if (s == SQLITE_DONE)
                break;
            if (s != SQLITE_ROW) {
                rc = -EIO;
                goto out;
            }
            if (sqlite3_column_type(st_proc_samples, 1) == SQLITE_NULL ||
                sqlite3_column_int64(st_proc_samples, 1) < 0)
                continue;
            if (n_ev + 2 > cap) {
                size_t ncap = cap ? cap * 2 : 1024;
                merge_event_t *nev = realloc(ev, ncap * sizeof *ev);
                if (nev == NULL) {
                    rc = -ENOMEM;
                    goto out;
                }
                ev = nev;
                cap = ncap;
            }
            ev[n_ev].t = sqlite3_column_int64(st_proc_samples, 0);
            ev[n_ev].proc = i;
            ev[n_ev].order = n_ev;
            ev[n_ev].is_exit = 0;
            ev[n_ev].periodic = ms_sample_kind_is_periodic(ms_sample_kind_of(
                (const char *)sqlite3_column_text(st_proc_samples, 2)));
            ev[n_ev].rss = (unsigned long long)sqlite3_column_int64(st_proc_samples, 1);
            n_ev++;
        }
        if (n_ev + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            merge_event_t *nev = realloc(ev, ncap * sizeof *ev);
            if (nev == NULL) {
                rc = -ENOMEM;
                goto out;
            }
            ev = nev;
            cap = ncap;
        }
        ev[n_ev].t = p->eff_end_ns;
        ev[n_ev].proc = i;
        ev[n_ev].order = n_ev;
        ev[n_ev].is_exit = 1;
        ev[n_ev].periodic = 0;
        ev[n_ev].rss = 0;
        n_ev++;
    }
    if (n_ev > 1)
        qsort(ev, n_ev, sizeof *ev, cmp_event);
    for (size_t k = 0; k < n_ev; k++) {
        const merge_event_t *e = &ev[k];
        if (e->is_exit) {
            end = umax(end, sum - cur[e->proc] + exit_rss(&procs[order[e->proc].fold]));
            sum -= cur[e->proc];
            cur[e->proc] = 0;
            sum_per -= cur_per[e->proc];
            cur_per[e->proc] = 0;
        } else {
            sum = sum - cur[e->proc] + e->rss;
            cur[e->proc] = e->rss;
            peak = umax(peak, sum);
            if (e->periodic) {
                sum_per = sum_per - cur_per[e->proc] + e->rss;
                cur_per[e->proc] = e->rss;
                peak_per = umax(peak_per, sum_per);
            }
        }
    }
    run->peaks.all_kb = umax(run->peaks.all_kb, peak);
    run->peaks.periodic_kb = umax(run->peaks.periodic_kb, peak_per);
    run->end_kb = end;
out:
    free(ev);
    free(cur);
    free(cur_per);
    return rc;
}

/* Sets *found to whether table has column; 0, or -EIO on a database error. */
static int has_column(sqlite3 *db, const char *table, const char *column, int *found)
{
    sqlite3_stmt *st = NULL;
    int s;

    *found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &st,
                           NULL) != SQLITE_OK)
        return -EIO;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
    s = sqlite3_step(st);
    sqlite3_finalize(st);
    if (s == SQLITE_ROW)
        *found = 1;
    else if (s != SQLITE_DONE)
        return -EIO;
    return 0;
}

/* A nullable non-negative count column; NULL and negative values read as 0. */
static unsigned long long count_col(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL || sqlite3_column_int64(st, col) < 0)
        return 0;
    return (unsigned long long)sqlite3_column_int64(st, col);
}

/*
 * Folds one process into its run's peak views: drop counts and tracking for every
 * process, sample figures for the processes that have samples.
 */
static void fold_proc_into_run(const proc_fold_t *p, ms_run_peaks_t *r)
{
    r->dropped += p->dropped;
    r->dropped_rate += p->dropped_rate;
    r->dropped_queue += p->dropped_queue;
    if (p->tracking == MS_TRACKING_ON ||
        (p->tracking == MS_TRACKING_OFF && r->tracking == MS_TRACKING_UNKNOWN))
        r->tracking = p->tracking;
    if (p->n_samples == 0)
        return;
    {
        const unsigned long long hwm = umax(p->max_hwm, p->col_hwm_kb);
        if (hwm > 0) {
            r->hwm_sum_kb += hwm;
            r->hwm_procs++;
            r->hwm_max_kb = umax(r->hwm_max_kb, hwm);
        }
    }
    for (int k = 0; k < MS_SAMPLE_KINDS; k++)
        r->kinds[k] += p->kinds[k];
    /* One process alive at a time gives these; a merge raises them for overlapping runs. */
    r->all_kb = umax(r->all_kb, p->max_rss);
    r->periodic_kb = umax(r->periodic_kb, p->max_rss_periodic);
    if (p->have_stack && (!r->have_stack || p->stack_rss > r->stack_rss_kb ||
                          (p->stack_rss == r->stack_rss_kb && p->stack_t < r->stack_t_ns))) {
        r->have_stack = 1;
        r->stack_kind = p->stack_kind;
        r->stack_id = p->stack_id;
        r->stack_rss_kb = p->stack_rss;
        r->stack_t_ns = p->stack_t;
    }
}

int ms_sweep_read(sqlite3 *db, ms_sweep_data_t *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    sqlite3_stmt *st_ps = NULL;
    proc_fold_t *procs = NULL;
    proc_order_t *order = NULL;
    pid_order_t *by_pid = NULL;
    int64_t exec_slack_ns = 0;
    size_t n_procs = 0, cap_procs = 0;
    size_t cap_runs = 0;
    int in_tx = 0;
    int rc = 0;
    int s;
    /* Columns of schema version 2; a version 1 database has none of them. */
    int has_tracking = 0, has_dropped = 0, has_dropped_rate = 0, has_dropped_queue = 0;
    int has_stack_id = 0, has_stacks = 0;
    int read_stacks = 0; /* the scan reads samples.stack_id */
    char sql[512];

    memset(out, 0, sizeof *out);
    out->info.reserve_mb = MS_DEFAULT_RESERVE_MB;
    out->info.safety_factor = MS_DEFAULT_SAFETY_FACTOR;
    out->info.interval_ms = MS_DEFAULT_INTERVAL_MS;

    /* One read transaction: a consistent snapshot even while a sweep is writing. */
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto sql_error;
    in_tx = 1;

    if (sqlite3_prepare_v2(db,
                           "SELECT sweep_id, mem_total_kb, reserve_mb, safety_factor,"
                           " interval_ms, hostname FROM sweeps ORDER BY sweep_id LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        goto sql_error;
    s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        out->info.sweep_id = sqlite3_column_int64(st, 0);
        if (sqlite3_column_type(st, 1) != SQLITE_NULL && sqlite3_column_int64(st, 1) > 0) {
            out->info.have_mem_total = 1;
            out->info.mem_total_kb = (unsigned long long)sqlite3_column_int64(st, 1);
        }
        if (sqlite3_column_type(st, 2) != SQLITE_NULL)
            out->info.reserve_mb = sqlite3_column_int64(st, 2);
        if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            out->info.safety_factor = sqlite3_column_double(st, 3);
        if (sqlite3_column_type(st, 4) != SQLITE_NULL)
            out->info.interval_ms = sqlite3_column_int64(st, 4);
        if (sqlite3_column_text(st, 5) != NULL)
            snprintf(out->info.hostname, sizeof out->info.hostname, "%s",
                     (const char *)sqlite3_column_text(st, 5));
    } else if (s != SQLITE_DONE) {
        goto sql_error;
    }
    sqlite3_finalize(st);
    st = NULL;

    /* Runs, sorted by run_id for lookups; re-sorted by seq at the end. */
    if (sqlite3_prepare_v2(db, "SELECT run_id, seq, status FROM runs ORDER BY run_id", -1,
                           &st, NULL) != SQLITE_OK)
        goto sql_error;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        ms_run_mem_t *r;
        if (out->n_runs == cap_runs) {
            size_t ncap = cap_runs ? cap_runs * 2 : 256;
            ms_run_mem_t *nr = realloc(out->runs, ncap * sizeof *nr);
            if (nr == NULL) {
                rc = -ENOMEM;
                ms_set_err(err, errlen, "out of memory");
                goto out;
            }
            out->runs = nr;
            cap_runs = ncap;
        }
        r = &out->runs[out->n_runs++];
        memset(r, 0, sizeof *r);
        r->run_id = sqlite3_column_int64(st, 0);
        r->seq = sqlite3_column_int64(st, 1);
        snprintf(r->status, sizeof r->status, "%s",
                 sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2)
                                            : MS_STATUS_RUNNING);
        r->peaks.tracking = MS_TRACKING_UNKNOWN;
    }
    if (s != SQLITE_DONE)
        goto sql_error;
    sqlite3_finalize(st);
    st = NULL;

    if (has_column(db, "processes", "alloc_tracking", &has_tracking) != 0 ||
        has_column(db, "processes", "alloc_dropped", &has_dropped) != 0 ||
        has_column(db, "processes", "alloc_dropped_rate", &has_dropped_rate) != 0 ||
        has_column(db, "processes", "alloc_dropped_queue", &has_dropped_queue) != 0 ||
        has_column(db, "samples", "stack_id", &has_stack_id) != 0 ||
        has_column(db, "stacks", "frames", &has_stacks) != 0)
        goto sql_error;
    /* Reading a column costs on every one of millions of samples: stack_id is read only
     * when some stack was recorded at all. */
    if (has_stack_id && has_stacks) {
        if (sqlite3_prepare_v2(db, "SELECT EXISTS (SELECT 1 FROM stacks)", -1, &st, NULL) !=
                SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW)
            goto sql_error;
        read_stacks = sqlite3_column_int(st, 0) != 0;
        sqlite3_finalize(st);
        st = NULL;
    }
    snprintf(sql, sizeof sql,
             "SELECT proc_id, run_id, pid, started_ns, ended_ns, hwm_kb, end_rss_kb,"
             " %s, %s, %s, %s FROM processes ORDER BY proc_id",
             has_tracking ? "alloc_tracking" : "NULL", has_dropped ? "alloc_dropped" : "NULL",
             has_dropped_rate ? "alloc_dropped_rate" : "NULL",
             has_dropped_queue ? "alloc_dropped_queue" : "NULL");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        goto sql_error;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        proc_fold_t *p;
        size_t ri = find_run(out->runs, out->n_runs, sqlite3_column_int64(st, 1));
        if (ri == SIZE_MAX)
            continue; /* A process of no known run cannot be attributed. */
        if (n_procs == cap_procs) {
            size_t ncap = cap_procs ? cap_procs * 2 : 256;
            proc_fold_t *np = realloc(procs, ncap * sizeof *np);
            if (np == NULL) {
                rc = -ENOMEM;
                ms_set_err(err, errlen, "out of memory");
                goto out;
            }
            procs = np;
            cap_procs = ncap;
        }
        p = &procs[n_procs++];
        memset(p, 0, sizeof *p);
        p->proc_id = sqlite3_column_int64(st, 0);
        p->run_index = ri;
        p->pid = sqlite3_column_int64(st, 2);
        p->started_ns = sqlite3_column_int64(st, 3);
        p->ended_ns = sqlite3_column_type(st, 4) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 4);
        if (sqlite3_column_type(st, 5) != SQLITE_NULL && sqlite3_column_int64(st, 5) > 0)
            p->col_hwm_kb = (unsigned long long)sqlite3_column_int64(st, 5);
        if (sqlite3_column_type(st, 6) != SQLITE_NULL && sqlite3_column_int64(st, 6) >= 0) {
            p->have_col_end_rss = 1;
            p->col_end_rss_kb = (unsigned long long)sqlite3_column_int64(st, 6);
        }
        p->tracking = sqlite3_column_type(st, 7) == SQLITE_NULL ? MS_TRACKING_UNKNOWN
                      : sqlite3_column_int64(st, 7) != 0      ? MS_TRACKING_ON
                                                              : MS_TRACKING_OFF;
        p->dropped_rate = count_col(st, 9);
        p->dropped_queue = count_col(st, 10);
        /* alloc_dropped is the total; without it the two causes add up to it. */
        p->dropped = sqlite3_column_type(st, 8) != SQLITE_NULL ? count_col(st, 8)
                                                               : p->dropped_rate + p->dropped_queue;
        out->runs[ri].n_processes++;
    }
    if (s != SQLITE_DONE)
        goto sql_error;
    sqlite3_finalize(st);
    st = NULL;

    /* One sequential scan of every sample, folded per process. */
    snprintf(sql, sizeof sql, "SELECT proc_id, t_ns, rss_kb, hwm_kb, kind%s FROM samples",
             read_stacks ? ", stack_id" : "");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        goto sql_error;
    {
        proc_fold_t *last = NULL;
        while ((s = sqlite3_step(st)) == SQLITE_ROW) {
            const long long proc_id = sqlite3_column_int64(st, 0);
            const int64_t t = sqlite3_column_int64(st, 1);
            long long rss, hwm;
            ms_sample_kind_t kind;
            proc_fold_t *p = (last != NULL && last->proc_id == proc_id)
                                 ? last
                                 : find_proc(procs, n_procs, proc_id);
            /* rss_kb is NOT NULL in every schema version, so no type check is needed. */
            if (p == NULL)
                continue;
            last = p;
            rss = sqlite3_column_int64(st, 2);
            hwm = sqlite3_column_int64(st, 3);
            if (rss < 0)
                continue;
            if (p->n_samples == 0 || t < p->first_t)
                p->first_t = t;
            if (p->n_samples == 0 || t >= p->last_t) {
                p->last_t = t;
                p->last_rss = (unsigned long long)rss;
            }
            p->n_samples++;
            p->max_rss = umax(p->max_rss, (unsigned long long)rss);
            if (hwm > 0)
                p->max_hwm = umax(p->max_hwm, (unsigned long long)hwm);
            kind = ms_sample_kind_of((const char *)sqlite3_column_text(st, 4));
            p->kinds[kind]++;
            if (kind == MS_SAMPLE_TICK && (p->kinds[kind] == 1 || t >= p->last_tick_t)) {
                p->last_tick_t = t;
                p->last_tick_rss = (unsigned long long)rss;
            } else if (kind == MS_SAMPLE_END && (!p->have_end_sample || t >= p->end_t)) {
                p->have_end_sample = 1;
                p->end_t = t;
                p->end_rss = (unsigned long long)rss;
            }
            if (ms_sample_kind_is_periodic(kind)) {
                p->max_rss_periodic = umax(p->max_rss_periodic, (unsigned long long)rss);
            } else if (read_stacks && ms_sample_kind_is_alloc(kind) &&
                       sqlite3_column_type(st, 5) != SQLITE_NULL &&
                       (!p->have_stack || (unsigned long long)rss > p->stack_rss ||
                        ((unsigned long long)rss == p->stack_rss && t < p->stack_t))) {
                p->have_stack = 1;
                p->stack_kind = kind;
                p->stack_id = sqlite3_column_int64(st, 5);
                p->stack_rss = (unsigned long long)rss;
                p->stack_t = t;
            }
        }
        if (s != SQLITE_DONE)
            goto sql_error;
    }
    sqlite3_finalize(st);
    st = NULL;

    /* Order each run's processes by start time to find exec successors and overlaps. */
    order = malloc((n_procs ? n_procs : 1) * sizeof *order);
    if (order == NULL) {
        rc = -ENOMEM;
        ms_set_err(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_procs; i++) {
        order[i].run_index = procs[i].run_index;
        order[i].started_ns = procs[i].started_ns;
        order[i].proc_id = procs[i].proc_id;
        order[i].fold = i;
    }
    qsort(order, n_procs, sizeof *order, cmp_order);

    by_pid = malloc((n_procs ? n_procs : 1) * sizeof *by_pid);
    if (by_pid == NULL) {
        rc = -ENOMEM;
        ms_set_err(err, errlen, "out of memory");
        goto out;
    }
    exec_slack_ns = (out->info.interval_ms > 0 ? out->info.interval_ms : MS_DEFAULT_INTERVAL_MS) *
                        1000000LL +
                    1000000000LL;

    if (sqlite3_prepare_v2(db, "SELECT t_ns, rss_kb, kind FROM samples WHERE proc_id = ?", -1,
                           &st_ps, NULL) != SQLITE_OK)
        goto sql_error;

    for (size_t i = 0; i < n_procs;) {
        const size_t ri = order[i].run_index;
        ms_run_mem_t *run = &out->runs[ri];
        size_t j = i;
        int overlap = 0;
        int64_t max_end = INT64_MIN;

        while (j < n_procs && order[j].run_index == ri)
            j++;

        /*
         * Effective end of each process: its recorded exit; else the start of the image it
         * exec'd into (the next row of the same pid, starting within one sampling interval
         * and a grace second of its last sample: a later row of the same pid is a reused
         * pid, not an exec); else its last sample.
         */
        for (size_t k = i; k < j; k++) {
            proc_fold_t *p = &procs[order[k].fold];
            p->eff_end_ns = p->ended_ns > 0 ? p->ended_ns
                                             : (p->n_samples ? p->last_t : p->started_ns);
        }
        for (size_t k = i; k < j; k++) {
            by_pid[k - i].pid = procs[order[k].fold].pid;
            by_pid[k - i].started_ns = procs[order[k].fold].started_ns;
            by_pid[k - i].fold = order[k].fold;
        }
        qsort(by_pid, j - i, sizeof *by_pid, cmp_pid_start);
        for (size_t k = 0; k + 1 < j - i; k++) {
            proc_fold_t *p = &procs[by_pid[k].fold];
            const proc_fold_t *q = &procs[by_pid[k + 1].fold];
            const int64_t reach = (p->n_samples ? p->last_t : p->started_ns) + exec_slack_ns;
            if (p->ended_ns == 0 && q->pid == p->pid && q->started_ns >= p->started_ns &&
                q->started_ns <= reach)
                p->eff_end_ns = q->started_ns;
        }
        for (size_t k = i; k < j; k++) {
            proc_fold_t *p = &procs[order[k].fold];
            if (p->n_samples && p->last_t > p->eff_end_ns)
                p->eff_end_ns = p->last_t;
        }
        for (size_t k = i; k < j; k++) {
            const proc_fold_t *p = &procs[order[k].fold];
            fold_proc_into_run(p, &run->peaks);
            if (p->n_samples == 0)
                continue;
            run->n_samples += p->n_samples;
            if (p->started_ns < max_end && p->first_t < max_end)
                overlap = 1;
            if (p->eff_end_ns > max_end)
                max_end = p->eff_end_ns;
        }
        if (run->n_samples > 0) {
            if (overlap) {
                rc = merge_run(st_ps, procs, &order[i], j - i, run);
                if (rc != 0) {
                    if (rc == -ENOMEM) {
                        ms_set_err(err, errlen, "out of memory");
                        goto out;
                    }
                    goto sql_error;
                }
            } else {
                /* One process alive at a time: the end is the largest exit RSS. */
                for (size_t k = i; k < j; k++) {
                    const proc_fold_t *p = &procs[order[k].fold];
                    if (p->n_samples == 0)
                        continue;
                    run->end_kb = umax(run->end_kb, exit_rss(p));
                }
            }
            /* The advisory's peak: never below the largest single process's VmHWM. */
            run->peak_kb = ms_run_peaks_true_kb(&run->peaks);
        }
        i = j;
    }

    qsort(out->runs, out->n_runs, sizeof *out->runs, cmp_run_seq);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    in_tx = 0;
    goto out;

sql_error:
    rc = -EIO;
    ms_set_err(err, errlen, "%s: %s", sqlite3_db_filename(db, "main"), sqlite3_errmsg(db));
out:
    sqlite3_finalize(st);
    sqlite3_finalize(st_ps);
    if (in_tx)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    free(procs);
    free(order);
    free(by_pid);
    if (rc != 0)
        ms_sweep_free(out);
    return rc;
}

void ms_sweep_peak_summary(const ms_sweep_data_t *d, ms_peak_summary_t *out)
{
    ms_peak_summary_init(out);
    for (size_t i = 0; i < d->n_runs; i++)
        if (d->runs[i].n_samples > 0)
            ms_peak_summary_add(out, d->runs[i].seq, &d->runs[i].peaks);
}

int ms_sweep_texts_open(sqlite3 *db, ms_sweep_texts_t *t, char *err, size_t errlen)
{
    int has_stacks = 0;

    memset(t, 0, sizeof *t);
    /* Schema version 1 has no stacks table; frames are then never found. */
    if (has_column(db, "stacks", "frames", &has_stacks) != 0)
        goto sql_error;
    if (sqlite3_prepare_v2(db, "SELECT label FROM runs WHERE run_id = ?", -1, &t->label, NULL) !=
        SQLITE_OK)
        goto sql_error;
    if (has_stacks && sqlite3_prepare_v2(db, "SELECT frames FROM stacks WHERE stack_id = ?", -1,
                                         &t->frames, NULL) != SQLITE_OK)
        goto sql_error;
    return 0;
sql_error:
    ms_set_err(err, errlen, "%s: %s", sqlite3_db_filename(db, "main"), sqlite3_errmsg(db));
    ms_sweep_texts_close(t);
    return -EIO;
}

void ms_sweep_texts_close(ms_sweep_texts_t *t)
{
    sqlite3_finalize(t->label);
    sqlite3_finalize(t->frames);
    memset(t, 0, sizeof *t);
}

/* Steps a one-column lookup by key and copies the text found, or sets NULL. */
static int lookup_text(sqlite3_stmt *st, long long key, char **text)
{
    int s, rc = 0;

    *text = NULL;
    if (st == NULL)
        return 0;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, key);
    s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        if (v != NULL && (*text = strdup((const char *)v)) == NULL)
            rc = -ENOMEM;
    } else if (s != SQLITE_DONE) {
        rc = -EIO;
    }
    sqlite3_reset(st);
    return rc;
}

int ms_sweep_run_label(ms_sweep_texts_t *t, long long run_id, char **label)
{
    return lookup_text(t->label, run_id, label);
}

int ms_sweep_stack_frames(ms_sweep_texts_t *t, long long stack_id, char **frames)
{
    return lookup_text(t->frames, stack_id, frames);
}

void ms_advise_opts_init(ms_advise_opts_t *o)
{
    o->mem_total_mb = -1;
    o->reserve_mb = MS_DEFAULT_RESERVE_MB;
    o->safety_factor = MS_DEFAULT_SAFETY_FACTOR;
}

int ms_sweep_advise(const ms_sweep_data_t *d, const ms_advise_opts_t *o, ms_advisory_t *out)
{
    ms_machine_t m;
    ms_run_counts_t counts;
    double *end_mb = NULL, *peak_mb = NULL;
    size_t n = 0;

    memset(&counts, 0, sizeof counts);
    if (o->mem_total_mb >= 0)
        ms_machine_init(&m, 1, (unsigned long long)o->mem_total_mb * 1024ULL, o->reserve_mb,
                        o->safety_factor);
    else
        ms_machine_init(&m, d->info.have_mem_total, d->info.mem_total_kb, o->reserve_mb,
                        o->safety_factor);

    end_mb = malloc((d->n_runs ? d->n_runs : 1) * sizeof *end_mb);
    peak_mb = malloc((d->n_runs ? d->n_runs : 1) * sizeof *peak_mb);
    if (end_mb == NULL || peak_mb == NULL) {
        free(end_mb);
        free(peak_mb);
        return -ENOMEM;
    }
    counts.total = d->n_runs;
    for (size_t i = 0; i < d->n_runs; i++) {
        const ms_run_mem_t *r = &d->runs[i];
        if (strcmp(r->status, MS_STATUS_OK) != 0)
            counts.failed++;
        if (r->n_samples == 0) {
            counts.excluded++;
            continue;
        }
        counts.included++;
        end_mb[n] = (double)r->end_kb / 1024.0;
        peak_mb[n] = (double)r->peak_kb / 1024.0;
        n++;
    }
    ms_advisory_compute(&m, &counts, end_mb, n, peak_mb, n, out);
    ms_sweep_peak_summary(d, &out->peaks);
    out->have_peak_summary = 1;
    free(end_mb);
    free(peak_mb);
    return 0;
}

int ms_advise_db(const char *db_path, ms_advisory_t *out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    ms_sweep_data_t d;
    ms_advise_opts_t o;
    int rc;

    rc = ms_sweep_open(db_path, &db, err, errlen);
    if (rc != 0)
        return rc;
    rc = ms_sweep_read(db, &d, err, errlen);
    sqlite3_close(db);
    if (rc != 0)
        return rc;
    ms_advise_opts_init(&o);
    rc = ms_sweep_advise(&d, &o, out);
    if (rc != 0)
        ms_set_err(err, errlen, "%s: %s", db_path, strerror(-rc));
    ms_sweep_free(&d);
    return rc;
}
