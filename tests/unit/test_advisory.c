/*
 * Unit tests for analyzer/advisory.c (the specification's formulas and exact format) and
 * for what the advisory carries after it: the database report of analyzer/dbreport.c,
 * the text cleaning of one-line output and the UTF-8 safety of JSON strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advisory.h"
#include "dbreport.h"
#include "jsonw.h"
#include "textclean.h"
#include "memsweep/defaults.h"

/* Renders with one of the writers into a malloc'd string. */
static char *render(void (*post)(FILE *, const ms_advisory_t *),
                    void (*pre)(FILE *, const ms_machine_t *), const ms_advisory_t *a,
                    const ms_machine_t *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    if (post != NULL)
        post(f, a);
    else
        pre(f, m);
    fclose(f);
    return buf;
}

static void test_machine_from_spec_example(void **state)
{
    ms_machine_t m;
    (void)state;
    /* The specification's example: 11940 MB total, 1024 reserve, 10916 usable. The kB
     * value is not a multiple of 1024, to check the MB figure is floored. */
    ms_machine_init(&m, 1, 11940ULL * 1024 + 1023, 1024, 0.85);
    assert_int_equal(m.mem_total_mb, 11940);
    assert_int_equal(m.usable_mb, 10916);
}

static void test_usable_never_negative(void **state)
{
    ms_machine_t m;
    (void)state;
    ms_machine_init(&m, 1, 512ULL * 1024, 1024, 0.85);
    assert_int_equal(m.mem_total_mb, 512);
    assert_int_equal(m.usable_mb, 0);
}

static void test_workers_spec_example(void **state)
{
    (void)state;
    /* Worked example of the specification: both recommendations are 6. */
    assert_int_equal(ms_advisory_workers(10916, 1406.7, 0.85), 6);
    assert_int_equal(ms_advisory_workers(10916, 1532.2, 0.85), 6);
    /* 10916 / 1000 * 0.85 = 9.2786 */
    assert_int_equal(ms_advisory_workers(10916, 1000.0, 0.85), 9);
    /* Exactly an integer in real arithmetic: 1000 / 100 * 0.7 = 7, not 6. */
    assert_int_equal(ms_advisory_workers(1000, 100.0, 0.7), 7);
    assert_int_equal(ms_advisory_workers(1000, 0.0, 0.85), -1);
    assert_int_equal(ms_advisory_workers(0, 10.0, 0.85), 0);
}

static void test_pre_section_exact(void **state)
{
    ms_machine_t m;
    char *text;
    (void)state;
    ms_machine_init(&m, 1, 11940ULL * 1024, 1024, 0.85);
    text = render(NULL, ms_advisory_write_pre, NULL, &m);
    assert_string_equal(text, "Pre-run Memory Advisory\n"
                              "MemTotal_MB: 11940\n"
                              "Reserve_MB: 1024\n"
                              "Usable_MB: 10916\n"
                              "SafetyFactor: 0.85\n");
    free(text);
}

static void test_pre_section_fallback(void **state)
{
    ms_machine_t m;
    char *text;
    (void)state;
    ms_machine_init(&m, 0, 0, 1024, 0.85);
    text = render(NULL, ms_advisory_write_pre, NULL, &m);
    assert_non_null(strstr(text, "Pre-run Memory Advisory\n"));
    assert_non_null(strstr(text, "MemTotal unavailable"));
    assert_null(strstr(text, "Usable_MB"));
    free(text);
}

static void limited_advisory(ms_advisory_t *a, long long cpus);

/* Four included runs (one failed), one excluded run. */
static void compute_example(ms_advisory_t *a, int have_mem)
{
    ms_machine_t m;
    ms_run_counts_t c = {.total = 5, .included = 4, .failed = 1, .excluded = 1};
    double end[] = {1300.0, 1000.0, 1200.0, 1100.0};
    double peak[] = {2000.0, 1000.0, 1600.0, 1500.0};

    ms_machine_init(&m, have_mem, 11940ULL * 1024, 1024, 0.85);
    ms_advisory_compute(&m, &c, end, 4, peak, 4, a);
}

/* The periodic-miss summary of the four included runs: 37.5 % (run 2), 10 %, 0, 0. */
static void add_peak_summary(ms_advisory_t *a)
{
    static const unsigned long long periodic[] = {1250, 900, 1000, 1500};
    static const unsigned long long true_kb[] = {2000, 1000, 1000, 1500};
    ms_peak_summary_init(&a->peaks);
    for (int i = 0; i < 4; i++) {
        ms_run_peaks_t p;
        memset(&p, 0, sizeof p);
        p.periodic_kb = periodic[i] * 1024;
        p.all_kb = periodic[i] * 1024;
        p.hwm_max_kb = true_kb[i] * 1024;
        ms_peak_summary_add(&a->peaks, i + 2, &p);
    }
    a->have_peak_summary = 1;
}

static void test_post_section_exact(void **state)
{
    ms_advisory_t a;
    char *text;
    (void)state;
    compute_example(&a, 1);
    assert_false(a.have_peak_summary); /* computing alone leaves the summary out */
    add_peak_summary(&a);
    assert_int_equal(a.aggressive, 8);    /* 10916 / 1150 * 0.85 = 8.07 */
    assert_int_equal(a.conservative, 4);  /* 10916 / 1940 * 0.85 = 4.78 */
    assert_int_equal(a.basis, MS_BASIS_P95_PEAK);
    assert_true(a.warn_divergence);       /* 2000 > 1.2 * 1150 */
    assert_false(a.warn_no_fit);
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    assert_string_equal(text,
                        "Post-run Observed Advisory\n"
                        "MeanRSS_End_MB: 1150.0\n"
                        "MedianRSS_End_MB: 1150.0\n"
                        "P95RSS_End_MB: 1285.0\n"
                        "MaxRSS_End_MB: 1300.0\n"
                        "MeanPeakRSS_MB: 1525.0\n"
                        "P95PeakRSS_MB: 1940.0\n"
                        "MaxPeakRSS_MB: 2000.0\n"
                        "SafetyFactor: 0.85\n"
                        "RecommendedMaxWorkers_Aggressive: 8\n"
                        "RecommendedMaxWorkers_Conservative: 4\n"
                        "RunsTotal: 5\n"
                        "RunsIncluded: 4\n"
                        "RunsFailed: 1\n"
                        "RunsExcluded: 1\n"
                        "RunsStopped: 0\n"
                        "RunsRunning: 0\n"
                        "ConservativeBasis: p95_peak\n"
                        "MemTotal_MB: 11940\n"
                        "Reserve_MB: 1024\n"
                        "Usable_MB: 10916\n"
                        "PeriodicMissOver5Pct_Runs: 2\n"
                        "PeriodicMissOver20Pct_Runs: 1\n"
                        "LargestPeriodicMiss_Pct: 37.5\n"
                        "LargestPeriodicMiss_Run: 2\n"
                        "Warning: MaxPeakRSS_MB is more than 1.2x MeanRSS_End_MB; prefer the "
                        "conservative recommendation and consider staggering worker starts.\n"
                        "Warning: only 4 runs entered the statistics; percentiles of fewer "
                        "than 5 runs say little about the next one.\n"
                        "Warning: 1 of 5 runs (20%) were left out of the statistics (not "
                        "measured, stopped before they finished, or still running); the advice "
                        "covers only the 4 included.\n"
                        "Paste_parallel: parallel -j 4\n"
                        "Paste_xargs: xargs -P 4\n"
                        "Paste_make: make -j 4\n"
                        "Paste_sbatch: sbatch --array=0-4%4 --mem=2481M\n"
                        "Paste_snakemake: resources: mem_mb=2468\n"
                        "Paste_nextflow: memory '2353 MB'\n");
    free(text);
}

/*
 * Runs stopped before they finished are left out and counted on their own line, with the
 * largest peak any of them reached; a warning when it exceeds the included runs' P95
 * peak, when few runs are included, and when many are left out. A sweep that has not
 * finished says so, and its running runs are running, not failed.
 */
static void test_left_out_runs(void **state)
{
    ms_machine_t m;
    ms_advisory_t a;
    ms_run_counts_t c = {.total = 20, .included = 17, .failed = 3, .stopped = 3,
                         .have_left_out_peak = 1, .left_out_peak_mb = 900.0,
                         .left_out_peak_seq = 18};
    double v[17];
    char *text;
    (void)state;

    for (size_t i = 0; i < 17; i++)
        v[i] = 500.0;
    ms_machine_init(&m, 1, 8192ULL * 1024, 1024, 0.85);
    ms_advisory_compute(&m, &c, v, 17, v, 17, &a);
    assert_true(a.warn_left_out_peak);   /* 900 > 500 */
    assert_false(a.warn_few_runs);       /* 17 included */
    assert_true(a.warn_many_left_out);   /* 3 of 20 = 15 % > 10 % */
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    assert_non_null(strstr(text, "RunsFailed: 3\n"
                                 "RunsExcluded: 0\n"
                                 "RunsStopped: 3\n"
                                 "RunsRunning: 0\n"
                                 "LeftOutPeakRSS_LowerBound_MB: 900.0\n"));
    assert_null(strstr(text, "SweepFinished"));
    assert_non_null(strstr(text, "Warning: run 18, left out because it did not finish, had "
                                 "already reached 900.0 MiB, more than P95PeakRSS_MB (500.0); "
                                 "runs like it may need more than this advice allows.\n"
                                 "Warning: 3 of 20 runs (15%) were left out"));
    assert_null(strstr(text, "Warning: only"));
    free(text);

    /* Exactly 10 % left out is not more than 10 %; a smaller left-out peak, no warning. */
    c = (ms_run_counts_t){.total = 20, .included = 18, .stopped = 2, .failed = 2,
                          .have_left_out_peak = 1, .left_out_peak_mb = 499.0,
                          .left_out_peak_seq = 3};
    ms_advisory_compute(&m, &c, v, 17, v, 17, &a);
    assert_false(a.warn_left_out_peak);
    assert_false(a.warn_many_left_out);

    /* An unfinished sweep: its running runs are left out, not failed, and it says so. */
    c = (ms_run_counts_t){.total = 4, .included = 2, .running = 2, .unfinished_runs = 2,
                          .unfinished = 1};
    ms_advisory_compute(&m, &c, v, 2, v, 2, &a);
    assert_true(a.warn_few_runs);
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    assert_non_null(strstr(text, "RunsFailed: 0\n"
                                 "RunsExcluded: 0\n"
                                 "RunsStopped: 0\n"
                                 "RunsRunning: 2\n"
                                 "SweepFinished: no\n"));
    assert_non_null(strstr(text, "Note: the sweep has not finished (it is still running, or "
                                 "its launcher was killed); 2 runs still running are left out, "
                                 "and the figures cover the runs finished so far.\n"));
    assert_non_null(strstr(text, "Warning: only 2 runs entered the statistics"));
    free(text);
    text = render(ms_advisory_write_json, NULL, &a, NULL);
    assert_non_null(strstr(text, "\"RunsStopped\":0,\"RunsRunning\":2,\"SweepFinished\":false,"));
    assert_non_null(strstr(text, "\"Warnings\":[\"only 2 runs"));
    free(text);
}

/* The example's runs (seq 1 to 4) added to a divergence breakdown, in KiB. */
static void add_example_divergence(ms_advisory_t *a)
{
    static const unsigned long long end[] = {1300, 1000, 1200, 1100};
    static const unsigned long long peak[] = {2000, 1000, 1600, 1500};

    ms_divergence_init(&a->divergence);
    for (int i = 0; i < 4; i++)
        ms_divergence_add(&a->divergence, i + 1, peak[i] * 1024, end[i] * 1024);
    a->have_divergence = 1;
}

static void test_divergence_breakdown(void **state)
{
    ms_divergence_t d;
    char text[512];
    (void)state;

    /* A grid of sizes whose every run ends at its peak: the runs differ, none spikes. */
    ms_divergence_init(&d);
    ms_divergence_add(&d, 1, 100 * 1024, 100 * 1024);
    ms_divergence_add(&d, 2, 800 * 1024, 800 * 1024);
    ms_divergence_add(&d, 3, 400 * 1024, 396 * 1024);
    assert_true(d.have_within);
    assert_float_equal(d.within_ratio, 400.0 / 396.0, 1e-12);
    assert_int_equal(d.within_seq, 3);
    assert_float_equal(ms_divergence_across(&d), 8.0, 1e-12);
    assert_int_equal(d.max_seq, 2);
    assert_int_equal(d.min_seq, 1);
    ms_divergence_text(&d, text, sizeof text);
    assert_string_equal(text, "runs differ from each other, and do not spike (the largest "
                              "peak within one run is 1.01x its end RSS, in run 3; the "
                              "largest run peak is 8.00x the smallest, run 2 against run 1)");

    /* Runs alike that all spike. Ties name the first run. */
    ms_divergence_init(&d);
    ms_divergence_add(&d, 1, 300, 100);
    ms_divergence_add(&d, 2, 310, 100);
    ms_divergence_add(&d, 3, 310, 100);
    ms_divergence_text(&d, text, sizeof text);
    assert_string_equal(text, "runs spike, and differ little from each other (the largest "
                              "peak within one run is 3.10x its end RSS, in run 2; the "
                              "largest run peak is 1.03x the smallest, run 2 against run 1)");

    /* Both; a run that ended at 0 has no ratio, but its peak counts across runs. */
    ms_divergence_init(&d);
    ms_divergence_add(&d, 1, 100, 100);
    ms_divergence_add(&d, 2, 500, 0);
    ms_divergence_add(&d, 3, 250, 100);
    assert_int_equal(d.within_seq, 3);
    ms_divergence_text(&d, text, sizeof text);
    assert_string_equal(text, "runs spike, and differ from each other (the largest peak "
                              "within one run is 2.50x its end RSS, in run 3; the largest "
                              "run peak is 5.00x the smallest, run 2 against run 1)");

    /* Exactly 1.2x is not more than 1.2x. */
    ms_divergence_init(&d);
    ms_divergence_add(&d, 1, 120, 100);
    ms_divergence_add(&d, 2, 100, 100);
    ms_divergence_text(&d, text, sizeof text);
    assert_non_null(strstr(text, "runs spike a little and differ a little, neither by more "
                                 "than 1.2x ("));

    /* Nothing to compare. */
    ms_divergence_init(&d);
    ms_divergence_add(&d, 1, 0, 0);
    ms_divergence_text(&d, text, sizeof text);
    assert_string_equal(text, "runs spike a little and differ a little, neither by more than "
                              "1.2x (no run has an end RSS to compare its peak with; no run "
                              "has a peak)");
}

static void test_divergence_lines(void **state)
{
    ms_advisory_t a;
    char *text;
    (void)state;

    compute_example(&a, 1);
    add_example_divergence(&a);
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    /* The seed's warning stays as it is, and memsweep's line follows it. */
    assert_non_null(strstr(text, "\nWarning: MaxPeakRSS_MB is more than 1.2x MeanRSS_End_MB; "
                                 "prefer the conservative recommendation and consider "
                                 "staggering worker starts.\n"
                                 "Divergence: runs spike, and differ from each other (the "
                                 "largest peak within one run is 1.54x its end RSS, in run 1; "
                                 "the largest run peak is 2.00x the smallest, run 1 against "
                                 "run 2)\n"));
    free(text);
    text = render(ms_advisory_write_json, NULL, &a, NULL);
    assert_non_null(strstr(text, "\"Divergence\":{\"Text\":\"runs spike, and differ from each "
                                 "other (the largest peak"));
    assert_non_null(strstr(text, "\"WithinRun_Ratio\":1.54,\"WithinRun_Run\":1,"
                                 "\"AcrossRuns_Ratio\":2.00,\"AcrossRuns_LargestPeak_Run\":1,"
                                 "\"AcrossRuns_SmallestPeak_Run\":2}"));
    free(text);

    /* Without the warning there is no breakdown to give. */
    a.warn_divergence = 0;
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    assert_null(strstr(text, "Divergence"));
    free(text);
    text = render(ms_advisory_write_json, NULL, &a, NULL);
    assert_null(strstr(text, "Divergence"));
    free(text);
}

static void test_post_without_memtotal_omits_recommendations(void **state)
{
    ms_advisory_t a;
    char *text;
    (void)state;
    compute_example(&a, 0);
    assert_false(a.have_aggressive);
    assert_false(a.have_conservative);
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    assert_non_null(strstr(text, "MeanRSS_End_MB: 1150.0\n"));
    assert_null(strstr(text, "RecommendedMaxWorkers"));
    assert_non_null(strstr(text, "Note: MemTotal unknown"));
    free(text);
}

static void test_basis_falls_back_to_end(void **state)
{
    ms_machine_t m;
    ms_advisory_t a;
    ms_run_counts_t c = {.total = 2, .included = 2};
    double end[] = {100.0, 300.0};
    (void)state;
    ms_machine_init(&m, 1, 2048ULL * 1024, 1024, 0.85);
    ms_advisory_compute(&m, &c, end, 2, NULL, 0, &a);
    assert_int_equal(a.basis, MS_BASIS_P95_END);
    /* p95 of {100, 300} = 290; 1024 / 290 * 0.85 = 3.0 */
    assert_int_equal(a.conservative, 3);
    assert_int_equal(a.aggressive, 4); /* 1024 / 200 * 0.85 = 4.35 */
    assert_false(a.have_peak);
}

static void test_no_fit_warning(void **state)
{
    ms_machine_t m;
    ms_advisory_t a;
    ms_run_counts_t c = {.total = 1, .included = 1};
    double end[] = {5000.0};
    double peak[] = {6000.0};
    char *text;
    (void)state;
    ms_machine_init(&m, 1, 4096ULL * 1024, 1024, 0.85);
    ms_advisory_compute(&m, &c, end, 1, peak, 1, &a);
    assert_int_equal(a.conservative, 0);
    assert_true(a.warn_no_fit);
    assert_false(a.warn_divergence); /* 6000 = 1.2 x 5000 exactly: not more than */
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    assert_non_null(strstr(text, "RecommendedMaxWorkers_Conservative: 0\n"));
    assert_non_null(strstr(text, "Warning: a single worker does not fit"));
    free(text);
}

static void test_no_runs(void **state)
{
    ms_machine_t m;
    ms_advisory_t a;
    ms_run_counts_t c = {.total = 2, .failed = 2, .excluded = 2};
    char *text;
    (void)state;
    ms_machine_init(&m, 1, 8192ULL * 1024, 1024, 0.85);
    ms_advisory_compute(&m, &c, NULL, 0, NULL, 0, &a);
    ms_peak_summary_init(&a.peaks);
    a.have_peak_summary = 1;
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    assert_null(strstr(text, "MeanRSS_End_MB"));
    assert_null(strstr(text, "Recommended"));
    assert_null(strstr(text, "LargestPeriodicMiss")); /* no run to compare */
    assert_non_null(strstr(text, "RunsExcluded: 2\n"
                                 "RunsStopped: 0\n"
                                 "RunsRunning: 0\n"
                                 "MemTotal_MB: 8192\n"
                                 "Reserve_MB: 1024\n"
                                 "Usable_MB: 7168\n"
                                 "PeriodicMissOver5Pct_Runs: 0\n"
                                 "PeriodicMissOver20Pct_Runs: 0\n"
                                 "Note: no run has a memory sample"));
    free(text);
}

static void test_json(void **state)
{
    ms_advisory_t a;
    char *text;
    (void)state;
    compute_example(&a, 1);
    text = render(ms_advisory_write_json, NULL, &a, NULL);
    assert_null(strstr(text, "PeriodicMiss")); /* no summary computed */
    free(text);
    add_peak_summary(&a);
    text = render(ms_advisory_write_json, NULL, &a, NULL);
    assert_int_equal(text[0], '{');
    assert_non_null(strstr(text, "\"ConservativeBasis\":\"p95_peak\","
                                 "\"PeriodicMissOver5Pct_Runs\":2,"
                                 "\"PeriodicMissOver20Pct_Runs\":1,"
                                 "\"LargestPeriodicMiss_Pct\":37.5,"
                                 "\"LargestPeriodicMiss_Run\":2,"
                                 "\"Notes\":[],"
                                 "\"Warnings\":["));
    assert_non_null(strstr(text, "\"MemTotal_MB\":11940,"));
    assert_non_null(strstr(text, "\"Usable_MB\":10916,"));
    assert_non_null(strstr(text, "\"P95PeakRSS_MB\":1940.0,"));
    assert_non_null(strstr(text, "\"RecommendedMaxWorkers_Aggressive\":8,"));
    assert_non_null(strstr(text, "\"RecommendedMaxWorkers_Conservative\":4,"));
    assert_non_null(strstr(text, "\"ConservativeBasis\":\"p95_peak\""));
    assert_non_null(strstr(text, "\"Warnings\":[\"MaxPeakRSS_MB is more"));
    /* The runner lines come after the warnings; no table was computed. */
    assert_non_null(strstr(text, "covers only the 4 included.\"],"
                                 "\"Paste_parallel\":\"parallel -j 4\","
                                 "\"Paste_xargs\":\"xargs -P 4\","
                                 "\"Paste_make\":\"make -j 4\","
                                 "\"Paste_sbatch\":\"sbatch --array=0-4%4 --mem=2481M\","
                                 "\"Paste_snakemake\":\"resources: mem_mb=2468\","
                                 "\"Paste_nextflow\":\"memory '2353 MB'\","
                                 "\"Paste_Workers\":4,"
                                 "\"Paste_TaskMemory_MB\":2353,"
                                 "\"Paste_SbatchMemory_MB\":2481}\n"));
    assert_null(strstr(text, "ParamMemory"));
    free(text);
}

/*
 * The runner lines: N is the conservative count, capped by the CPUs; K the last run's
 * index; the memory the largest peak over the safety factor, rounded up, with the batch
 * allowance for sbatch only.
 */
static void test_paste_lines(void **state)
{
    ms_advisory_t a;
    ms_paste_t p;
    char *text;
    (void)state;

    /* 536 / 100 * 0.85 = 4 workers; 3 CPUs allow 3. 100 / 0.85 = 117.6, so 118. */
    limited_advisory(&a, 3);
    ms_advisory_paste(&a, &p);
    assert_true(p.have);
    assert_int_equal(p.workers, 3);
    assert_int_equal(p.last_index, 0);
    assert_int_equal(p.task_mb, 118);
    assert_int_equal(p.sbatch_mb, 118 + MS_PASTE_SBATCH_ALLOWANCE_MB);
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    /* After the last warning, the one on few runs. */
    assert_non_null(strstr(text, "say little about the next one.\n"
                                 "Paste_parallel: parallel -j 3\n"
                                 "Paste_xargs: xargs -P 3\n"
                                 "Paste_make: make -j 3\n"
                                 "Paste_sbatch: sbatch --array=0-0%3 --mem=246M\n"
                                 "Paste_snakemake: resources: mem_mb=124\n"
                                 "Paste_nextflow: memory '118 MB'\n"));
    free(text);
    /* CPUs unknown or enough: the memory's count. */
    limited_advisory(&a, 0);
    ms_advisory_paste(&a, &p);
    assert_int_equal(p.workers, 4);
    limited_advisory(&a, 8);
    ms_advisory_paste(&a, &p);
    assert_int_equal(p.workers, 4);

    /* A quotient that is whole in real arithmetic is not rounded up: 85 / 0.85 = 100. */
    {
        ms_machine_t m;
        ms_run_counts_t c = {.total = 12, .included = 12};
        double v[12];
        for (size_t i = 0; i < 12; i++)
            v[i] = 85.0;
        ms_machine_init(&m, 1, 8192ULL * 1024, 1024, 0.85);
        ms_advisory_compute(&m, &c, v, 12, v, 12, &a);
        ms_advisory_paste(&a, &p);
        assert_int_equal(p.task_mb, 100);
        assert_int_equal(p.last_index, 11);
        assert_int_equal(p.workers, 71); /* 7168 / 85 * 0.85 = 71.68 */
    }
}

static void test_paste_without_figures(void **state)
{
    ms_machine_t m;
    ms_advisory_t a;
    ms_paste_t p;
    ms_run_counts_t c = {.total = 2, .included = 2};
    double end[] = {100.0, 300.0};
    double big_end[] = {5000.0};
    double big_peak[] = {6000.0};
    char *text;
    (void)state;

    /* No peak: the worker counts, sbatch without --mem, no memory lines. */
    ms_machine_init(&m, 1, 2048ULL * 1024, 1024, 0.85);
    ms_advisory_compute(&m, &c, end, 2, NULL, 0, &a);
    ms_advisory_paste(&a, &p);
    assert_true(p.have);
    assert_false(p.have_mem);
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    assert_non_null(strstr(text, "Paste_make: make -j 3\n"
                                 "Paste_sbatch: sbatch --array=0-1%3\n"));
    assert_null(strstr(text, "mem_mb"));
    assert_null(strstr(text, "Paste_nextflow"));
    free(text);
    text = render(ms_advisory_write_json, NULL, &a, NULL);
    assert_non_null(strstr(text, "\"Paste_sbatch\":\"sbatch --array=0-1%3\","
                                 "\"Paste_Workers\":3}\n"));
    free(text);

    /* One worker does not fit: one line instead of the runner lines. */
    c = (ms_run_counts_t){.total = 1, .included = 1};
    ms_machine_init(&m, 1, 4096ULL * 1024, 1024, 0.85);
    ms_advisory_compute(&m, &c, big_end, 1, big_peak, 1, &a);
    ms_advisory_paste(&a, &p);
    assert_false(p.have);
    assert_true(p.no_fit);
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    assert_non_null(strstr(text, "\nPaste: none: a single worker does not fit in Usable_MB at "
                                 "this safety factor (RecommendedMaxWorkers_Conservative is "
                                 "0)\n"));
    assert_null(strstr(text, "Paste_"));
    free(text);
    text = render(ms_advisory_write_json, NULL, &a, NULL);
    assert_non_null(strstr(text, "\"Paste\":\"none: a single worker"));
    assert_null(strstr(text, "Paste_"));
    free(text);

    /* No conservative recommendation (MemTotal unknown): no paste lines at all. */
    compute_example(&a, 0);
    ms_advisory_paste(&a, &p);
    assert_false(p.have);
    assert_false(p.no_fit);
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    assert_null(strstr(text, "Paste"));
    free(text);
}

/* A report with something of every kind. */
static const char limit_rule_text[] =
    "limit: 10% of MemTotal_MB, at least 64 and at most 1024 MiB, for what runs inside the "
    "limit beside the workers";

static void test_limit_reserve_rule(void **state)
{
    (void)state;
    /* A tenth, rounded to the nearest MiB, between 64 and 1024. */
    assert_int_equal(ms_limit_reserve_mb(0), 64);
    assert_int_equal(ms_limit_reserve_mb(600), 64);  /* 60: the floor */
    assert_int_equal(ms_limit_reserve_mb(644), 64);  /* 64.4 rounds down */
    assert_int_equal(ms_limit_reserve_mb(645), 65);  /* 64.5 rounds up */
    assert_int_equal(ms_limit_reserve_mb(4096), 410);
    assert_int_equal(ms_limit_reserve_mb(10235), 1024); /* 1023.5 rounds up to the cap */
    assert_int_equal(ms_limit_reserve_mb(10234), 1023);
    assert_int_equal(ms_limit_reserve_mb(1LL << 32), 1024);
}

static void test_reserve_rule_of_recorded(void **state)
{
    (void)state;
    assert_true(ms_mem_source_is_limit("cgroup memory.max /sys/fs/cgroup/job"));
    assert_true(ms_mem_source_is_limit("cgroup memory.limit_in_bytes /sys/fs/cgroup/memory/x"));
    assert_true(ms_mem_source_is_limit("SLURM_MEM_PER_NODE=600"));
    assert_false(ms_mem_source_is_limit("/proc/meminfo"));
    assert_false(ms_mem_source_is_limit("--mem-total-mb"));
    assert_false(ms_mem_source_is_limit("cgroups"));
    assert_false(ms_mem_source_is_limit(NULL));
    assert_int_equal(ms_reserve_rule_of("SLURM_MEM_PER_NODE=600", 600, 64), MS_RESERVE_RULE_LIMIT);
    assert_int_equal(ms_reserve_rule_of("SLURM_MEM_PER_NODE=600", 600, 1024),
                     MS_RESERVE_RULE_RECORDED);
    assert_int_equal(ms_reserve_rule_of("/proc/meminfo", 24105, 1024), MS_RESERVE_RULE_MACHINE);
    assert_int_equal(ms_reserve_rule_of("/proc/meminfo", 24105, 64), MS_RESERVE_RULE_RECORDED);
    assert_int_equal(ms_reserve_rule_of("--mem-total-mb", 600, 1024), MS_RESERVE_RULE_MACHINE);
    assert_string_equal(ms_reserve_rule_text(MS_RESERVE_RULE_LIMIT), limit_rule_text);
    assert_string_equal(ms_reserve_rule_text(MS_RESERVE_RULE_OPTION), "--reserve-mb");
    assert_null(ms_reserve_rule_text(MS_RESERVE_RULE_NONE));
}

/* The machine of a SLURM job: 600 MiB on a 24105 MiB node, 1 CPU. */
static void limited_machine(ms_machine_t *m, long long cpus)
{
    ms_machine_init(m, 1, 600ULL * 1024, 64, 0.85);
    ms_machine_describe(m, "cgroup memory.max /sys/fs/cgroup/job\n1", 1, 24105ULL * 1024 + 7,
                        MS_RESERVE_RULE_LIMIT, cpus);
}

static void test_pre_section_machine_lines(void **state)
{
    ms_machine_t m;
    char *text;
    char expected[1024];
    (void)state;
    limited_machine(&m, 1);
    text = render(NULL, ms_advisory_write_pre, NULL, &m);
    /* The specification's five lines unchanged, memsweep's after them; a control
     * character in the source is cleaned. */
    snprintf(expected, sizeof expected,
             "Pre-run Memory Advisory\n"
             "MemTotal_MB: 600\n"
             "Reserve_MB: 64\n"
             "Usable_MB: 536\n"
             "SafetyFactor: 0.85\n"
             "MemSource: cgroup memory.max /sys/fs/cgroup/job?1\n"
             "HostMemTotal_MB: 24105\n"
             "ReserveRule: %s\n"
             "CPUs: 1\n",
             limit_rule_text);
    assert_string_equal(text, expected);
    free(text);

    /* Unknown host and CPUs, no rule: those lines are left out. */
    ms_machine_describe(&m, "SLURM_MEM_PER_NODE=600", 0, 0, MS_RESERVE_RULE_NONE, 0);
    text = render(NULL, ms_advisory_write_pre, NULL, &m);
    assert_string_equal(text, "Pre-run Memory Advisory\n"
                              "MemTotal_MB: 600\n"
                              "Reserve_MB: 64\n"
                              "Usable_MB: 536\n"
                              "SafetyFactor: 0.85\n"
                              "MemSource: SLURM_MEM_PER_NODE=600\n");
    free(text);

    /* Nothing known about the memory: the fallback sentence alone, as specified. */
    ms_machine_init(&m, 0, 0, 1024, 0.85);
    ms_machine_describe(&m, "", 0, 0, MS_RESERVE_RULE_MACHINE, 2);
    text = render(NULL, ms_advisory_write_pre, NULL, &m);
    assert_null(strstr(text, "CPUs"));
    assert_null(strstr(text, "ReserveRule"));
    free(text);
}

/* One run of 100 MiB on the limited machine: 536 / 100 * 0.85 = 4.556, so 4 workers. */
static void limited_advisory(ms_advisory_t *a, long long cpus)
{
    ms_machine_t m;
    ms_run_counts_t c = {.total = 1, .included = 1};
    double end[] = {100.0};
    double peak[] = {100.0};

    limited_machine(&m, cpus);
    ms_advisory_compute(&m, &c, end, 1, peak, 1, a);
}

static void test_post_machine_lines_and_cpu_note(void **state)
{
    ms_advisory_t a;
    char *text;
    char expected[1024];
    (void)state;
    limited_advisory(&a, 1);
    assert_int_equal(a.conservative, 4);
    assert_int_equal(a.aggressive, 4);
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    snprintf(expected, sizeof expected,
             "RecommendedMaxWorkers_Aggressive: 4\n"
             "RecommendedMaxWorkers_Conservative: 4\n"
             "RunsTotal: 1\n"
             "RunsIncluded: 1\n"
             "RunsFailed: 0\n"
             "RunsExcluded: 0\n"
             "RunsStopped: 0\n"
             "RunsRunning: 0\n"
             "ConservativeBasis: p95_peak\n"
             "MemTotal_MB: 600\n"
             "Reserve_MB: 64\n"
             "Usable_MB: 536\n"
             "MemSource: cgroup memory.max /sys/fs/cgroup/job?1\n"
             "HostMemTotal_MB: 24105\n"
             "ReserveRule: %s\n"
             "CPUs: 1\n"
             "Note: memory admits 4 workers, but this sweep may use 1 CPU, so CPU, not memory, "
             "limits how many workers run at once.\n",
             limit_rule_text);
    assert_non_null(strstr(text, expected));
    free(text);

    /* As many CPUs as workers: memory is the limit, no note. */
    limited_advisory(&a, 4);
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    assert_non_null(strstr(text, "CPUs: 4\n"));
    assert_null(strstr(text, "Note:"));
    free(text);

    /* 3 CPUs, plural. */
    limited_advisory(&a, 3);
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    assert_non_null(strstr(text, "Note: memory admits 4 workers, but this sweep may use 3 "
                                 "CPUs, so"));
    free(text);

    /* CPUs not recorded: no line, no note. */
    limited_advisory(&a, 0);
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    assert_null(strstr(text, "CPUs"));
    assert_null(strstr(text, "Note:"));
    free(text);
}

static void test_json_machine_fields(void **state)
{
    ms_advisory_t a;
    char *text;
    char expected[1024];
    (void)state;
    limited_advisory(&a, 1);
    text = render(ms_advisory_write_json, NULL, &a, NULL);
    snprintf(expected, sizeof expected,
             "\"Usable_MB\":536,"
             "\"MemSource\":\"cgroup memory.max /sys/fs/cgroup/job?1\","
             "\"HostMemTotal_MB\":24105,"
             "\"ReserveRule\":\"%s\","
             "\"CPUs\":1,",
             limit_rule_text);
    assert_non_null(strstr(text, expected));
    assert_non_null(strstr(text, "\"Notes\":[\"memory admits 4 workers, but this sweep may "
                                 "use 1 CPU,"));
    free(text);
    limited_advisory(&a, 0);
    text = render(ms_advisory_write_json, NULL, &a, NULL);
    assert_null(strstr(text, "\"CPUs\""));
    assert_non_null(strstr(text, "\"Notes\":[]"));
    free(text);
}

static void example_report(ms_db_report_t *r)
{
    memset(r, 0, sizeof *r);
    ms_tally_add(&r->excluded, "setuid");
    ms_tally_add(&r->excluded, "statically linked");
    ms_tally_add(&r->excluded, "statically linked");
    r->bad[MS_BAD_RUN_SEQ_NULL] = 1;
    r->bad[MS_BAD_SAMPLE_RSS_NULL] = 2;
    r->bad[MS_BAD_SAMPLE_RSS_NEGATIVE] = 1;
    r->bad[MS_BAD_PROC_HWM_RANGE] = 1;
    ms_tally_add(&r->unknown_status, "exploded");
    r->unstored = 7;
    r->unstored_failed = 4;
    snprintf(r->unstored_note, sizeof r->unstored_note, "database or disk is full");
    r->no_sweep_row = 1;
}

static void test_report_lines(void **state)
{
    ms_advisory_t a;
    char *text;
    const char *tail;
    (void)state;
    compute_example(&a, 1);
    add_peak_summary(&a);
    example_report(&a.report);
    a.have_report = 1;
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    /* After the specification's lines and memsweep's keys, before the warnings. */
    tail = strstr(text, "LargestPeriodicMiss_Run: 2\n");
    assert_non_null(tail);
    assert_string_equal(tail,
                        "LargestPeriodicMiss_Run: 2\n"
                        "Excluded: 3 runs not measured (statically linked: 2, setuid: 1)\n"
                        "Skipped: 1 run (NULL seq: 1)\n"
                        "Skipped: 3 samples (NULL rss_kb: 2, negative rss_kb: 1)\n"
                        "Ignored: 1 value (processes.hwm_kb negative or over 4 PiB: 1)\n"
                        "Note: the database has no sweeps row; the machine's MemTotal and the "
                        "sampling interval are unknown.\n"
                        "Note: 1 run has a status this version does not know (exploded: 1); "
                        "counted as failed.\n"
                        "Note: 4 readings were lost by processes whose writes to the database "
                        "failed (the first reason noted: database or disk is full); no figure "
                        "includes them.\n"
                        "Note: 3 readings were not stored though no write to the database "
                        "failed: the shim's sampler thread did not run when they fell due (a "
                        "loaded machine starves it), or the database stayed locked by other "
                        "writers for too long; no figure includes them.\n"
                        "Warning: MaxPeakRSS_MB is more than 1.2x MeanRSS_End_MB; prefer the "
                        "conservative recommendation and consider staggering worker starts.\n"
                        "Warning: only 4 runs entered the statistics; percentiles of fewer "
                        "than 5 runs say little about the next one.\n"
                        "Warning: 1 of 5 runs (20%) were left out of the statistics (not "
                        "measured, stopped before they finished, or still running); the advice "
                        "covers only the 4 included.\n"
                        "Paste_parallel: parallel -j 4\n"
                        "Paste_xargs: xargs -P 4\n"
                        "Paste_make: make -j 4\n"
                        "Paste_sbatch: sbatch --array=0-4%4 --mem=2481M\n"
                        "Paste_snakemake: resources: mem_mb=2468\n"
                        "Paste_nextflow: memory '2353 MB'\n");
    free(text);

    /* The notes of missing figures come first; one reading is one. */
    compute_example(&a, 0);
    memset(&a.report, 0, sizeof a.report);
    a.report.unstored = 1;
    a.have_report = 1;
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    assert_non_null(strstr(text, "Note: MemTotal unknown; recommendations omitted (see "
                                 "--mem-total-mb).\n"
                                 "Note: 1 reading was not stored though no write to the "
                                 "database failed: the shim's sampler thread did not run when "
                                 "it fell due (a loaded machine starves it), or the database "
                                 "stayed locked by other writers for too long; no figure "
                                 "includes it.\n"));
    assert_null(strstr(text, "\nSkipped: "));
    assert_null(strstr(text, "\nExcluded: "));
    assert_null(strstr(text, "writes to the database failed"));
    free(text);

    /* Only readings of processes whose writes failed; a note without text names none. */
    a.report.unstored = 2;
    a.report.unstored_failed = 2;
    text = render(ms_advisory_write_post, NULL, &a, NULL);
    assert_non_null(strstr(text, "\nNote: 2 readings were lost by processes whose writes to "
                                 "the database failed; no figure includes them.\n"));
    assert_null(strstr(text, "no write to the database failed"));
    free(text);
}

static void test_report_json(void **state)
{
    ms_advisory_t a;
    char *text;
    (void)state;
    compute_example(&a, 1);
    add_peak_summary(&a);
    example_report(&a.report);
    a.have_report = 1;
    text = render(ms_advisory_write_json, NULL, &a, NULL);
    assert_non_null(strstr(
        text,
        "\"LargestPeriodicMiss_Run\":2,"
        "\"Excluded\":{\"Count\":3,\"Reasons\":{\"statically linked\":2,\"setuid\":1}},"
        "\"Skipped\":{\"Runs\":{\"Count\":1,\"Reasons\":{\"NULL seq\":1}},"
        "\"Processes\":{\"Count\":0,\"Reasons\":{}},"
        "\"Samples\":{\"Count\":3,\"Reasons\":{\"NULL rss_kb\":2,\"negative rss_kb\":1}}},"
        "\"Ignored\":{\"Count\":1,\"Reasons\":{\"processes.hwm_kb negative or over 4 PiB\":1}},"
        "\"UnknownStatus\":{\"Count\":1,\"Reasons\":{\"exploded\":1}},"
        "\"Unstored\":7,\"UnstoredWriteFailed\":4,"
        "\"Notes\":[\"the database has no sweeps row; the machine's MemTotal and the sampling "
        "interval are unknown.\",\"1 run has a status this version does not know (exploded: "
        "1); counted as failed.\",\"4 readings were lost by processes whose writes to the "
        "database failed (the first reason noted: database or disk is full); no figure "
        "includes them.\",\"3 readings were not stored though no write to the database "
        "failed: the shim's sampler thread did not run when they fell due (a loaded machine "
        "starves it), or the database stayed locked by other writers for too long; no "
        "figure includes them.\"],"
        "\"Warnings\":["));
    free(text);
}

static void test_tally_keeps_a_few(void **state)
{
    ms_db_report_t r;
    char name[16];
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    int first = 1;
    (void)state;

    memset(&r, 0, sizeof r);
    for (int i = 0; i < MS_TALLY_KEEP + 2; i++) {
        snprintf(name, sizeof name, "r%d", i);
        ms_tally_add(&r.excluded, name);
    }
    ms_tally_add(&r.excluded, "r1");
    ms_tally_add(&r.excluded, NULL);
    assert_int_equal(r.excluded.total, MS_TALLY_KEEP + 4);
    assert_int_equal(r.excluded.n, MS_TALLY_KEEP);
    assert_int_equal(r.excluded.other, 3); /* r8, r9 and NULL */
    f = open_memstream(&text, &len);
    assert_non_null(f);
    ms_db_report_write(f, &r);
    fclose(f);
    assert_string_equal(text, "Excluded: 12 runs not measured (r1: 2, r0: 1, r2: 1, r3: 1, "
                              "r4: 1, r5: 1, r6: 1, r7: 1, other reasons: 3)\n");
    free(text);
    text = NULL;
    f = open_memstream(&text, &len);
    assert_non_null(f);
    ms_db_report_write_json(f, &first, &r);
    fclose(f);
    assert_non_null(strstr(text, "{\"Excluded\":{\"Count\":12,\"Reasons\":{\"r1\":2,\"r0\":1,"
                                 "\"r2\":1,\"r3\":1,\"r4\":1,\"r5\":1,\"r6\":1,\"r7\":1,"
                                 "\"other\":3}},"));
    free(text);
}

static void test_clean_text(void **state)
{
    char buf[12];
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    (void)state;

    ms_clean_text(buf, sizeof buf, "a\tb\nc\x7f");
    assert_string_equal(buf, "a?b?c?");
    ms_clean_text(buf, sizeof buf, "exactly 11!");
    assert_string_equal(buf, "exactly 11!");
    /* A cut text ends where a word ends, never inside one. */
    ms_clean_text(buf, sizeof buf, "exactly 12!!");
    assert_string_equal(buf, "exactly...");
    ms_clean_text(buf, sizeof buf, "a bcd efghij");
    assert_string_equal(buf, "a bcd...");
    ms_clean_text(buf, sizeof buf, "a bcdefgh ij");
    assert_string_equal(buf, "a...");
    ms_clean_text(buf, sizeof buf, "abcd efg  ijk");
    assert_string_equal(buf, "abcd efg...");
    /* Cut before a UTF-8 sequence, never inside one: "abcäö" is 7 bytes, ü would make 9. */
    ms_clean_text(buf, sizeof buf, "abc\xc3\xa4\xc3\xb6\xc3\xbcxyz");
    assert_string_equal(buf, "abc\xc3\xa4\xc3\xb6...");
    /* A lead byte without its continuation bytes is a stray byte; what follows it is
     * cleaned as usual. */
    ms_clean_text(buf, sizeof buf, "\xef\x11\x10z");
    assert_string_equal(buf, "\xef??z");
    ms_clean_text(buf, 4, "abcdef");
    assert_string_equal(buf, "");

    f = open_memstream(&text, &len);
    assert_non_null(f);
    ms_write_clean(f, "line one\nline two", 0);
    fputc('|', f);
    ms_write_clean(f, "0123456789", 8);
    fputc('|', f);
    ms_write_clean(f, "01234567", 8);
    fputc('|', f);
    ms_write_clean(f, "dynamically linked", 17);
    fclose(f);
    assert_string_equal(text, "line one?line two|01234...|01234567|dynamically...");
    free(text);
}

static void test_json_strings_are_utf8(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    (void)state;

    f = open_memstream(&text, &len);
    assert_non_null(f);
    /* Kept: ASCII, a 2-byte and a 4-byte character. Replaced: a stray continuation byte,
     * an overlong form, a surrogate, a truncated sequence at the end. */
    ms_json_string(f, "a\"\\\x01 \xc3\xa4 \xf0\x9f\x98\x80 \x80 \xc0\xaf \xed\xa0\x80 \xe2\x82");
    fclose(f);
    assert_string_equal(text, "\"a\\\"\\\\\\u0001 \xc3\xa4 \xf0\x9f\x98\x80 \\ufffd "
                              "\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\"");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_machine_from_spec_example),
        cmocka_unit_test(test_usable_never_negative),
        cmocka_unit_test(test_workers_spec_example),
        cmocka_unit_test(test_pre_section_exact),
        cmocka_unit_test(test_pre_section_fallback),
        cmocka_unit_test(test_post_section_exact),
        cmocka_unit_test(test_left_out_runs),
        cmocka_unit_test(test_divergence_breakdown),
        cmocka_unit_test(test_divergence_lines),
        cmocka_unit_test(test_post_without_memtotal_omits_recommendations),
        cmocka_unit_test(test_basis_falls_back_to_end),
        cmocka_unit_test(test_no_fit_warning),
        cmocka_unit_test(test_no_runs),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_paste_lines),
        cmocka_unit_test(test_paste_without_figures),
        cmocka_unit_test(test_limit_reserve_rule),
        cmocka_unit_test(test_reserve_rule_of_recorded),
        cmocka_unit_test(test_pre_section_machine_lines),
        cmocka_unit_test(test_post_machine_lines_and_cpu_note),
        cmocka_unit_test(test_json_machine_fields),
        cmocka_unit_test(test_report_lines),
        cmocka_unit_test(test_report_json),
        cmocka_unit_test(test_tally_keeps_a_few),
        cmocka_unit_test(test_clean_text),
        cmocka_unit_test(test_json_strings_are_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
