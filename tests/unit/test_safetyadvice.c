/*
 * Unit tests for analyzer/safetyadvice.c (the suggested safety factor: its percentile of
 * periodic misses, its spread within a configuration, rounding, range and caps) and for
 * its lines in the advisory's text and JSON.
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
#include "safetyadvice.h"

#define RUNS_MAX 16

/* Runs built one at a time: seq counts from 1, a NULL label is a run without parameters. */
typedef struct runs {
    ms_safety_run_t r[RUNS_MAX];
    size_t n;
} runs_t;

static void add(runs_t *rs, const char *label, unsigned long long peak_kb,
                unsigned long long periodic_kb)
{
    assert_true(rs->n < RUNS_MAX);
    rs->r[rs->n] = (ms_safety_run_t){.seq = (long long)rs->n + 1, .label = label,
                                     .peak_kb = peak_kb, .periodic_kb = periodic_kb};
    rs->n++;
}

static ms_safety_advice_t advise(const runs_t *rs, size_t oom_runs, double current)
{
    ms_safety_advice_t s;
    assert_int_equal(ms_safety_advice_compute(rs->r, rs->n, oom_runs, current, &s), 0);
    return s;
}

static void test_miss_percentile(void **state)
{
    /* Shortfalls 0, 0.1, 0.2, 0.3, 0.4: rank 0.95 * 4 = 3.8 gives 0.38, as numpy does. */
    static const unsigned long long periodic[] = {1000, 900, 800, 700, 600};
    runs_t rs = {0};
    ms_safety_advice_t s;
    (void)state;
    for (size_t i = 0; i < 5; i++)
        add(&rs, "same=1", 1000, periodic[i]);
    /* A run without a periodic peak is outside m's sample, not a shortfall of 100 %. */
    add(&rs, "same=1", 1000, 0);
    s = advise(&rs, 0, 0.85);
    assert_true(s.have);
    assert_int_equal(s.runs, 6);
    assert_int_equal(s.miss_runs, 5);
    assert_float_equal(s.miss, 0.38, 1e-12);
    assert_true(s.have_spread);
    assert_float_equal(s.spread, 0.0, 0.0);
    /* 1 / (1 + 0.05 + 0.38) = 0.6993. */
    assert_float_equal(s.quotient, 1.0 / 1.43, 1e-12);
    assert_int_equal(s.hundredths, 69);
    assert_float_equal(ms_safety_advice_factor(&s), 0.69, 1e-12);
}

static void test_negative_miss_is_no_credit(void **state)
{
    /* Periodic views above the peak (several processes) count as no shortfall. */
    runs_t rs = {0};
    ms_safety_advice_t s;
    (void)state;
    add(&rs, "k=1", 1000, 1100);
    add(&rs, "k=1", 1000, 1200);
    s = advise(&rs, 0, 0.85);
    assert_int_equal(s.miss_runs, 2);
    assert_float_equal(s.miss, 0.0, 0.0);
    assert_int_equal(s.hundredths, 95);
}

static void test_spread_with_repeats(void **state)
{
    runs_t rs = {0};
    ms_safety_advice_t s;
    (void)state;
    add(&rs, "n=50", 1000, 1000);  /* 1 */
    add(&rs, "n=80", 2000, 2000);  /* 2 */
    add(&rs, "n=120", 3000, 3000); /* 3: once, no spread */
    add(&rs, "n=50", 900, 900);    /* 4 */
    add(&rs, "n=80", 1900, 1900);  /* 5 */
    add(&rs, "n=50", 950, 950);    /* 6 */
    /* Runs without a label belong to no configuration, however far apart they are. */
    add(&rs, NULL, 5000, 5000);
    add(&rs, NULL, 100, 100);
    s = advise(&rs, 0, 0.85);
    assert_true(s.have_spread);
    assert_int_equal(s.spread_configs, 2);
    /* n=50: (1000 - 900) / 1000 = 0.1 against n=80's 0.05. */
    assert_float_equal(s.spread, 0.1, 1e-12);
    assert_int_equal(s.spread_max_seq, 1);
    assert_int_equal(s.spread_min_seq, 4);
    /* 1 / 1.15 = 0.8696: rounded down, not to the nearer 0.87. */
    assert_int_equal(s.rounded, 86);
    assert_int_equal(s.hundredths, 86);
    assert_int_equal(s.clamped, 0);
    assert_false(s.capped_unknown);
    /* Known terms allow a factor above the one in use. */
    s = advise(&rs, 0, 0.70);
    assert_int_equal(s.hundredths, 86);
}

static void test_spread_tie_names_earlier_configuration(void **state)
{
    runs_t rs = {0};
    ms_safety_advice_t s;
    (void)state;
    /* "b" sorts after "a" but ran first: its runs are the ones named. */
    add(&rs, "b=1", 1000, 1000);
    add(&rs, "a=1", 2000, 2000);
    add(&rs, "b=1", 800, 800);
    add(&rs, "a=1", 1600, 1600);
    s = advise(&rs, 0, 0.85);
    assert_float_equal(s.spread, 0.2, 1e-12);
    assert_int_equal(s.spread_max_seq, 1);
    assert_int_equal(s.spread_min_seq, 3);

    /* The same when the first to run also sorts first: a later tie does not replace it. */
    memset(&rs, 0, sizeof rs);
    add(&rs, "a=1", 2000, 2000);
    add(&rs, "b=1", 1000, 1000);
    add(&rs, "a=1", 1600, 1600);
    add(&rs, "b=1", 800, 800);
    s = advise(&rs, 0, 0.85);
    assert_int_equal(s.spread_max_seq, 1);
    assert_int_equal(s.spread_min_seq, 3);
}

static void test_rounds_down_exact_hundredths(void **state)
{
    /* A spread of 0.2 gives 1 / 1.25 = 0.8, which floating point must not turn into 0.79. */
    runs_t rs = {0};
    ms_safety_advice_t s;
    (void)state;
    add(&rs, "x=1", 1000, 1000);
    add(&rs, "x=1", 800, 800);
    s = advise(&rs, 0, 0.85);
    assert_float_equal(s.spread, 0.2, 1e-12);
    assert_int_equal(s.hundredths, 80);

    /* 34 / 120 makes 1 / (1.05 + v) exactly 0.75, which floating point reads as 74.99... */
    memset(&rs, 0, sizeof rs);
    add(&rs, "x=1", 120, 120);
    add(&rs, "x=1", 86, 86);
    s = advise(&rs, 0, 0.85);
    assert_true(s.quotient * 100.0 < 75.0);
    assert_int_equal(s.hundredths, 75);
}

static void test_without_repeats_capped_at_current(void **state)
{
    runs_t rs = {0};
    ms_safety_advice_t s;
    char reason[1024];
    (void)state;
    add(&rs, "n=50 k=1", 1000, 1000);
    add(&rs, "n=50 k=2", 1000, 1000);
    add(&rs, NULL, 1000, 1000);
    add(&rs, NULL, 1000, 1000);
    s = advise(&rs, 0, 0.85);
    assert_false(s.have_spread);
    assert_int_equal(s.spread_configs, 0);
    assert_float_equal(s.spread, 0.0, 0.0);
    /* The formula alone gives 0.95; without the spread nothing supports more than 0.85. */
    assert_int_equal(s.rounded, 95);
    assert_true(s.capped_unknown);
    assert_int_equal(s.hundredths, 85);
    ms_safety_advice_reason(&s, reason, sizeof reason);
    assert_non_null(strstr(reason, ", capped at SafetyFactor 0.85"));
    assert_non_null(strstr(reason, "repeat a configuration"));

    /* The cap is the factor in use (advise --safety-factor), rounded down to hundredths. */
    s = advise(&rs, 0, 0.678);
    assert_int_equal(s.hundredths, 67);
    /* Below the factor in use the cap does not bite, but the reason still asks for repeats. */
    s = advise(&rs, 0, 1.0);
    assert_false(s.capped_unknown);
    assert_int_equal(s.hundredths, 95);
    ms_safety_advice_reason(&s, reason, sizeof reason);
    assert_null(strstr(reason, "capped"));
    assert_non_null(strstr(reason, "repeat a configuration"));
}

static void test_no_periodic_peak_capped_at_current(void **state)
{
    runs_t rs = {0};
    ms_safety_advice_t s;
    char reason[1024];
    (void)state;
    add(&rs, "x=1", 1000, 0);
    add(&rs, "x=1", 1000, 0);
    s = advise(&rs, 0, 0.85);
    assert_int_equal(s.miss_runs, 0);
    assert_true(s.have_spread);
    assert_true(s.capped_unknown);
    assert_int_equal(s.hundredths, 85);
    ms_safety_advice_reason(&s, reason, sizeof reason);
    assert_non_null(strstr(reason, "m unknown"));
}

static void test_clamps(void **state)
{
    runs_t rs = {0};
    ms_safety_advice_t s;
    char reason[1024];
    (void)state;
    /* Shortfalls of 0.99 and spread 0.9: 1 / 2.94 = 0.34, raised to the floor 0.50. */
    add(&rs, "x=1", 1000, 10);
    add(&rs, "x=1", 100, 1);
    s = advise(&rs, 0, 0.85);
    assert_float_equal(s.spread, 0.9, 1e-12);
    assert_int_equal(s.rounded, 34);
    assert_int_equal(s.clamped, -1);
    assert_int_equal(s.hundredths, MS_SAFETY_MIN_HUNDREDTHS);
    ms_safety_advice_reason(&s, reason, sizeof reason);
    assert_non_null(strstr(reason, ", raised to the floor 0.50"));

    /* Nothing measured leaves the base alone: 1 / 1.05 = 0.952, the top of the range. */
    memset(&rs, 0, sizeof rs);
    add(&rs, "x=1", 1000, 1000);
    add(&rs, "x=1", 1000, 1000);
    s = advise(&rs, 0, 1.0);
    assert_int_equal(s.rounded, 95);
    assert_int_equal(s.clamped, 0);
    assert_int_equal(s.hundredths, MS_SAFETY_MAX_HUNDREDTHS);
}

static void test_oom_cap(void **state)
{
    runs_t rs = {0};
    ms_safety_advice_t s;
    char reason[1024];
    (void)state;
    add(&rs, "x=1", 1000, 1000);
    add(&rs, "x=1", 1000, 1000);
    s = advise(&rs, 1, 0.85);
    assert_true(s.capped_oom);
    assert_int_equal(s.hundredths, MS_SAFETY_OOM_CAP_HUNDREDTHS);
    ms_safety_advice_reason(&s, reason, sizeof reason);
    assert_non_null(strstr(reason, ", capped at 0.80"));
    assert_non_null(strstr(reason, "1 run ended oom"));

    /* Already below the cap: unchanged, and the reason still names the kills. */
    memset(&rs, 0, sizeof rs);
    add(&rs, "x=1", 1000, 1000);
    add(&rs, "x=1", 700, 700);
    s = advise(&rs, 2, 0.85);
    assert_false(s.capped_oom);
    assert_int_equal(s.hundredths, 74); /* 1 / 1.35 = 0.7407 */
    ms_safety_advice_reason(&s, reason, sizeof reason);
    assert_non_null(strstr(reason, "2 runs ended oom"));
}

static void test_fewer_than_two_runs(void **state)
{
    runs_t rs = {0};
    ms_safety_advice_t s;
    (void)state;
    s = advise(&rs, 0, 0.85);
    assert_false(s.have);
    add(&rs, "x=1", 1000, 1000);
    s = advise(&rs, 1, 0.85);
    assert_false(s.have);
    assert_int_equal(s.runs, 1);
    add(&rs, "x=1", 1000, 1000);
    s = advise(&rs, 0, 0.85);
    assert_true(s.have);
}

static void test_reason_text(void **state)
{
    runs_t rs = {0};
    ms_safety_advice_t s;
    char reason[1024];
    (void)state;
    add(&rs, "n=50", 1000, 900);
    add(&rs, "n=50", 900, 900);
    s = advise(&rs, 0, 0.85);
    ms_safety_advice_reason(&s, reason, sizeof reason);
    /* m: shortfalls 0.1 and 0 give 0.095; v 0.1; 1 / 1.245 = 0.8032. */
    assert_string_equal(reason,
                        "1 / (1 + base 0.05 + m 0.0950 + v 0.1000) = 0.8032, rounded down to "
                        "0.80; m: the 95th percentile of how far the periodic peak fell below "
                        "the run's peak, over 2 runs with a periodic peak; v: the widest "
                        "spread of peaks within one configuration, run 1 against run 2, of 1 "
                        "configuration run at least twice");
    /* A short buffer gets what fits, terminated. */
    ms_safety_advice_reason(&s, reason, 12);
    assert_string_equal(reason, "1 / (1 + ba");
}

/* The advisory of runs of 100 MiB end and the given peaks, on 10000 usable MiB. */
static void make_advisory(ms_advisory_t *a, int have_mem, double *peak, size_t n)
{
    ms_machine_t m;
    ms_run_counts_t c;
    double end[RUNS_MAX];
    for (size_t i = 0; i < n; i++)
        end[i] = 100.0;
    memset(&c, 0, sizeof c);
    c.total = c.included = n;
    ms_machine_init(&m, have_mem, 11024ULL * 1024ULL, 1024, 0.85);
    ms_advisory_compute(&m, &c, end, n, peak, n, a);
}

static char *render(void (*write)(FILE *, const ms_advisory_t *), const ms_advisory_t *a)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    write(f, a);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void test_advisory_lines(void **state)
{
    double peak[] = {150.0, 150.0, 150.0};
    runs_t rs = {0};
    ms_advisory_t *a = calloc(1, sizeof *a);
    char *text, *json, *p;
    (void)state;
    assert_non_null(a);
    make_advisory(a, 1, peak, 3);
    add(&rs, "x=1", 1000, 1000);
    add(&rs, "x=1", 800, 800);
    add(&rs, "x=2", 1000, 1000);
    a->have_safety = 1;
    assert_int_equal(ms_safety_advice_compute(rs.r, rs.n, 0, 0.85, &a->safety), 0);
    assert_int_equal(a->safety.hundredths, 80);

    /* The seed's formulas at 0.80: 10000 / 100 * 0.8 and 10000 / 150 * 0.8. */
    text = render(ms_advisory_write_post, a);
    assert_non_null(strstr(text, "\nSafetyFactor: 0.85\n"));
    assert_non_null(strstr(text, "\nRecommendedMaxWorkers_Aggressive: 85\n"));
    assert_non_null(strstr(text, "\nRecommendedMaxWorkers_Conservative: 56\n"));
    p = strstr(text, "\nSuggestedSafetyFactor: 0.80\n"
                     "SuggestedSafetyFactor_Workers_Aggressive: 80\n"
                     "SuggestedSafetyFactor_Workers_Conservative: 53\n"
                     "SuggestedSafetyFactor_Reason: 1 / (1 + base 0.05 + m 0.0000 + v 0.2000)");
    assert_non_null(p);
    /* After the seed's lines and memsweep's counts, before the runner lines. */
    assert_true(p > strstr(text, "RunsTotal: "));
    assert_true(p < strstr(text, "Paste_parallel: "));

    json = render(ms_advisory_write_json, a);
    assert_non_null(strstr(json, "\"SafetyFactor\":0.85,"));
    assert_non_null(strstr(json, ",\"SuggestedSafetyFactor\":0.80,"
                                 "\"SuggestedSafetyFactor_Workers_Aggressive\":80,"
                                 "\"SuggestedSafetyFactor_Workers_Conservative\":53,"
                                 "\"SuggestedSafetyFactor_Reason\":\"1 / (1 + base"));
    assert_non_null(strstr(json, "\"SuggestedSafetyFactor_Terms\":{\"Base\":0.05,"
                                 "\"PeriodicMiss_P95\":0.0000,\"PeriodicMiss_Runs\":3,"
                                 "\"PeakSpread\":0.2000,\"PeakSpread_Configurations\":1,"
                                 "\"Quotient\":0.8000,\"OomRuns\":0}"));
    free(text);
    free(json);

    /* Without MemTotal the counts are left out, as the seed's are; the factor stays. */
    make_advisory(a, 0, peak, 3);
    a->have_safety = 1;
    assert_int_equal(ms_safety_advice_compute(rs.r, rs.n, 0, 0.85, &a->safety), 0);
    text = render(ms_advisory_write_post, a);
    assert_non_null(strstr(text, "\nSuggestedSafetyFactor: 0.80\nSuggestedSafetyFactor_Reason: "));
    assert_null(strstr(text, "SuggestedSafetyFactor_Workers"));
    assert_null(strstr(text, "RecommendedMaxWorkers"));
    free(text);

    /* One run: no suggestion, and no line or key at all. */
    make_advisory(a, 1, peak, 1);
    a->have_safety = 1;
    assert_int_equal(ms_safety_advice_compute(rs.r, 1, 0, 0.85, &a->safety), 0);
    text = render(ms_advisory_write_post, a);
    json = render(ms_advisory_write_json, a);
    assert_null(strstr(text, "SuggestedSafetyFactor"));
    assert_null(strstr(json, "SuggestedSafetyFactor"));
    free(text);
    free(json);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_miss_percentile),
        cmocka_unit_test(test_negative_miss_is_no_credit),
        cmocka_unit_test(test_spread_with_repeats),
        cmocka_unit_test(test_spread_tie_names_earlier_configuration),
        cmocka_unit_test(test_rounds_down_exact_hundredths),
        cmocka_unit_test(test_without_repeats_capped_at_current),
        cmocka_unit_test(test_no_periodic_peak_capped_at_current),
        cmocka_unit_test(test_clamps),
        cmocka_unit_test(test_oom_cap),
        cmocka_unit_test(test_fewer_than_two_runs),
        cmocka_unit_test(test_reason_text),
        cmocka_unit_test(test_advisory_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
