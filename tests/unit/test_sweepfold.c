/*
 * Unit tests for analyzer/sweepfold.c on arrays of decoded rows, with no database: a
 * process's exit RSS and the interval that bounds its last readings, the time-ordered
 * merge of overlapping processes (all-samples and periodic sums), exec successors and
 * abnormal ends, duplicate samples, and the VmHWM floor under a run's peak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sweepfold.h"

#define S_NS 1000000000LL /* one second in ns */
#define MIB 1024ULL       /* one MiB in kB */
#define T0 (1700000000LL * S_NS) /* an ordinary start time, in November 2023 */

/*
 * A sample of a process: its offset from T0 in ms, its kind, its RSS in MiB and, when
 * has_pss is set, the MiB it shares with other processes by its PSS.
 */
typedef struct sample_spec {
    long long ms;
    ms_sample_kind_t kind;
    unsigned long long mib;
    int has_pss;
    unsigned long long shared_mib;
} sample_spec_t;

/* A process row and its samples, in the order a scan would meet them. */
typedef struct proc_spec {
    long long proc_id;
    size_t run_index;
    long long pid;
    long long start_ms;
    long long end_ms; /* -1: no exit record */
    unsigned long long hwm_mib;
    const sample_spec_t *samples;
    size_t n_samples;
} proc_spec_t;

static ms__sample_row_t row_of(const sample_spec_t *s)
{
    ms__sample_row_t r;

    memset(&r, 0, sizeof r);
    r.t = T0 + s->ms * 1000000LL;
    r.rss = s->mib * MIB;
    r.hwm = -1;
    r.kind = s->kind;
    r.shared = s->has_pss ? (long long)(s->shared_mib * MIB) : -1;
    return r;
}

static int cmp_row_t(const void *a, const void *b)
{
    const ms__sample_row_t *x = a, *y = b;
    return (x->t > y->t) - (x->t < y->t);
}

/* Folds every process's samples, as the scan does, into a new array of folds. */
static ms__proc_fold_t *fold_all(const proc_spec_t *spec, size_t n, long long interval_ms)
{
    ms__proc_fold_t *procs = calloc(n, sizeof *procs);

    assert_non_null(procs);
    for (size_t i = 0; i < n; i++) {
        ms__proc_fold_t *p = &procs[i];
        p->proc_id = spec[i].proc_id;
        p->run_index = spec[i].run_index;
        p->pid = spec[i].pid;
        p->started_ns = T0 + spec[i].start_ms * 1000000LL;
        if (spec[i].end_ms >= 0) {
            p->have_ended = 1;
            p->ended_ns = T0 + spec[i].end_ms * 1000000LL;
        }
        p->col_hwm_kb = spec[i].hwm_mib * MIB;
        p->tracking = MS_TRACKING_UNKNOWN;
        for (size_t k = 0; k < spec[i].n_samples; k++) {
            const ms__sample_row_t r = row_of(&spec[i].samples[k]);
            ms__fold_sample(p, &r, interval_ms);
        }
    }
    return procs;
}

/*
 * Reduces every run as the reader does: one slice of the order per run, and for a run
 * whose processes overlap, their samples in time order handed to the merge. Returns how
 * many runs needed the merge.
 */
static size_t reduce_all(const proc_spec_t *spec, ms__proc_fold_t *procs, size_t n,
                         ms_run_mem_t *runs, size_t n_runs, long long interval_ms)
{
    ms__proc_order_t *order = NULL;
    size_t merged = 0;

    memset(runs, 0, n_runs * sizeof *runs);
    for (size_t r = 0; r < n_runs; r++)
        runs[r].peaks.tracking = MS_TRACKING_UNKNOWN;
    assert_int_equal(ms__fold_order(procs, n, &order), 0);
    for (size_t i = 0; i < n;) {
        const size_t ri = order[i].run_index;
        size_t j = i;
        int rc;

        while (j < n && order[j].run_index == ri)
            j++;
        rc = ms__run_reduce(procs, &order[i], j - i, interval_ms, &runs[ri]);
        assert_true(rc == 0 || rc == 1);
        if (rc == 1) {
            ms__sample_row_t rows[64];
            size_t first[17], used = 0;
            assert_true(j - i < 17);
            for (size_t k = i; k < j; k++) {
                const proc_spec_t *s = &spec[order[k].fold];
                first[k - i] = used;
                for (size_t m = 0; m < s->n_samples; m++) {
                    assert_true(used < 64);
                    rows[used++] = row_of(&s->samples[m]);
                }
                qsort(rows + first[k - i], used - first[k - i], sizeof *rows, cmp_row_t);
            }
            first[j - i] = used;
            assert_int_equal(ms__run_merge(procs, &order[i], j - i, rows, first, interval_ms,
                                           &runs[ri]),
                             0);
            merged++;
        }
        i = j;
    }
    free(order);
    return merged;
}

/*
 * The end RSS of one process counts the ticks of the interval that holds its end sample
 * and of the one before it: with a 1 s interval the 100 MiB tick a second before the end
 * counts, with 100 ms it is too far back and the last tick (50 MiB) is the figure.
 */
static void test_exit_rss_follows_interval(void **state)
{
    static const sample_spec_t s[] = {
        {0, MS_SAMPLE_START, 10, 0, 0},
        {1000, MS_SAMPLE_TICK, 100, 0, 0},
        {2000, MS_SAMPLE_TICK, 50, 0, 0},
        {2500, MS_SAMPLE_END, 20, 0, 0},
    };
    const proc_spec_t spec[] = {{1, 0, 100, 0, 2500, 0, s, 4}};
    ms_run_mem_t run;
    ms__proc_fold_t *procs;

    (void)state;
    procs = fold_all(spec, 1, 1000);
    assert_int_equal(reduce_all(spec, procs, 1, &run, 1, 1000), 0);
    assert_int_equal(run.n_samples, 4);
    assert_int_equal(run.end_kb, 100 * MIB);
    assert_int_equal(run.peak_kb, 100 * MIB);
    assert_int_equal(run.peaks.periodic_kb, 100 * MIB);
    assert_int_equal(run.ended_abnormally, 0);
    assert_int_equal(run.first_proc, 1);
    assert_int_equal(run.main_pid, 100);
    free(procs);

    procs = fold_all(spec, 1, 100);
    assert_int_equal(reduce_all(spec, procs, 1, &run, 1, 100), 0);
    assert_int_equal(run.end_kb, 50 * MIB);
    assert_int_equal(run.peak_kb, 100 * MIB);
    free(procs);
}

/*
 * A wrapper (5 MiB) alive while its child peaks: the merge sums what is alive at once.
 * The child's alloc sample raises the all-samples peak, not the periodic one, and the
 * end is the wrapper plus the child's exit RSS (its last tick, above its end sample).
 */
static void test_overlap_is_merged(void **state)
{
    static const sample_spec_t wrapper[] = {
        {0, MS_SAMPLE_START, 5, 0, 0},
        {1000, MS_SAMPLE_TICK, 5, 0, 0},
        {10000, MS_SAMPLE_END, 4, 0, 0},
    };
    /* Out of time order, as a scan may meet them. */
    static const sample_spec_t child[] = {
        {500, MS_SAMPLE_START, 50, 0, 0},
        {1500, MS_SAMPLE_TICK, 80, 0, 0},
        {1200, MS_SAMPLE_ALLOC, 120, 0, 0},
        {5000, MS_SAMPLE_END, 60, 0, 0},
    };
    const proc_spec_t spec[] = {
        {2, 0, 201, 500, 5000, 0, child, 4},
        {1, 0, 200, 0, 10000, 0, wrapper, 3},
    };
    ms_run_mem_t run;
    ms__proc_fold_t *procs;

    (void)state;
    procs = fold_all(spec, 2, 1000);
    assert_int_equal(reduce_all(spec, procs, 2, &run, 1, 1000), 1);
    assert_int_equal(run.peaks.overlap, 1);
    assert_int_equal(run.n_samples, 7);
    assert_int_equal(run.peaks.all_kb, 125 * MIB);
    assert_int_equal(run.peaks.periodic_kb, 85 * MIB);
    assert_int_equal(run.peaks.kinds[MS_SAMPLE_ALLOC], 1);
    assert_int_equal(run.peaks.kinds[MS_SAMPLE_TICK], 2);
    assert_int_equal(run.peaks.procs, 2);
    assert_int_equal(run.end_kb, 85 * MIB);
    assert_int_equal(run.peak_kb, 125 * MIB);
    /* The earliest process row is the run's first, whatever order the rows came in. */
    assert_int_equal(run.first_proc, 1);
    assert_int_equal(run.main_pid, 200);
    free(procs);
}

/*
 * A fork pool: a parent holding 300 MiB and two children that share 200 MiB of it. Each
 * reading counts its RSS less what its nearest readings with PSS, before and after, say
 * it shares (the larger): the children's start readings and the parent's readings before
 * the fork take the figure of their next reading with PSS. The RSS sum counts the shared
 * pages three times. A child with no reading with PSS counts whole.
 */
static void test_shared_pages_counted_once(void **state)
{
    static const sample_spec_t parent[] = {
        {500, MS_SAMPLE_TICK, 300, 0, 0},
        {1000, MS_SAMPLE_TICK, 300, 1, 200},
        {2500, MS_SAMPLE_TICK, 300, 1, 0},
    };
    static const sample_spec_t child1[] = {
        {600, MS_SAMPLE_START, 350, 0, 0},
        {1100, MS_SAMPLE_TICK, 350, 1, 200},
    };
    static const sample_spec_t child2[] = {
        {700, MS_SAMPLE_START, 350, 0, 0},
        {1200, MS_SAMPLE_TICK, 350, 1, 200},
    };
    static const sample_spec_t plain[] = {
        {700, MS_SAMPLE_START, 350, 0, 0},
        {1200, MS_SAMPLE_TICK, 350, 0, 0},
    };
    const proc_spec_t spec[] = {
        {1, 0, 10, 0, 3000, 0, parent, 3},
        {2, 0, 11, 600, 2000, 0, child1, 2},
        {3, 0, 12, 700, 2000, 0, child2, 2},
        {4, 1, 20, 0, 3000, 0, parent, 3},
        {5, 1, 21, 700, 2000, 0, plain, 2},
    };
    ms_run_mem_t runs[2];
    ms__proc_fold_t *procs;

    (void)state;
    procs = fold_all(spec, 5, 500);
    assert_int_equal(reduce_all(spec, procs, 5, runs, 2, 500), 2);
    /* 100 + 150 + 150 while all three live; 300 for the parent alone at the end. */
    assert_int_equal(runs[0].peaks.pss_used, 1);
    assert_int_equal(runs[0].peaks.all_kb, 400 * MIB);
    assert_int_equal(runs[0].peaks.periodic_kb, 400 * MIB);
    assert_int_equal(runs[0].peaks.rss_sum_kb, 1000 * MIB);
    assert_int_equal(runs[0].peak_kb, 400 * MIB);
    /* The second run's child has no reading with PSS: it counts whole, the parent not. */
    assert_int_equal(runs[1].peaks.pss_used, 1);
    assert_int_equal(runs[1].peaks.all_kb, 450 * MIB);
    assert_int_equal(runs[1].peaks.rss_sum_kb, 650 * MIB);
    free(procs);
}

/*
 * A row without an exit record followed by a row of the same pid: an exec when the next
 * image starts within the interval and a grace second of its last sample, an abnormal
 * end (and the run's main process without an exit) when it starts later.
 */
static void test_exec_successor_and_abnormal_end(void **state)
{
    static const sample_spec_t shell[] = {
        {0, MS_SAMPLE_START, 3, 0, 0},
        {500, MS_SAMPLE_TICK, 3, 0, 0},
    };
    static const sample_spec_t prog_soon[] = {
        {600, MS_SAMPLE_START, 40, 0, 0},
        {3000, MS_SAMPLE_END, 30, 0, 0},
    };
    static const sample_spec_t prog_late[] = {
        {5000, MS_SAMPLE_START, 40, 0, 0},
        {7000, MS_SAMPLE_END, 30, 0, 0},
    };
    const proc_spec_t soon[] = {
        {1, 0, 300, 0, -1, 0, shell, 2},
        {2, 0, 300, 600, 3000, 0, prog_soon, 2},
    };
    const proc_spec_t late[] = {
        {1, 0, 300, 0, -1, 0, shell, 2},
        {2, 0, 300, 5000, 7000, 0, prog_late, 2},
    };
    ms_run_mem_t run;
    ms__proc_fold_t *procs;

    (void)state;
    procs = fold_all(soon, 2, 1000);
    assert_int_equal(reduce_all(soon, procs, 2, &run, 1, 1000), 0);
    assert_int_equal(procs[0].execd, 1);
    assert_int_equal(procs[0].eff_end_ns, T0 + 600 * 1000000LL);
    assert_int_equal(run.ended_abnormally, 0);
    assert_int_equal(run.main_no_exit, 0);
    assert_int_equal(run.peaks.overlap, 0);
    assert_int_equal(run.end_kb, 30 * MIB);
    assert_int_equal(run.peak_kb, 40 * MIB);
    free(procs);

    procs = fold_all(late, 2, 1000);
    assert_int_equal(reduce_all(late, procs, 2, &run, 1, 1000), 0);
    assert_int_equal(procs[0].execd, 0);
    assert_int_equal(run.ended_abnormally, 1);
    assert_int_equal(run.main_no_exit, 1);
    free(procs);
}

/* Exact duplicates count once; a reading at the same time with another RSS is kept. */
static void test_duplicates_count_once(void **state)
{
    static const sample_spec_t s[] = {
        {2000, MS_SAMPLE_TICK, 10, 0, 0},
        {1000, MS_SAMPLE_START, 5, 0, 0},
        {2000, MS_SAMPLE_TICK, 10, 0, 0},
        {2000, MS_SAMPLE_TICK, 11, 0, 0},
    };
    const proc_spec_t spec[] = {{1, 0, 100, 1000, 2000, 0, s, 4}};
    ms__sample_row_t rows[4];
    size_t bad[MS_BAD_COUNT] = {0};
    ms__proc_fold_t *procs;

    (void)state;
    procs = fold_all(spec, 1, 1000);
    assert_int_equal(procs[0].recheck, 1);
    assert_int_equal(procs[0].n_samples, 4);
    for (size_t i = 0; i < 4; i++)
        rows[i] = row_of(&s[i]);
    ms__fold_drop_duplicates(&procs[0], rows, 4, bad);
    assert_int_equal(procs[0].n_samples, 3);
    assert_int_equal(procs[0].kinds[MS_SAMPLE_TICK], 2);
    assert_int_equal(procs[0].kinds[MS_SAMPLE_START], 1);
    assert_int_equal(bad[MS_BAD_SAMPLE_DUP], 1);
    free(procs);
}

/*
 * Two runs whose rows are interleaved are reduced apart; a run's peak is never below a
 * process's VmHWM from its exit record, and a run without samples keeps no figure.
 */
static void test_runs_apart_and_hwm_floor(void **state)
{
    static const sample_spec_t a[] = {
        {0, MS_SAMPLE_START, 10, 0, 0},
        {1000, MS_SAMPLE_END, 8, 0, 0},
    };
    static const sample_spec_t b[] = {
        {0, MS_SAMPLE_START, 70, 0, 0},
        {1000, MS_SAMPLE_END, 60, 0, 0},
    };
    const proc_spec_t spec[] = {
        {3, 1, 401, 0, 1000, 0, b, 2},
        {1, 0, 400, 0, 1000, 50, a, 2},
        {2, 2, 402, 0, -1, 0, NULL, 0},
    };
    ms_run_mem_t runs[3];
    ms__proc_fold_t *procs;

    (void)state;
    procs = fold_all(spec, 3, 1000);
    assert_int_equal(reduce_all(spec, procs, 3, runs, 3, 1000), 0);
    assert_int_equal(runs[0].peaks.all_kb, 10 * MIB);
    assert_int_equal(runs[0].peaks.hwm_max_kb, 50 * MIB);
    assert_int_equal(runs[0].peaks.hwm_sum_kb, 50 * MIB);
    assert_int_equal(runs[0].peak_kb, 50 * MIB);
    assert_int_equal(runs[0].end_kb, 8 * MIB);
    assert_int_equal(runs[1].peak_kb, 70 * MIB);
    assert_int_equal(runs[1].end_kb, 60 * MIB);
    assert_int_equal(runs[1].first_proc, 3);
    assert_int_equal(runs[2].n_samples, 0);
    assert_int_equal(runs[2].peaks.rows, 1);
    assert_int_equal(runs[2].peak_kb, 0);
    free(procs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_rss_follows_interval),
        cmocka_unit_test(test_overlap_is_merged),
        cmocka_unit_test(test_shared_pages_counted_once),
        cmocka_unit_test(test_exec_successor_and_abnormal_end),
        cmocka_unit_test(test_duplicates_count_once),
        cmocka_unit_test(test_runs_apart_and_hwm_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
