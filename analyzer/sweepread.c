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
 * Nothing read is trusted: every number is checked for its type and a plausible range
 * (dbreport.h) before it is used, so that a damaged or hand-made database gives counted
 * skips instead of wrong figures, and no arithmetic on what is accepted can overflow. A
 * process whose samples are not in time order in the scan is read again, in order, to
 * find exact duplicates, which count once.
 *
 * Databases of schema version 1 have no allocation columns and no stacks table, version 2
 * has no uninstrumented, unstored and note columns, version 3 no mem_source,
 * host_mem_total_kb and cpus; the columns are looked up, not assumed, and missing ones
 * read as NULL.
 */
#include "sweepread.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_util.h"
#include "memsweep/defaults.h"
#include "memsweep/schema.h"
#include "spool_pending.h"
#include "store.h"

/* Per-process figures folded from the samples scan. */
typedef struct proc_fold {
    long long proc_id;
    size_t run_index;
    long long pid;
    int64_t started_ns;
    int have_ended;         /* processes.ended_ns is a usable time */
    int64_t ended_ns;
    int64_t eff_end_ns;     /* ended_ns, or the next image's start after exec, or last sample */
    int execd;              /* replaced by the next image of its pid (exec) */
    int recheck;            /* a sample came no later than one before it: look for duplicates */
    unsigned long long col_hwm_kb;
    size_t n_samples;
    int64_t first_t;
    int64_t last_t;
    unsigned long long last_rss;
    int64_t last_tick_t;            /* the latest tick sample, if any */
    unsigned long long last_tick_rss;
    unsigned long long tail_release_rss; /* largest release sample since the last tick */
    /*
     * The largest tick or release sample in each of the two latest interval-long buckets
     * of time (bucket = t_ns / interval): what the process held in its last intervals.
     */
    int64_t tail_bucket[2];
    unsigned long long tail_rss[2];
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
    unsigned long long unstored;
    int has_note;                        /* processes.note is set: a write of it failed */
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

/* One usable sample, as checked by read_sample. */
typedef struct sample_row {
    int64_t t;
    unsigned long long rss;
    long long hwm;        /* -1 when absent or ignored */
    ms_sample_kind_t kind;
    uint64_t kind_hash;   /* FNV-1a of the kind's text, which tells unknown kinds apart */
    int have_stack;
    long long stack_id;
} sample_row_t;

/* The outcome of checking one integer value. */
typedef enum vcheck { V_OK, V_NULL, V_TYPE, V_LOW, V_HIGH } vcheck_t;

/*
 * Reads column col as a whole number in [lo, hi]. A REAL that holds a whole number (a
 * column without INTEGER affinity keeps 5.0 as REAL) is that number; text and blobs are
 * never numbers here, even when they spell one.
 */
static vcheck_t int_col(sqlite3_stmt *st, int col, long long lo, long long hi, long long *out)
{
    long long v;

    switch (sqlite3_column_type(st, col)) {
    case SQLITE_NULL:
        return V_NULL;
    case SQLITE_INTEGER:
        v = sqlite3_column_int64(st, col);
        break;
    case SQLITE_FLOAT: {
        const double d = sqlite3_column_double(st, col);
        if (!(d == floor(d)) || d < -9.0e18 || d > 9.0e18)
            return V_TYPE;
        v = (long long)d;
        break;
    }
    default:
        return V_TYPE;
    }
    if (v < lo)
        return V_LOW;
    if (v > hi)
        return V_HIGH;
    *out = v;
    return V_OK;
}

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
 * Checks the sample at columns c (t_ns), c + 1 (rss_kb), c + 2 (hwm_kb), c + 3 (kind) and,
 * when stack_col >= 0, stack_col (stack_id). Returns MS_BAD_COUNT when the sample is
 * usable, with *s filled and ignored values counted in bad; otherwise the reason to skip
 * it, which the caller counts.
 */
static ms_bad_t read_sample(sqlite3_stmt *st, int c, int stack_col, sample_row_t *s, size_t *bad)
{
    long long v;

    switch (int_col(st, c, 0, MS_NS_LIMIT - 1, &v)) {
    case V_OK:
        s->t = v;
        break;
    case V_NULL:
        return MS_BAD_SAMPLE_T_NULL;
    case V_TYPE:
        return MS_BAD_SAMPLE_T;
    case V_LOW:
        return MS_BAD_SAMPLE_T_EARLY;
    case V_HIGH:
        return MS_BAD_SAMPLE_T_LATE;
    }
    switch (int_col(st, c + 1, 0, MS_KB_LIMIT, &v)) {
    case V_OK:
        s->rss = (unsigned long long)v;
        break;
    case V_NULL:
        return MS_BAD_SAMPLE_RSS_NULL;
    case V_TYPE:
        return MS_BAD_SAMPLE_RSS;
    case V_LOW:
        return MS_BAD_SAMPLE_RSS_NEGATIVE;
    case V_HIGH:
        return MS_BAD_SAMPLE_RSS_HUGE;
    }
    s->hwm = -1;
    switch (int_col(st, c + 2, 0, MS_KB_LIMIT, &v)) {
    case V_OK:
        s->hwm = v;
        break;
    case V_NULL:
        break;
    case V_TYPE:
        count_bad(bad, MS_BAD_SAMPLE_HWM);
        break;
    case V_LOW:
    case V_HIGH:
        count_bad(bad, MS_BAD_SAMPLE_HWM_RANGE);
        break;
    }
    {
        const unsigned char *kind = sqlite3_column_text(st, c + 3);
        s->kind = ms_sample_kind_of((const char *)kind);
        s->kind_hash = s->kind == MS_SAMPLE_OTHER ? fnv1a(kind) : 0;
    }
    s->have_stack = 0;
    if (stack_col >= 0) {
        switch (int_col(st, stack_col, INT64_MIN, INT64_MAX, &v)) {
        case V_OK:
            s->have_stack = 1;
            s->stack_id = v;
            break;
        case V_NULL:
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
    switch (int_col(st, col, 0, MS_COUNT_LIMIT, &v)) {
    case V_OK:
        *present = 1;
        return (unsigned long long)v;
    case V_NULL:
        return 0;
    default:
        bad[reason]++;
        return 0;
    }
}

static unsigned long long umax(unsigned long long a, unsigned long long b)
{
    return a > b ? a : b;
}

/* a + b, held at ULLONG_MAX instead of wrapping (sums of many plausible figures). */
static unsigned long long sat_add(unsigned long long a, unsigned long long b)
{
    return a > ~0ULL - b ? ~0ULL : a + b;
}

/* Says why opening or reading failed, in one line (store.h). */
static void db_error(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    ms_store_db_error(db, path, err, errlen);
}

int ms_sweep_open(const char *path, sqlite3 **out, char *err, size_t errlen)
{
    struct stat st;
    char *dbpath = NULL;
    int rc = 0;

    *out = NULL;
    if (stat(path, &st) != 0) {
        rc = -errno;
        /* A program measured alone whose spools were never collected has no file yet. */
        if (rc == -ENOENT)
            return ms_store_open_reader(path, out, err, errlen);
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
    /* Read-only, with the records of pools not yet folded (spool_pending.h). */
    rc = ms_store_open_reader(dbpath, out, err, errlen);
out:
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

static int cmp_ll(const void *a, const void *b)
{
    const long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
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

/* Orders identical readings next to each other. */
static int cmp_sample(const void *a, const void *b)
{
    const sample_row_t *x = a, *y = b;
    if (x->t != y->t)
        return (x->t > y->t) - (x->t < y->t);
    if (x->kind != y->kind)
        return (x->kind > y->kind) - (x->kind < y->kind);
    if (x->kind_hash != y->kind_hash)
        return (x->kind_hash > y->kind_hash) - (x->kind_hash < y->kind_hash);
    if (x->rss != y->rss)
        return (x->rss > y->rss) - (x->rss < y->rss);
    return (x->hwm > y->hwm) - (x->hwm < y->hwm);
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

/* Width of the buckets of tail_rss: the sweep's sampling interval. */
static int64_t tail_bucket_ns = (int64_t)MS_DEFAULT_INTERVAL_MS * 1000000;

/*
 * A process's RSS at its exit, as the end RSS counts it: after a recorded exit, the largest
 * of the end sample, the last tick, the release samples since that tick, and the tick and
 * release samples of the interval that holds the end and of the one before it. Teardown
 * only ever shrinks a process, and a slow one (or a busy machine) can span a tick: the
 * ticks show what it held while working, a release sample during teardown what it held
 * just before a large free. Without a recorded exit (a kill, a crash, exec), its last
 * sample.
 */
static unsigned long long exit_rss(const proc_fold_t *p)
{
    unsigned long long rss;
    int64_t end_bucket;

    if (!p->have_end_sample)
        return p->last_rss;
    rss = umax(p->end_rss, p->tail_release_rss);
    if (p->kinds[MS_SAMPLE_TICK] > 0 && p->last_tick_t <= p->end_t)
        rss = umax(rss, p->last_tick_rss);
    end_bucket = p->end_t / tail_bucket_ns;
    for (int i = 0; i < 2; i++) {
        if (p->tail_rss[i] > 0 && p->tail_bucket[i] <= end_bucket &&
            p->tail_bucket[i] >= end_bucket - 1)
            rss = umax(rss, p->tail_rss[i]);
    }
    return rss;
}

/* Counts a tick or release sample into the latest two buckets of tail_rss. */
static void note_tail(proc_fold_t *p, int64_t t, unsigned long long rss)
{
    const int64_t b = t / tail_bucket_ns;
    const int newer = p->tail_bucket[0] >= p->tail_bucket[1] ? 0 : 1;
    const int older = 1 - newer;

    for (int i = 0; i < 2; i++) {
        if (p->tail_rss[i] > 0 && p->tail_bucket[i] == b) {
            p->tail_rss[i] = umax(p->tail_rss[i], rss);
            return;
        }
    }
    if (p->tail_rss[newer] == 0 || b > p->tail_bucket[newer]) {
        /* A new latest bucket; the older slot goes (it is further back). */
        p->tail_bucket[older] = b;
        p->tail_rss[older] = rss;
    } else if (p->tail_rss[older] == 0 || b > p->tail_bucket[older]) {
        p->tail_bucket[older] = b;
        p->tail_rss[older] = rss;
    }
}

/* Makes room for one more element in a growable array of elements of size sz. */
static int grow(void **v, size_t *cap, size_t n, size_t sz, size_t first)
{
    if (n < *cap)
        return 0;
    {
        const size_t ncap = *cap ? *cap * 2 : first;
        void *nv = realloc(*v, ncap * sz);
        if (nv == NULL)
            return -ENOMEM;
        *v = nv;
        *cap = ncap;
    }
    return 0;
}

/*
 * Steps st (bound to one process: proc_id, t_ns, rss_kb, hwm_kb, kind) to its next usable
 * sample of that process, as the scan accepted it. Returns 1 with *s filled, 0 at the end,
 * or -EIO.
 */
static int next_sample_of(sqlite3_stmt *st, long long proc_id, sample_row_t *s)
{
    for (;;) {
        long long id;
        const int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            return 0;
        if (step != SQLITE_ROW)
            return -EIO;
        /* The comparison in SQL follows the column's affinity; the scan does not. */
        if (int_col(st, 0, INT64_MIN, INT64_MAX, &id) != V_OK || id != proc_id)
            continue;
        if (read_sample(st, 1, -1, s, NULL) == MS_BAD_COUNT)
            return 1;
    }
}

/*
 * The time-ordered merge for a run whose processes overlap: the run's RSS from all
 * samples (its peak and end) and from the periodic samples alone (the periodic peak).
 * Each process's RSS is at most MS_KB_LIMIT, so the sums are exact for up to 2^22
 * processes alive at once.
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
        sample_row_t s;
        int got;
        if (p->n_samples == 0)
            continue;
        sqlite3_reset(st_proc_samples);
        sqlite3_bind_int64(st_proc_samples, 1, p->proc_id);
        while ((got = next_sample_of(st_proc_samples, p->proc_id, &s)) == 1) {
            if ((rc = grow((void **)&ev, &cap, n_ev, sizeof *ev, 1024)) != 0)
                goto out;
            ev[n_ev].t = s.t;
            ev[n_ev].proc = i;
            ev[n_ev].order = n_ev;
            ev[n_ev].is_exit = 0;
            ev[n_ev].periodic = ms_sample_kind_is_periodic(s.kind);
            ev[n_ev].rss = s.rss;
            n_ev++;
        }
        if (got < 0) {
            rc = -EIO;
            goto out;
        }
        if ((rc = grow((void **)&ev, &cap, n_ev, sizeof *ev, 1024)) != 0)
            goto out;
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

/*
 * Reads a process's samples again, in time order, and takes exact duplicates (the same
 * time, kind, RSS and VmHWM) out of its counts. Duplicates change no peak, sum or end:
 * the same reading twice is the same reading.
 */
static int drop_duplicates(sqlite3_stmt *st_proc_samples, proc_fold_t *p, size_t *bad)
{
    sample_row_t *v = NULL;
    size_t n = 0, cap = 0;
    sample_row_t s;
    int got, rc = 0;

    sqlite3_reset(st_proc_samples);
    sqlite3_bind_int64(st_proc_samples, 1, p->proc_id);
    while ((got = next_sample_of(st_proc_samples, p->proc_id, &s)) == 1) {
        if ((rc = grow((void **)&v, &cap, n, sizeof *v, 64)) != 0)
            goto out;
        v[n++] = s;
    }
    if (got < 0) {
        rc = -EIO;
        goto out;
    }
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_sample);
    for (size_t i = 1; i < n; i++) {
        if (cmp_sample(&v[i - 1], &v[i]) != 0)
            continue;
        /* The scan counted every copy; counts cannot go below one copy. */
        if (p->n_samples > 1 && p->kinds[v[i].kind] > 1) {
            p->n_samples--;
            p->kinds[v[i].kind]--;
            bad[MS_BAD_SAMPLE_DUP]++;
        }
    }
out:
    free(v);
    return rc;
}

/*
 * Sets *found to whether table is a stored table (not a view) with column; 0, or -EIO on
 * a database error.
 */
static int has_column(sqlite3 *db, const char *table, const char *column, int *found)
{
    sqlite3_stmt *st = NULL;
    int s;

    *found = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM sqlite_master m, pragma_table_info(m.name) c"
                           " WHERE m.type = 'table' AND m.name = ?1 COLLATE NOCASE"
                           " AND c.name = ?2 COLLATE NOCASE",
                           -1, &st, NULL) != SQLITE_OK)
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

/*
 * The columns the reader needs since schema version 1: without any of them the figures
 * cannot be computed, so the database is refused with the first one missing named.
 */
static const struct {
    const char *table;
    const char *column;
} required_cols[] = {
    {"sweeps", "sweep_id"},     {"sweeps", "mem_total_kb"},   {"sweeps", "interval_ms"},
    {"runs", "run_id"},         {"runs", "sweep_id"},         {"runs", "seq"},
    {"runs", "label"},          {"runs", "status"},           {"processes", "proc_id"},
    {"processes", "run_id"},    {"processes", "pid"},         {"processes", "started_ns"},
    {"processes", "ended_ns"},  {"processes", "hwm_kb"},      {"samples", "proc_id"},
    {"samples", "t_ns"},        {"samples", "rss_kb"},        {"samples", "hwm_kb"},
    {"samples", "kind"},
};

/* Fails with a message naming the first missing table or required column. */
static int check_required(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    const char *table = NULL;
    int table_ok = 0;

    for (size_t i = 0; i < sizeof required_cols / sizeof required_cols[0]; i++) {
        int found = 0;
        if (table == NULL || strcmp(table, required_cols[i].table) != 0) {
            sqlite3_stmt *st = NULL;
            int s;
            table = required_cols[i].table;
            /* A view could compute rows without end; only stored tables are read. */
            if (sqlite3_prepare_v2(db,
                                   "SELECT 1 FROM sqlite_master"
                                   " WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
                                   -1, &st, NULL) != SQLITE_OK)
                return -EIO;
            sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
            s = sqlite3_step(st);
            sqlite3_finalize(st);
            if (s != SQLITE_ROW && s != SQLITE_DONE)
                return -EIO;
            table_ok = s == SQLITE_ROW;
            if (!table_ok) {
                ms_set_err(err, errlen, "%s: damaged memsweep database: no table %s", path,
                           table);
                return -EINVAL;
            }
        }
        if (has_column(db, table, required_cols[i].column, &found) != 0)
            return -EIO;
        if (!found) {
            ms_set_err(err, errlen, "%s: damaged memsweep database: table %s has no column %s",
                       path, table, required_cols[i].column);
            return -EINVAL;
        }
    }
    return 0;
}

/*
 * Folds one process into its run's peak views: drop counts and tracking for every
 * process, sample figures for the processes that have samples.
 */
static void fold_proc_into_run(const proc_fold_t *p, ms_run_peaks_t *r)
{
    r->rows++;
    r->dropped = sat_add(r->dropped, p->dropped);
    r->dropped_rate = sat_add(r->dropped_rate, p->dropped_rate);
    r->dropped_queue = sat_add(r->dropped_queue, p->dropped_queue);
    if (p->tracking == MS_TRACKING_ON ||
        (p->tracking == MS_TRACKING_OFF && r->tracking == MS_TRACKING_UNKNOWN))
        r->tracking = p->tracking;
    if (p->n_samples == 0)
        return;
    r->procs++;
    {
        const unsigned long long hwm = umax(p->max_hwm, p->col_hwm_kb);
        /* The kernel's peak of the whole image: VmHWM in its exit record. */
        if (p->have_ended && p->col_hwm_kb > 0)
            r->exit_hwm_procs++;
        if (hwm > 0) {
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

static int status_is_known(const char *s)
{
    static const char *const known[] = {MS_STATUS_OK,      MS_STATUS_FAILED,
                                        MS_STATUS_KILLED,  MS_STATUS_OOM, MS_STATUS_TIMEOUT,
                                        MS_STATUS_INTERRUPTED, MS_STATUS_RUNNING};
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
    switch (int_col(st, 1, 1, MS_KB_LIMIT, &v)) {
    case V_OK:
        out->info.have_mem_total = 1;
        out->info.mem_total_kb = (unsigned long long)v;
        break;
    case V_NULL: /* MemTotal could not be read where the sweep ran */
        break;
    case V_TYPE:
        out->report.bad[MS_BAD_SWEEP_MEM_TOTAL]++;
        break;
    case V_LOW:
    case V_HIGH:
        out->report.bad[MS_BAD_SWEEP_MEM_TOTAL_RANGE]++;
        break;
    }
    switch (int_col(st, 2, MS_MIN_INTERVAL_MS, MS_MAX_INTERVAL_MS, &v)) {
    case V_OK:
        out->info.interval_ms = v;
        break;
    case V_NULL:
        out->report.bad[MS_BAD_SWEEP_INTERVAL_NULL]++;
        break;
    case V_TYPE:
        out->report.bad[MS_BAD_SWEEP_INTERVAL]++;
        break;
    case V_LOW:
    case V_HIGH:
        out->report.bad[MS_BAD_SWEEP_INTERVAL_RANGE]++;
        break;
    }
    if (sqlite3_column_text(st, 3) != NULL)
        ms_clean_text(out->info.hostname, sizeof out->info.hostname,
                      (const char *)sqlite3_column_text(st, 3));
    /* The reserve's upper bound is MS_KB_LIMIT in MiB: no reserve is larger than memory. */
    switch (int_col(st, 4, 0, MS_KB_LIMIT / 1024, &v)) {
    case V_OK:
        out->info.have_reserve = 1;
        out->info.reserve_mb = v;
        break;
    case V_NULL: /* a column of every version, NOT NULL: only a hand-made row lacks it */
        break;
    case V_TYPE:
        out->report.bad[MS_BAD_SWEEP_RESERVE]++;
        break;
    case V_LOW:
    case V_HIGH:
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
    switch (int_col(st, 7, 1, MS_KB_LIMIT, &v)) {
    case V_OK:
        out->info.have_host_mem_total = 1;
        out->info.host_mem_total_kb = (unsigned long long)v;
        break;
    case V_NULL:
        /* Before version 4 (and from the shim alone) the figure is the machine's. */
        if (sqlite3_column_type(st, 6) == SQLITE_NULL && out->info.have_mem_total) {
            out->info.have_host_mem_total = 1;
            out->info.host_mem_total_kb = out->info.mem_total_kb;
        }
        break;
    case V_TYPE:
        out->report.bad[MS_BAD_SWEEP_HOST_MEM]++;
        break;
    case V_LOW:
    case V_HIGH:
        out->report.bad[MS_BAD_SWEEP_HOST_MEM_RANGE]++;
        break;
    }
    switch (int_col(st, 8, 1, MAX_CPUS, &v)) {
    case V_OK:
        out->info.cpus = v;
        break;
    case V_NULL:
        break;
    case V_TYPE:
        out->report.bad[MS_BAD_SWEEP_CPUS]++;
        break;
    case V_LOW:
    case V_HIGH:
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
    long long kb, floor_kb = 0;
    const vcheck_t v = int_col(st, col, 0, MS_KB_LIMIT, &kb);
    const vcheck_t vf = int_col(st, col + 1, 0, MS_KB_LIMIT, &floor_kb);

    if (v == V_NULL)
        return;
    if (v != V_OK || (vf != V_OK && vf != V_NULL)) {
        count_bad(bad, MS_BAD_RUN_MAXRSS);
        return;
    }
    /* Without its floor, ru_maxrss cannot be told from the launcher's copy: not used. */
    if (vf == V_NULL)
        return;
    r->peaks.wait4_kb = (unsigned long long)kb;
    r->peaks.wait4_floor_kb = (unsigned long long)floor_kb;
    r->peaks.wait4 = kb > floor_kb ? MS_WAIT4_ABOVE : MS_WAIT4_AT_FLOOR;
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
    if (has_column(db, "sweeps", "origin", &has_origin) != 0)
        return -EIO;
    if (sqlite3_prepare_v2(db,
                           has_origin ? "SELECT finished_ns IS NULL AND origin IS '"
                                        MS_ORIGIN_LAUNCHER "' FROM sweeps ORDER BY sweep_id LIMIT 1"
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

/* Reads the runs, sorted by run_id for lookups; skipped ones go to skipped_runs. */
static int read_runs(sqlite3 *db, ms_sweep_data_t *out, int has_uninstrumented,
                     int has_usage, id_set_t *skipped_runs)
{
    sqlite3_stmt *st = NULL;
    char sql[512];
    size_t cap = 0;
    int s;

    /* With several sweeps rows only the first sweep's runs are read. */
    snprintf(sql, sizeof sql,
             "SELECT run_id, seq, status, %s, %s, %s FROM runs ORDER BY run_id",
             has_uninstrumented ? "uninstrumented" : "NULL",
             has_usage ? "maxrss_kb, maxrss_floor_kb" : "NULL, NULL",
             out->info.n_sweeps > 1
                 ? "sweep_id IS (SELECT sweep_id FROM sweeps ORDER BY sweep_id LIMIT 1)"
                 : "1");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        ms_run_mem_t *r;
        long long run_id, seq = 0;
        int ok_id = int_col(st, 0, INT64_MIN, INT64_MAX, &run_id) == V_OK;
        ms_bad_t why = MS_BAD_COUNT;

        if (sqlite3_column_int(st, 6) == 0)
            why = MS_BAD_RUN_OTHER_SWEEP;
        else if (!ok_id)
            why = MS_BAD_RUN_ID;
        else {
            switch (int_col(st, 1, INT64_MIN, INT64_MAX, &seq)) {
            case V_OK:
                break;
            case V_NULL:
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
        if (grow((void **)&out->runs, &cap, out->n_runs, sizeof *out->runs, 256) != 0)
            goto nomem;
        r = &out->runs[out->n_runs++];
        memset(r, 0, sizeof *r);
        r->run_id = run_id;
        r->seq = seq;
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

/* The nullable columns of later schema versions that the reader uses. */
typedef struct optional_cols {
    int tracking, dropped, dropped_rate, dropped_queue; /* version 2 */
    int stack_id, stacks;                               /* version 2 */
    int uninstrumented, unstored, note;                 /* version 3 */
    int maxrss, maxrss_floor;                           /* version 4 */
    int hostname, reserve_mb, safety_factor;            /* of every version, looked up */
    int mem_source, host_mem_total, cpus;               /* version 4 */
} optional_cols_t;

static int find_optional(sqlite3 *db, optional_cols_t *c)
{
    if (has_column(db, "processes", "alloc_tracking", &c->tracking) != 0 ||
        has_column(db, "processes", "alloc_dropped", &c->dropped) != 0 ||
        has_column(db, "processes", "alloc_dropped_rate", &c->dropped_rate) != 0 ||
        has_column(db, "processes", "alloc_dropped_queue", &c->dropped_queue) != 0 ||
        has_column(db, "samples", "stack_id", &c->stack_id) != 0 ||
        has_column(db, "stacks", "frames", &c->stacks) != 0 ||
        has_column(db, "runs", "uninstrumented", &c->uninstrumented) != 0 ||
        has_column(db, "processes", "unstored", &c->unstored) != 0 ||
        has_column(db, "processes", "note", &c->note) != 0 ||
        has_column(db, "runs", "maxrss_kb", &c->maxrss) != 0 ||
        has_column(db, "runs", "maxrss_floor_kb", &c->maxrss_floor) != 0 ||
        has_column(db, "sweeps", "hostname", &c->hostname) != 0 ||
        has_column(db, "sweeps", "reserve_mb", &c->reserve_mb) != 0 ||
        has_column(db, "sweeps", "safety_factor", &c->safety_factor) != 0 ||
        has_column(db, "sweeps", "mem_source", &c->mem_source) != 0 ||
        has_column(db, "sweeps", "host_mem_total_kb", &c->host_mem_total) != 0 ||
        has_column(db, "sweeps", "cpus", &c->cpus) != 0)
        return -EIO;
    return 0;
}

/*
 * Checks one processes row (columns as read_processes selects them) into *p. Returns
 * MS_BAD_COUNT when the row is usable, else the reason to skip it.
 */
static ms_bad_t check_process(sqlite3_stmt *st, const ms_sweep_data_t *out,
                              const id_set_t *skipped_runs, proc_fold_t *p, size_t *bad)
{
    long long v;
    size_t ri;
    int present_total, present;

    memset(p, 0, sizeof *p);
    if (int_col(st, 0, INT64_MIN, INT64_MAX, &v) != V_OK)
        return MS_BAD_PROC_ID;
    p->proc_id = v;
    if (int_col(st, 1, INT64_MIN, INT64_MAX, &v) != V_OK)
        return MS_BAD_PROC_RUN;
    ri = find_run(out->runs, out->n_runs, v);
    if (ri == SIZE_MAX)
        return id_set_has(skipped_runs, v) ? MS_BAD_PROC_RUN_SKIPPED : MS_BAD_PROC_NO_RUN;
    p->run_index = ri;
    switch (int_col(st, 2, INT64_MIN, INT64_MAX, &v)) {
    case V_OK:
        p->pid = v;
        break;
    case V_NULL:
        return MS_BAD_PROC_PID_NULL;
    default:
        return MS_BAD_PROC_PID;
    }
    switch (int_col(st, 3, 0, MS_NS_LIMIT - 1, &v)) {
    case V_OK:
        p->started_ns = v;
        break;
    case V_NULL:
        return MS_BAD_PROC_START_NULL;
    case V_TYPE:
        return MS_BAD_PROC_START;
    case V_LOW:
        return MS_BAD_PROC_START_EARLY;
    case V_HIGH:
        return MS_BAD_PROC_START_LATE;
    }
    /* From here on a bad value is ignored, not a reason to skip the process. */
    switch (int_col(st, 4, 0, MS_NS_LIMIT - 1, &v)) {
    case V_OK:
        if (v < p->started_ns) {
            bad[MS_BAD_PROC_END_BEFORE_START]++;
        } else {
            p->have_ended = 1;
            p->ended_ns = v;
        }
        break;
    case V_NULL:
        break;
    case V_TYPE:
        bad[MS_BAD_PROC_END]++;
        break;
    case V_LOW:
    case V_HIGH:
        bad[MS_BAD_PROC_END_RANGE]++;
        break;
    }
    switch (int_col(st, 5, 0, MS_KB_LIMIT, &v)) {
    case V_OK:
        p->col_hwm_kb = (unsigned long long)v;
        break;
    case V_NULL:
        break;
    case V_TYPE:
        bad[MS_BAD_PROC_HWM]++;
        break;
    case V_LOW:
    case V_HIGH:
        bad[MS_BAD_PROC_HWM_RANGE]++;
        break;
    }
    p->tracking = MS_TRACKING_UNKNOWN;
    switch (int_col(st, 6, INT64_MIN, INT64_MAX, &v)) {
    case V_OK:
        p->tracking = v != 0 ? MS_TRACKING_ON : MS_TRACKING_OFF;
        break;
    case V_NULL:
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
static int read_processes(sqlite3 *db, ms_sweep_data_t *out, const optional_cols_t *oc,
                          const id_set_t *skipped_runs, proc_fold_t **procs_out,
                          size_t *n_out, id_set_t *skipped_procs)
{
    sqlite3_stmt *st = NULL;
    proc_fold_t *procs = NULL;
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
        proc_fold_t p;
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
        if (grow((void **)&procs, &cap, n, sizeof *procs, 256) != 0) {
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

/* Folds one usable sample into its process. */
static void fold_sample(proc_fold_t *p, const sample_row_t *s)
{
    const int64_t t = s->t;
    const unsigned long long rss = s->rss;

    if (p->n_samples > 0 && t <= p->last_t)
        p->recheck = 1;
    if (p->n_samples == 0 || t < p->first_t)
        p->first_t = t;
    if (p->n_samples == 0 || t >= p->last_t) {
        p->last_t = t;
        p->last_rss = rss;
    }
    p->n_samples++;
    p->max_rss = umax(p->max_rss, rss);
    if (s->hwm > 0)
        p->max_hwm = umax(p->max_hwm, (unsigned long long)s->hwm);
    p->kinds[s->kind]++;
    if (s->kind == MS_SAMPLE_TICK || s->kind == MS_SAMPLE_RELEASE)
        note_tail(p, t, rss);
    if (s->kind == MS_SAMPLE_TICK && (p->kinds[s->kind] == 1 || t >= p->last_tick_t)) {
        p->last_tick_t = t;
        p->last_tick_rss = rss;
        p->tail_release_rss = 0;
    } else if (s->kind == MS_SAMPLE_RELEASE &&
               (p->kinds[MS_SAMPLE_TICK] == 0 || t >= p->last_tick_t)) {
        /* The shim writes a release after the tick it followed, never before. */
        p->tail_release_rss = umax(p->tail_release_rss, rss);
    } else if (s->kind == MS_SAMPLE_END && (!p->have_end_sample || t >= p->end_t)) {
        p->have_end_sample = 1;
        p->end_t = t;
        p->end_rss = rss;
    }
    if (ms_sample_kind_is_periodic(s->kind)) {
        p->max_rss_periodic = umax(p->max_rss_periodic, rss);
    } else if (s->have_stack && ms_sample_kind_is_alloc(s->kind) &&
               (!p->have_stack || rss > p->stack_rss || (rss == p->stack_rss && t < p->stack_t))) {
        p->have_stack = 1;
        p->stack_kind = s->kind;
        p->stack_id = s->stack_id;
        p->stack_rss = rss;
        p->stack_t = t;
    }
}

/* The one sequential scan of every sample, folded per process. */
static int scan_samples(sqlite3 *db, int read_stacks, proc_fold_t *procs, size_t n_procs,
                        const id_set_t *skipped_procs, size_t *bad)
{
    sqlite3_stmt *st = NULL;
    proc_fold_t *last = NULL;
    char sql[128];
    int s;

    snprintf(sql, sizeof sql, "SELECT proc_id, t_ns, rss_kb, hwm_kb, kind%s FROM samples",
             read_stacks ? ", stack_id" : "");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        long long proc_id;
        sample_row_t row;
        ms_bad_t why;
        proc_fold_t *p;

        if (int_col(st, 0, INT64_MIN, INT64_MAX, &proc_id) != V_OK) {
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
        if (why != MS_BAD_COUNT) {
            bad[why]++;
            continue;
        }
        fold_sample(p, &row);
    }
    sqlite3_finalize(st);
    return s == SQLITE_DONE ? 0 : -EIO;
}

/* Whether the database has any stack, so that the scan reads stack_id at all. */
static int any_stack(sqlite3 *db, int *found)
{
    sqlite3_stmt *st = NULL;
    int rc = -EIO;

    *found = 0;
    if (sqlite3_prepare_v2(db, "SELECT EXISTS (SELECT 1 FROM stacks)", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        *found = sqlite3_column_int(st, 0) != 0;
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

/*
 * The kernel VmHWM view of a run (count processes, from order): the largest sum of VmHWM
 * over its processes alive at one moment. A process lives from its start to its recorded
 * exit, or to the start of the image it exec'd into; one without an exit record was seen
 * last at its last sample but may have lived on, so it counts as alive until the last
 * moment anything of the run was seen (run_end), which keeps the figure an upper bound.
 */
static void hwm_bound(const proc_fold_t *procs, const proc_order_t *order, size_t count,
                      int64_t run_end, ms_hwm_span_t *spans, ms_run_peaks_t *r)
{
    size_t n = 0;

    for (size_t k = 0; k < count; k++) {
        const proc_fold_t *p = &procs[order[k].fold];
        const unsigned long long hwm = umax(p->max_hwm, p->col_hwm_kb);
        const int recorded = p->have_ended || p->have_end_sample || p->execd;
        if (p->n_samples == 0 || hwm == 0)
            continue;
        spans[n].start_ns = p->started_ns < p->first_t ? p->started_ns : p->first_t;
        spans[n].end_ns = recorded || p->eff_end_ns > run_end ? p->eff_end_ns : run_end;
        if (spans[n].end_ns < spans[n].start_ns)
            spans[n].end_ns = spans[n].start_ns;
        spans[n].hwm_kb = hwm;
        n++;
    }
    r->hwm_sum_kb = ms_hwm_concurrent(spans, n, &r->hwm_alive);
}

/*
 * Reduces the processes of every run: effective ends (exec successors), abnormal ends,
 * duplicates, then each run's peak, end and views.
 */
static int reduce_runs(sqlite3 *db, ms_sweep_data_t *out, proc_fold_t *procs, size_t n_procs)
{
    sqlite3_stmt *st_ps = NULL;
    proc_order_t *order = NULL;
    pid_order_t *by_pid = NULL;
    ms_hwm_span_t *spans = NULL;
    /* interval_ms is at most MS_MAX_INTERVAL_MS here, so this cannot overflow. */
    const int64_t exec_slack_ns = (int64_t)out->info.interval_ms * 1000000LL + 1000000000LL;
    int rc = 0;

    order = malloc((n_procs ? n_procs : 1) * sizeof *order);
    by_pid = malloc((n_procs ? n_procs : 1) * sizeof *by_pid);
    spans = malloc((n_procs ? n_procs : 1) * sizeof *spans);
    if (order == NULL || by_pid == NULL || spans == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (sqlite3_prepare_v2(db,
                           "SELECT proc_id, t_ns, rss_kb, hwm_kb, kind FROM samples"
                           " WHERE proc_id = ? ORDER BY t_ns",
                           -1, &st_ps, NULL) != SQLITE_OK) {
        rc = -EIO;
        goto out;
    }
    for (size_t i = 0; i < n_procs; i++) {
        if (procs[i].recheck && (rc = drop_duplicates(st_ps, &procs[i], out->report.bad)) != 0)
            goto out;
        order[i].run_index = procs[i].run_index;
        order[i].started_ns = procs[i].started_ns;
        order[i].proc_id = procs[i].proc_id;
        order[i].fold = i;
    }
    if (n_procs > 1)
        qsort(order, n_procs, sizeof *order, cmp_order);

    for (size_t i = 0; i < n_procs;) {
        const size_t ri = order[i].run_index;
        ms_run_mem_t *run = &out->runs[ri];
        size_t j = i;
        int overlap = 0;
        int64_t max_end = INT64_MIN;

        while (j < n_procs && order[j].run_index == ri)
            j++;
        run->first_proc = procs[order[i].fold].proc_id;
        run->main_pid = procs[order[i].fold].pid;

        /*
         * Effective end of each process: its recorded exit; else the start of the image it
         * exec'd into (the next row of the same pid, starting within one sampling interval
         * and a grace second of its last sample: a later row of the same pid is a reused
         * pid, not an exec); else its last sample.
         */
        for (size_t k = i; k < j; k++) {
            proc_fold_t *p = &procs[order[k].fold];
            p->eff_end_ns = p->have_ended ? p->ended_ns
                                          : (p->n_samples ? p->last_t : p->started_ns);
            by_pid[k - i].pid = p->pid;
            by_pid[k - i].started_ns = p->started_ns;
            by_pid[k - i].fold = order[k].fold;
        }
        if (j - i > 1)
            qsort(by_pid, j - i, sizeof *by_pid, cmp_pid_start);
        for (size_t k = 0; k + 1 < j - i; k++) {
            proc_fold_t *p = &procs[by_pid[k].fold];
            const proc_fold_t *q = &procs[by_pid[k + 1].fold];
            const int64_t reach = (p->n_samples ? p->last_t : p->started_ns) + exec_slack_ns;
            if (!p->have_ended && q->pid == p->pid && q->started_ns >= p->started_ns &&
                q->started_ns <= reach) {
                p->eff_end_ns = q->started_ns;
                p->execd = 1;
            }
        }
        for (size_t k = i; k < j; k++) {
            proc_fold_t *p = &procs[order[k].fold];
            if (p->n_samples && p->last_t > p->eff_end_ns)
                p->eff_end_ns = p->last_t;
            /* No exit path ran: killed by a signal, crashed, a raw exit system call, or its
             * shim stopped. For the first row's pid the run's status may say which. */
            if (!p->have_ended && !p->have_end_sample && !p->execd) {
                run->ended_abnormally++;
                if (p->pid == procs[order[i].fold].pid)
                    run->main_no_exit = p->proc_id;
            }
            run->unstored = sat_add(run->unstored, p->unstored);
            if (p->has_note)
                run->unstored_failed = sat_add(run->unstored_failed, p->unstored);
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
        run->peaks.overlap = overlap;
        if (run->n_samples > 0) {
            if (overlap) {
                rc = merge_run(st_ps, procs, &order[i], j - i, run);
                if (rc != 0)
                    goto out;
            } else {
                /* One process alive at a time: the end is the largest exit RSS. */
                for (size_t k = i; k < j; k++) {
                    const proc_fold_t *p = &procs[order[k].fold];
                    if (p->n_samples == 0)
                        continue;
                    run->end_kb = umax(run->end_kb, exit_rss(p));
                }
            }
            /*
             * The advisory's peak: never below the largest single process's VmHWM, nor
             * below the kernel's ru_maxrss of the run's main process and what it reaped.
             */
            run->peak_kb = ms_run_peaks_best_kb(&run->peaks);
            hwm_bound(procs, &order[i], j - i, max_end, spans, &run->peaks);
        }
        i = j;
    }
out:
    sqlite3_finalize(st_ps);
    free(order);
    free(by_pid);
    free(spans);
    return rc;
}

/* The report's per-sweep figures, from the runs in seq order. */
static void fill_report(ms_sweep_data_t *out)
{
    ms_db_report_t *rep = &out->report;

    for (size_t i = 0; i < out->n_runs; i++) {
        const ms_run_mem_t *r = &out->runs[i];
        if (!ms_run_measured(r))
            ms_tally_add(&rep->excluded, r->not_measured ? r->not_measured_kind
                                                         : "no memory sample");
        if (!r->status_known)
            ms_tally_add(&rep->unknown_status, r->status);
        rep->unstored = sat_add(rep->unstored, r->unstored);
        rep->unstored_failed = sat_add(rep->unstored_failed, r->unstored_failed);
        rep->ended_abnormally += r->ended_abnormally;
        if (strcmp(r->status, MS_STATUS_RUNNING) == 0)
            rep->ended_abnormally_running += r->ended_abnormally;
    }
    if (rep->unstored > (unsigned long long)INT64_MAX)
        rep->unstored = (unsigned long long)INT64_MAX;
    if (rep->unstored_failed > rep->unstored)
        rep->unstored_failed = rep->unstored;
}

/* How messages name the database: as the caller does, else by SQLite's file name. */
static const char *db_name(sqlite3 *db, const char *name)
{
    const char *file;

    if (name != NULL)
        return name;
    file = sqlite3_db_filename(db, "main");
    return file != NULL && file[0] != '\0' ? file : "(in memory)";
}

int ms_sweep_read(sqlite3 *db, const char *name, ms_sweep_data_t *out, char *err, size_t errlen)
{
    proc_fold_t *procs = NULL;
    size_t n_procs = 0;
    id_set_t skipped_runs = {0}, skipped_procs = {0};
    optional_cols_t oc;
    const char *path = db_name(db, name);
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

    rc = check_required(db, path, err, errlen);
    if (rc == -EIO)
        goto sql_error;
    if (rc != 0)
        goto out;
    if (find_optional(db, &oc) != 0)
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

    rc = read_runs(db, out, oc.uninstrumented, oc.maxrss && oc.maxrss_floor, &skipped_runs);
    if (rc == -EIO)
        goto sql_error;
    if (rc != 0)
        goto nomem;

    /* Reading a column costs on every one of millions of samples: stack_id is read only
     * when some stack was recorded at all. */
    if (oc.stack_id && oc.stacks && any_stack(db, &read_stacks) != 0)
        goto sql_error;

    rc = read_processes(db, out, &oc, &skipped_runs, &procs, &n_procs, &skipped_procs);
    if (rc == -EIO)
        goto sql_error;
    if (rc != 0)
        goto nomem;

    tail_bucket_ns = (int64_t)(out->info.interval_ms > 0 ? out->info.interval_ms
                                                         : MS_DEFAULT_INTERVAL_MS) * 1000000;
    rc = scan_samples(db, read_stacks, procs, n_procs, &skipped_procs, out->report.bad);
    if (rc != 0)
        goto sql_error;

    rc = reduce_runs(db, out, procs, n_procs);
    if (rc == -EIO)
        goto sql_error;
    if (rc != 0)
        goto nomem;

    if (out->n_runs > 1)
        qsort(out->runs, out->n_runs, sizeof *out->runs, cmp_run_seq);
    fill_report(out);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    in_tx = 0;
    goto out;

nomem:
    rc = -ENOMEM;
    ms_set_err(err, errlen, "%s: %s", path, strerror(ENOMEM));
    goto out;
sql_error:
    rc = -EIO;
    db_error(db, path, err, errlen);
out:
    if (in_tx)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    free(procs);
    free(skipped_runs.v);
    free(skipped_procs.v);
    if (rc != 0)
        ms_sweep_free(out);
    return rc;
}

void ms_sweep_peak_summary(const ms_sweep_data_t *d, ms_peak_summary_t *out)
{
    ms_peak_summary_init(out);
    for (size_t i = 0; i < d->n_runs; i++)
        if (ms_run_measured(&d->runs[i]))
            ms_peak_summary_add(out, d->runs[i].seq, &d->runs[i].peaks);
}

int ms_sweep_texts_open(sqlite3 *db, const char *name, ms_sweep_texts_t *t, char *err,
                        size_t errlen)
{
    int has_stacks = 0, has_label = 0, has_note = 0, has_reason = 0;
    int has_command = 0, has_exit = 0, has_signal = 0, has_cmdline = 0;

    memset(t, 0, sizeof *t);
    /* Schema version 1 has no stacks table, version 2 no note column; those texts are
     * then never found, as a damaged database's missing label column gives no labels. */
    if (has_column(db, "stacks", "frames", &has_stacks) != 0 ||
        has_column(db, "runs", "label", &has_label) != 0 ||
        has_column(db, "processes", "note", &has_note) != 0 ||
        has_column(db, "runs", "uninstrumented", &has_reason) != 0 ||
        has_column(db, "runs", "command", &has_command) != 0 ||
        has_column(db, "runs", "exit_code", &has_exit) != 0 ||
        has_column(db, "runs", "term_signal", &has_signal) != 0 ||
        has_column(db, "processes", "cmdline", &has_cmdline) != 0)
        goto sql_error;
    if (has_command && has_exit && has_signal && has_cmdline &&
        sqlite3_prepare_v2(db,
                           "SELECT r.exit_code, r.term_signal, CAST(p.cmdline AS BLOB),"
                           " CAST(r.command AS BLOB)"
                           " FROM runs r JOIN processes p ON p.run_id = r.run_id"
                           " WHERE r.run_id = ?1 AND p.proc_id = ?2",
                           -1, &t->main_end, NULL) != SQLITE_OK)
        goto sql_error;
    if (has_label && sqlite3_prepare_v2(db, "SELECT label FROM runs WHERE run_id = ?", -1,
                                        &t->label, NULL) != SQLITE_OK)
        goto sql_error;
    if (has_stacks && sqlite3_prepare_v2(db, "SELECT frames FROM stacks WHERE stack_id = ?", -1,
                                         &t->frames, NULL) != SQLITE_OK)
        goto sql_error;
    if (has_reason && sqlite3_prepare_v2(db, "SELECT uninstrumented FROM runs WHERE run_id = ?",
                                         -1, &t->reason, NULL) != SQLITE_OK)
        goto sql_error;
    if (has_note &&
        sqlite3_prepare_v2(db,
                           /* With min(), SQLite takes pid from the row that has it. */
                           "SELECT note, count(*), pid, min(proc_id) FROM processes"
                           " WHERE run_id = ? AND note IS NOT NULL AND note <> ''"
                           " GROUP BY note ORDER BY min(proc_id), note",
                           -1, &t->notes, NULL) != SQLITE_OK)
        goto sql_error;
    return 0;
sql_error:
    db_error(db, db_name(db, name), err, errlen);
    ms_sweep_texts_close(t);
    return -EIO;
}

void ms_sweep_texts_close(ms_sweep_texts_t *t)
{
    sqlite3_finalize(t->label);
    sqlite3_finalize(t->frames);
    sqlite3_finalize(t->notes);
    sqlite3_finalize(t->reason);
    sqlite3_finalize(t->main_end);
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

int ms_sweep_run_reason(ms_sweep_texts_t *t, long long run_id, char **reason)
{
    return lookup_text(t->reason, run_id, reason);
}

/*
 * Whether a process's command line (cmdline, clen bytes: its arguments joined by spaces) is
 * that of the program the launcher started for a run whose command is command (mlen
 * bytes): the command itself (COMMAND's arguments, or env and its program), "sh -c" and
 * the line (--commands), or the command after the interpreter the kernel runs for a "#!"
 * script: an absolute path and at most one argument ("/usr/bin/python3 ./train.py").
 * Anything else is not taken for the main process: its status must not be lent to a
 * child. A command line cut at the shim's limit never matches.
 */
static int is_launched_cmdline(const unsigned char *cmdline, size_t clen,
                               const unsigned char *command, size_t mlen)
{
    static const char sh_c[] = "sh -c ";
    size_t plen, blanks = 0;

    if (cmdline == NULL || command == NULL || mlen == 0 || clen < mlen ||
        memcmp(cmdline + clen - mlen, command, mlen) != 0)
        return 0;
    if (clen == mlen)
        return 1;
    /* The prefix before the command, its separating blank included. */
    plen = clen - mlen;
    if (cmdline[plen - 1] != ' ')
        return 0;
    if (plen == sizeof sh_c - 1 && memcmp(cmdline, sh_c, plen) == 0)
        return 1;
    if (cmdline[0] != '/')
        return 0;
    for (size_t i = 0; i < plen - 1; i++)
        blanks += cmdline[i] == ' ';
    return blanks <= 1;
}

int ms_sweep_main_end(ms_sweep_texts_t *t, const ms_run_mem_t *r, ms_main_end_t *out,
                      int *known)
{
    long long v;
    int s;

    *known = 0;
    memset(out, 0, sizeof *out);
    if (t->main_end == NULL || r->main_no_exit == 0 || r->first_proc == 0)
        return 0;
    sqlite3_reset(t->main_end);
    sqlite3_bind_int64(t->main_end, 1, r->run_id);
    sqlite3_bind_int64(t->main_end, 2, r->first_proc);
    s = sqlite3_step(t->main_end);
    if (s == SQLITE_ROW &&
        is_launched_cmdline(sqlite3_column_blob(t->main_end, 2),
                            (size_t)sqlite3_column_bytes(t->main_end, 2),
                            sqlite3_column_blob(t->main_end, 3),
                            (size_t)sqlite3_column_bytes(t->main_end, 3))) {
        out->pid = r->main_pid;
        /* What wait() gave: a signal number, or an exit status; anything else says nothing. */
        if (int_col(t->main_end, 1, 1, 64, &v) == V_OK) {
            out->have_signal = 1;
            out->signal = (int)v;
            *known = 1;
        } else if (int_col(t->main_end, 0, 0, 255, &v) == V_OK) {
            out->exit_code = (int)v;
            *known = 1;
        }
    }
    sqlite3_reset(t->main_end);
    return s == SQLITE_ROW || s == SQLITE_DONE ? 0 : -EIO;
}

int ms_sweep_run_notes(ms_sweep_texts_t *t, long long run_id, ms_proc_note_t *notes, size_t max,
                       size_t *n, size_t *more)
{
    int s, rc = 0;

    *n = 0;
    *more = 0;
    if (t->notes == NULL)
        return 0;
    sqlite3_reset(t->notes);
    sqlite3_bind_int64(t->notes, 1, run_id);
    while ((s = sqlite3_step(t->notes)) == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(t->notes, 0);
        ms_proc_note_t *note;
        if (text == NULL || text[0] == '\0')
            continue; /* a blob that starts with a NUL byte */
        if (*n == max) {
            (*more)++;
            continue;
        }
        note = &notes[*n];
        note->text = strdup((const char *)text);
        if (note->text == NULL) {
            rc = -ENOMEM;
            break;
        }
        note->processes = (size_t)sqlite3_column_int64(t->notes, 1);
        note->pid = sqlite3_column_int64(t->notes, 2);
        (*n)++;
    }
    if (rc == 0 && s != SQLITE_DONE)
        rc = -EIO;
    sqlite3_reset(t->notes);
    if (rc != 0) {
        ms_sweep_notes_free(notes, *n);
        *n = 0;
        *more = 0;
    }
    return rc;
}

void ms_sweep_notes_free(ms_proc_note_t *notes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(notes[i].text);
        notes[i].text = NULL;
    }
}

void ms_advise_opts_init(ms_advise_opts_t *o)
{
    o->mem_total_mb = -1;
    o->reserve_mb = -1;
    o->safety_factor = MS_DEFAULT_SAFETY_FACTOR;
}

/*
 * The machine of the advice: the recorded one, or a whole machine of --mem-total-mb; the
 * reserve of --reserve-mb, else the recorded one, else the rule's for the source.
 */
static void advise_machine(const ms_sweep_info_t *in, const ms_advise_opts_t *o, ms_machine_t *m)
{
    ms_reserve_rule_t rule;
    long long reserve;

    if (o->mem_total_mb >= 0) {
        if (o->reserve_mb >= 0) {
            reserve = o->reserve_mb;
            rule = MS_RESERVE_RULE_OPTION;
        } else {
            reserve = MS_DEFAULT_RESERVE_MB;
            rule = MS_RESERVE_RULE_MACHINE;
        }
        ms_machine_init(m, 1, (unsigned long long)o->mem_total_mb * 1024ULL, reserve,
                        o->safety_factor);
        /* Another machine's: the recorded one's MemTotal is not its own. */
        ms_machine_describe(m, MS_MEM_SOURCE_OPTION, 0, 0, rule, in->cpus);
        return;
    }
    {
        const long long total_mb = in->have_mem_total ? (long long)(in->mem_total_kb / 1024ULL)
                                                      : 0;
        if (o->reserve_mb >= 0) {
            reserve = o->reserve_mb;
            rule = MS_RESERVE_RULE_OPTION;
        } else if (in->have_reserve) {
            reserve = in->reserve_mb;
            rule = ms_reserve_rule_of(in->mem_source, total_mb, reserve);
        } else if (ms_mem_source_is_limit(in->mem_source)) {
            reserve = ms_limit_reserve_mb(total_mb);
            rule = MS_RESERVE_RULE_LIMIT;
        } else {
            reserve = MS_DEFAULT_RESERVE_MB;
            rule = MS_RESERVE_RULE_MACHINE;
        }
    }
    ms_machine_init(m, in->have_mem_total, in->mem_total_kb, reserve, o->safety_factor);
    ms_machine_describe(m, in->mem_source, in->have_host_mem_total, in->host_mem_total_kb, rule,
                        in->cpus);
}

int ms_sweep_advise(const ms_sweep_data_t *d, const ms_advise_opts_t *o, ms_advisory_t *out)
{
    ms_machine_t m;
    ms_run_counts_t counts;
    ms_divergence_t div;
    double *end_mb = NULL, *peak_mb = NULL;
    size_t n = 0;

    memset(&counts, 0, sizeof counts);
    ms_divergence_init(&div);
    advise_machine(&d->info, o, &m);

    end_mb = malloc((d->n_runs ? d->n_runs : 1) * sizeof *end_mb);
    peak_mb = malloc((d->n_runs ? d->n_runs : 1) * sizeof *peak_mb);
    if (end_mb == NULL || peak_mb == NULL) {
        free(end_mb);
        free(peak_mb);
        return -ENOMEM;
    }
    counts.total = d->n_runs;
    counts.unfinished = d->info.unfinished;
    for (size_t i = 0; i < d->n_runs; i++) {
        const ms_run_mem_t *r = &d->runs[i];
        const int running = strcmp(r->status, MS_STATUS_RUNNING) == 0;
        const int stopped = strcmp(r->status, MS_STATUS_INTERRUPTED) == 0 ||
                            strcmp(r->status, MS_STATUS_TIMEOUT) == 0;

        /* An unknown status is not ok either; a run still running has not failed. */
        if (running)
            counts.running++;
        else if (strcmp(r->status, MS_STATUS_OK) != 0)
            counts.failed++;
        if (!ms_run_measured(r)) {
            counts.excluded++;
            continue;
        }
        /*
         * A run stopped by the user or by --timeout did not show what it needs to
         * finish, nor does a run of an unfinished sweep that is still running: left out,
         * with the largest peak such a run reached so far (a lower bound).
         */
        if (stopped || (running && d->info.unfinished)) {
            const double peak = (double)r->peak_kb / 1024.0;
            if (stopped)
                counts.stopped++;
            else
                counts.unfinished_runs++;
            if (!counts.have_left_out_peak || peak > counts.left_out_peak_mb) {
                counts.have_left_out_peak = 1;
                counts.left_out_peak_mb = peak;
                counts.left_out_peak_seq = r->seq;
            }
            continue;
        }
        counts.included++;
        end_mb[n] = (double)r->end_kb / 1024.0;
        peak_mb[n] = (double)r->peak_kb / 1024.0;
        n++;
        ms_divergence_add(&div, r->seq, r->peak_kb, r->end_kb);
    }
    ms_advisory_compute(&m, &counts, end_mb, n, peak_mb, n, out);
    out->divergence = div;
    out->have_divergence = 1;
    ms_sweep_peak_summary(d, &out->peaks);
    out->have_peak_summary = 1;
    out->report = d->report;
    out->have_report = 1;
    free(end_mb);
    free(peak_mb);
    return 0;
}

int ms_advise_db(const char *db_path, const ms_advise_opts_t *opts, ms_advisory_t *out,
                 char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    ms_sweep_data_t d;
    ms_advise_opts_t o;
    int rc;

    rc = ms_sweep_open(db_path, &db, err, errlen);
    if (rc != 0)
        return rc;
    rc = ms_sweep_read(db, db_path, &d, err, errlen);
    sqlite3_close(db);
    if (rc != 0)
        return rc;
    if (opts != NULL)
        o = *opts;
    else
        ms_advise_opts_init(&o);
    rc = ms_sweep_advise(&d, &o, out);
    if (rc != 0)
        ms_set_err(err, errlen, "%s: %s", db_path, strerror(-rc));
    ms_sweep_free(&d);
    return rc;
}
