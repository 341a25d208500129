/*
 * The per-process fold of samples and the reduction of each run to its end and peak RSS,
 * and to the three views of its peak that `memsweep peaks` compares (peaks.h). Pure: the
 * rows come decoded and checked (sweepdecode.c), so nothing here reads a database.
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
 * Samples are folded into per-process figures in any order: for every sample, and
 * separately for the periodic ones (start, tick, end), so that the periodic and
 * all-samples peaks come out of the same pass. Only runs whose processes overlap in time
 * need a time-ordered merge of their samples, one run at a time, which keeps memory
 * bounded by the largest run rather than by the database. The merge keeps two running
 * sums, one over all samples and one over the periodic ones.
 */
#include "sweepfold.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "memsweep/defaults.h"
#include "memsweep/schema.h"

/* One event of a time-ordered merge: a sample of a process, or its exit. */
typedef struct merge_event {
    int64_t t;
    size_t proc;   /* index into the run's process list */
    size_t order;  /* position of reading, which breaks ties of time and process */
    int is_exit;
    int periodic;  /* a start, tick or end sample */
    unsigned long long rss;
    unsigned long long shared; /* the pages of rss counted in another process (see below) */
} merge_event_t;

static unsigned long long umax(unsigned long long a, unsigned long long b)
{
    return a > b ? a : b;
}

/* a + b, held at ULLONG_MAX instead of wrapping (sums of many plausible figures). */
static unsigned long long sat_add(unsigned long long a, unsigned long long b)
{
    return a > ~0ULL - b ? ~0ULL : a + b;
}

/* Width of the buckets of tail_rss: the sweep's sampling interval. */
static int64_t bucket_ns_of(long long interval_ms)
{
    return (int64_t)(interval_ms > 0 ? interval_ms : MS_DEFAULT_INTERVAL_MS) * 1000000;
}

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
    const ms__proc_order_t *x = a, *y = b;
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
    const ms__sample_row_t *x = a, *y = b;
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

/*
 * A process's RSS at its exit, as the end RSS counts it: after a recorded exit, the largest
 * of the end sample, the last tick, the release samples since that tick, and the tick and
 * release samples of the interval that holds the end and of the one before it. Teardown
 * only ever shrinks a process, and a slow one (or a busy machine) can span a tick: the
 * ticks show what it held while working, a release sample during teardown what it held
 * just before a large free. Without a recorded exit (a kill, a crash, exec), its last
 * sample.
 */
static unsigned long long exit_rss(const ms__proc_fold_t *p, int64_t bucket_ns)
{
    unsigned long long rss;
    int64_t end_bucket;

    if (!p->have_end_sample)
        return p->last_rss;
    rss = umax(p->end_rss, p->tail_release_rss);
    if (p->kinds[MS_SAMPLE_TICK] > 0 && p->last_tick_t <= p->end_t)
        rss = umax(rss, p->last_tick_rss);
    end_bucket = p->end_t / bucket_ns;
    for (int i = 0; i < 2; i++) {
        if (p->tail_rss[i] > 0 && p->tail_bucket[i] <= end_bucket &&
            p->tail_bucket[i] >= end_bucket - 1)
            rss = umax(rss, p->tail_rss[i]);
    }
    return rss;
}

/* Counts a tick or release sample into the latest two buckets of tail_rss. */
static void note_tail(ms__proc_fold_t *p, int64_t t, unsigned long long rss, int64_t bucket_ns)
{
    const int64_t b = t / bucket_ns;
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

int ms__grow(void **v, size_t *cap, size_t n, size_t sz, size_t first)
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

static int run_finish(const ms__proc_fold_t *procs, const ms__proc_order_t *order, size_t count,
                      ms_run_mem_t *run);

/*
 * The time-ordered merge for a run whose processes overlap. Each process's RSS is at most
 * MS_KB_LIMIT, so the sums are exact for up to 2^22 processes alive at once.
 */
/*
 * The pages a reading of a process shares with other processes, as its readings with PSS
 * say (their anonymous and shared-memory pages less their PSS, see sweepdecode.c): the larger of the figures of its nearest readings
 * with PSS before and after this one, 0 when it has none. Sharing starts at a fork and
 * ends as pages are written or a process exits, between two readings with PSS; taking
 * the larger errs towards counting a page less, never twice, unless sharing both began
 * and ended between two of them. shared[r] for rows[from] to rows[to - 1] (time order).
 */
static void shared_of_rows(const ms__sample_row_t *rows, size_t from, size_t to,
                           unsigned long long *shared, int *pss_used)
{
    unsigned long long x = 0;

    for (size_t r = from; r < to; r++) {
        if (rows[r].shared >= 0)
            x = (unsigned long long)rows[r].shared;
        shared[r - from] = x;
    }
    x = 0;
    for (size_t r = to; r-- > from;) {
        if (rows[r].shared >= 0)
            x = (unsigned long long)rows[r].shared;
        shared[r - from] = umax(shared[r - from], x);
        if (shared[r - from] > 0)
            *pss_used = 1;
    }
}

static unsigned long long share_of(unsigned long long rss, unsigned long long shared)
{
    return rss > shared ? rss - shared : 0;
}

int ms__run_merge(const ms__proc_fold_t *procs, const ms__proc_order_t *order, size_t count,
                  const ms__sample_row_t *rows, const size_t *first, long long interval_ms,
                  ms_run_mem_t *run)
{
    const int64_t bucket_ns = bucket_ns_of(interval_ms);
    merge_event_t *ev = NULL;
    unsigned long long *cur = NULL;     /* share of each process (RSS less shared), any kind */
    unsigned long long *cur_per = NULL; /* the same, periodic kinds */
    unsigned long long *raw = NULL;     /* latest RSS of each process, shared pages whole */
    unsigned long long *last_shared = NULL; /* of each process's latest reading */
    unsigned long long *shared = NULL;
    size_t n_ev = 0, cap = 0, shared_cap = 0;
    unsigned long long sum = 0, peak = 0, end = 0, raw_sum = 0, raw_peak = 0;
    unsigned long long sum_per = 0, peak_per = 0;
    int pss_used = 0;
    int rc = 0;

    cur = calloc(count, sizeof *cur);
    cur_per = calloc(count, sizeof *cur_per);
    raw = calloc(count, sizeof *raw);
    last_shared = calloc(count, sizeof *last_shared);
    if (cur == NULL || cur_per == NULL || raw == NULL || last_shared == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        const ms__proc_fold_t *p = &procs[order[i].fold];
        const size_t n_rows = first[i + 1] - first[i];
        if (p->n_samples == 0)
            continue;
        if (n_rows > shared_cap) {
            unsigned long long *ns = realloc(shared, n_rows * sizeof *ns);
            if (ns == NULL) {
                rc = -ENOMEM;
                goto out;
            }
            shared = ns;
            shared_cap = n_rows;
        }
        shared_of_rows(rows, first[i], first[i + 1], shared, &pss_used);
        for (size_t r = first[i]; r < first[i + 1]; r++) {
            const ms__sample_row_t *s = &rows[r];
            if ((rc = ms__grow((void **)&ev, &cap, n_ev, sizeof *ev, 1024)) != 0)
                goto out;
            ev[n_ev].t = s->t;
            ev[n_ev].proc = i;
            ev[n_ev].order = n_ev;
            ev[n_ev].is_exit = 0;
            ev[n_ev].periodic = ms_sample_kind_is_periodic(s->kind);
            ev[n_ev].rss = s->rss;
            ev[n_ev].shared = shared[r - first[i]];
            n_ev++;
        }
        if ((rc = ms__grow((void **)&ev, &cap, n_ev, sizeof *ev, 1024)) != 0)
            goto out;
        ev[n_ev].t = p->eff_end_ns;
        ev[n_ev].proc = i;
        ev[n_ev].order = n_ev;
        ev[n_ev].is_exit = 1;
        ev[n_ev].periodic = 0;
        ev[n_ev].rss = 0;
        ev[n_ev].shared = 0;
        n_ev++;
    }
    if (n_ev > 1)
        qsort(ev, n_ev, sizeof *ev, cmp_event);
    for (size_t k = 0; k < n_ev; k++) {
        const merge_event_t *e = &ev[k];
        if (e->is_exit) {
            const unsigned long long exit_kb = exit_rss(&procs[order[e->proc].fold], bucket_ns);
            /* Its exit RSS, less what its latest reading shared. */
            end = umax(end, sum - cur[e->proc] + share_of(exit_kb, last_shared[e->proc]));
            sum -= cur[e->proc];
            cur[e->proc] = 0;
            raw_sum -= raw[e->proc];
            raw[e->proc] = 0;
            sum_per -= cur_per[e->proc];
            cur_per[e->proc] = 0;
        } else {
            const unsigned long long mine = share_of(e->rss, e->shared);
            sum = sum - cur[e->proc] + mine;
            cur[e->proc] = mine;
            last_shared[e->proc] = e->shared;
            peak = umax(peak, sum);
            raw_sum = raw_sum - raw[e->proc] + e->rss;
            raw[e->proc] = e->rss;
            raw_peak = umax(raw_peak, raw_sum);
            if (e->periodic) {
                sum_per = sum_per - cur_per[e->proc] + mine;
                cur_per[e->proc] = mine;
                peak_per = umax(peak_per, sum_per);
            }
        }
    }
    run->peaks.all_kb = umax(run->peaks.all_kb, peak);
    run->peaks.periodic_kb = umax(run->peaks.periodic_kb, peak_per);
    run->peaks.rss_sum_kb = umax(run->peaks.rss_sum_kb, raw_peak);
    run->peaks.pss_used = pss_used;
    run->end_kb = end;
    free(ev);
    ev = NULL;
    rc = run_finish(procs, order, count, run);
out:
    free(ev);
    free(cur);
    free(cur_per);
    free(raw);
    free(last_shared);
    free(shared);
    return rc;
}

void ms__fold_drop_duplicates(ms__proc_fold_t *p, ms__sample_row_t *v, size_t n, size_t *bad)
{
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
}

/*
 * Folds one process into its run's peak views: drop counts and tracking for every
 * process, sample figures for the processes that have samples.
 */
static void fold_proc_into_run(const ms__proc_fold_t *p, ms_run_peaks_t *r)
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
        /*
         * The kernel's peak of the whole image: VmHWM in its exit record, or in the exec
         * sample it took just before it was replaced, the last reading of its life.
         */
        if ((p->have_ended && p->col_hwm_kb > 0) ||
            (p->execd && p->exec_hwm > 0 && p->exec_t >= p->last_t))
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

void ms__fold_sample(ms__proc_fold_t *p, const ms__sample_row_t *s, long long interval_ms)
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
        note_tail(p, t, rss, bucket_ns_of(interval_ms));
    if (s->kind == MS_SAMPLE_TICK && (p->kinds[s->kind] == 1 || t >= p->last_tick_t)) {
        p->last_tick_t = t;
        p->last_tick_rss = rss;
        p->tail_release_rss = 0;
    } else if (s->kind == MS_SAMPLE_RELEASE &&
               (p->kinds[MS_SAMPLE_TICK] == 0 || t >= p->last_tick_t)) {
        /* The shim writes a release after the tick it followed, never before. */
        p->tail_release_rss = umax(p->tail_release_rss, rss);
    } else if (s->kind == MS_SAMPLE_EXEC && (p->kinds[s->kind] == 1 || t >= p->exec_t)) {
        p->exec_t = t;
        p->exec_hwm = s->hwm > 0 ? (unsigned long long)s->hwm : 0;
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

/*
 * The kernel VmHWM view of a run (count processes, from order): the largest sum of VmHWM
 * over its processes alive at one moment. A process lives from its start to its recorded
 * exit, or to the start of the image it exec'd into; one without an exit record was seen
 * last at its last sample but may have lived on, so it counts as alive until the last
 * moment anything of the run was seen (run_end), which keeps the figure an upper bound.
 */
static void hwm_bound(const ms__proc_fold_t *procs, const ms__proc_order_t *order, size_t count,
                      int64_t run_end, ms_hwm_span_t *spans, ms_run_peaks_t *r)
{
    size_t n = 0;

    for (size_t k = 0; k < count; k++) {
        const ms__proc_fold_t *p = &procs[order[k].fold];
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
 * The advisory's peak of a run whose end is known: never below the largest single
 * process's VmHWM, nor below the kernel's ru_maxrss of the run's main process and what
 * it reaped; then the kernel VmHWM view, bounded by the last moment anything of the run
 * was seen.
 */
static int run_finish(const ms__proc_fold_t *procs, const ms__proc_order_t *order, size_t count,
                      ms_run_mem_t *run)
{
    ms_hwm_span_t *spans = malloc((count ? count : 1) * sizeof *spans);
    int64_t max_end = INT64_MIN;

    if (spans == NULL)
        return -ENOMEM;
    for (size_t k = 0; k < count; k++) {
        const ms__proc_fold_t *p = &procs[order[k].fold];
        if (p->n_samples > 0 && p->eff_end_ns > max_end)
            max_end = p->eff_end_ns;
    }
    run->peak_kb = ms_run_peaks_best_kb(&run->peaks);
    hwm_bound(procs, order, count, max_end, spans, &run->peaks);
    free(spans);
    return 0;
}

int ms__fold_order(const ms__proc_fold_t *procs, size_t n, ms__proc_order_t **order)
{
    ms__proc_order_t *o = malloc((n ? n : 1) * sizeof *o);

    *order = o;
    if (o == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        o[i].run_index = procs[i].run_index;
        o[i].started_ns = procs[i].started_ns;
        o[i].proc_id = procs[i].proc_id;
        o[i].fold = i;
    }
    if (n > 1)
        qsort(o, n, sizeof *o, cmp_order);
    return 0;
}

int ms__run_reduce(ms__proc_fold_t *procs, const ms__proc_order_t *order, size_t count,
                   long long interval_ms, ms_run_mem_t *run)
{
    /* The reader passes at most MS_MAX_INTERVAL_MS, so this cannot overflow. */
    const int64_t exec_slack_ns = (int64_t)interval_ms * 1000000LL + 1000000000LL;
    pid_order_t *by_pid;
    int overlap = 0;
    int64_t max_end = INT64_MIN;

    if (count == 0)
        return 0;
    by_pid = malloc(count * sizeof *by_pid);
    if (by_pid == NULL)
        return -ENOMEM;
    run->first_proc = procs[order[0].fold].proc_id;
    run->main_pid = procs[order[0].fold].pid;

    /*
     * Effective end of each process: its recorded exit; else the start of the image it
     * exec'd into (the next row of the same pid, starting within one sampling interval
     * and a grace second of its last sample: a later row of the same pid is a reused
     * pid, not an exec); else its last sample.
     */
    for (size_t k = 0; k < count; k++) {
        ms__proc_fold_t *p = &procs[order[k].fold];
        p->eff_end_ns = p->have_ended ? p->ended_ns
                                      : (p->n_samples ? p->last_t : p->started_ns);
        by_pid[k].pid = p->pid;
        by_pid[k].started_ns = p->started_ns;
        by_pid[k].fold = order[k].fold;
    }
    if (count > 1)
        qsort(by_pid, count, sizeof *by_pid, cmp_pid_start);
    for (size_t k = 0; k + 1 < count; k++) {
        ms__proc_fold_t *p = &procs[by_pid[k].fold];
        const ms__proc_fold_t *q = &procs[by_pid[k + 1].fold];
        const int64_t reach = (p->n_samples ? p->last_t : p->started_ns) + exec_slack_ns;
        if (!p->have_ended && q->pid == p->pid && q->started_ns >= p->started_ns &&
            q->started_ns <= reach) {
            p->eff_end_ns = q->started_ns;
            p->execd = 1;
        }
    }
    free(by_pid);
    for (size_t k = 0; k < count; k++) {
        ms__proc_fold_t *p = &procs[order[k].fold];
        if (p->n_samples && p->last_t > p->eff_end_ns)
            p->eff_end_ns = p->last_t;
        /* No exit path ran: killed by a signal, crashed, a raw exit system call, or its
         * shim stopped. For the first row's pid the run's status may say which. */
        if (!p->have_ended && !p->have_end_sample && !p->execd) {
            run->ended_abnormally++;
            if (p->pid == procs[order[0].fold].pid)
                run->main_no_exit = p->proc_id;
        }
        run->unstored = sat_add(run->unstored, p->unstored);
        if (p->has_note)
            run->unstored_failed = sat_add(run->unstored_failed, p->unstored);
    }
    for (size_t k = 0; k < count; k++) {
        const ms__proc_fold_t *p = &procs[order[k].fold];
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
    if (run->n_samples == 0)
        return 0;
    if (overlap)
        return 1;
    /* One process alive at a time: the end is the largest exit RSS. */
    for (size_t k = 0; k < count; k++) {
        const ms__proc_fold_t *p = &procs[order[k].fold];
        if (p->n_samples == 0)
            continue;
        run->end_kb = umax(run->end_kb, exit_rss(p, bucket_ns_of(interval_ms)));
    }
    return run_finish(procs, order, count, run);
}

void ms__sweep_fill_report(ms_sweep_data_t *out)
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
