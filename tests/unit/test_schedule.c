/*
 * Unit tests for the summary of a scheduled sweep (analyzer/schedule.c): the Schedule
 * line of the sweeps row's options, the highest predicted memory in use, the rules
 * counted and ordered, the waits, the peaks against their predictions, the text and JSON
 * lines and the two lines `peaks` prints of an admission; and the time-aligned sum of
 * readings the measured figure and the report's timeline share (analyzer/rsstimeline.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsstimeline.h"
#include "schedule.h"

#define MIB 1024ULL

/* What f wrote to a memory stream, NUL-terminated; the caller frees it. */
typedef void (*write_fn)(FILE *f, const ms_sched_summary_t *s);

static char *render(write_fn fn, const ms_sched_summary_t *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fn(f, s);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void write_json(FILE *f, const ms_sched_summary_t *s)
{
    int first = 1;
    ms_sched_write_json(f, &first, s);
    fputs(first ? "{}" : "}", f);
}

static ms_sched_admission_t adm(long long run_id, const char *rule, long long predicted_mib,
                                long long running, long long running_predicted_mib,
                                long long waited_ms)
{
    ms_sched_admission_t a;
    memset(&a, 0, sizeof a);
    a.run_id = run_id;
    a.have_decided = 1;
    a.decided_ns = 1000000000LL * run_id;
    snprintf(a.rule, sizeof a.rule, "%s", rule);
    if (predicted_mib >= 0) {
        a.have_predicted = 1;
        a.predicted_kb = (unsigned long long)predicted_mib * MIB;
    }
    a.running = running;
    a.have_running_predicted = 1;
    a.running_predicted_kb = (unsigned long long)running_predicted_mib * MIB;
    a.waited_ms = waited_ms;
    return a;
}

static void test_schedule_line(void **state)
{
    ms_sched_opts_t o;
    char buf[256];
    (void)state;

    memset(&o, 0, sizeof o);
    assert_int_equal(ms_sched_opts_text(&o, buf, sizeof buf), -1);
    assert_string_equal(buf, "");
    assert_false(ms_sched_opts_any(&o));
    /* -j alone is no scheduling option: the line would only repeat it. */
    o.jobs = 4;
    assert_int_equal(ms_sched_opts_text(&o, buf, sizeof buf), -1);

    o.jobs_auto = 1;
    o.jobs = 2;
    o.have_budget = 1;
    o.budget_kb = 900 * MIB;
    o.have_stagger = 1;
    o.stagger_ms = -1;
    snprintf(o.order, sizeof o.order, "size");
    o.have_retry = 1;
    o.retry_oom = 1;
    assert_int_equal(ms_sched_opts_text(&o, buf, sizeof buf), 0);
    assert_string_equal(buf, "-j auto (at most 2), --mem-budget 900 MiB, --stagger auto, "
                             "--order size, --retry-oom 1");

    /* A fixed -j, a budget of KiB that are no whole MiB, a stagger in seconds. */
    memset(&o, 0, sizeof o);
    o.jobs = 3;
    o.have_budget = 1;
    o.budget_kb = 900 * MIB + 512;
    o.have_stagger = 1;
    o.stagger_ms = 1500;
    assert_int_equal(ms_sched_opts_text(&o, buf, sizeof buf), 0);
    assert_string_equal(buf, "-j 3, --mem-budget 900.5 MiB, --stagger 1.5 s");

    /* --stagger 0 is recorded and said; a cut buffer stays terminated. */
    memset(&o, 0, sizeof o);
    o.have_stagger = 1;
    o.stagger_ms = 0;
    assert_int_equal(ms_sched_opts_text(&o, buf, sizeof buf), 0);
    assert_string_equal(buf, "--stagger 0 s");
    assert_int_equal(ms_sched_opts_text(&o, buf, 6), 0);
    assert_string_equal(buf, "--sta");
}

static void test_summary_figures(void **state)
{
    ms_sched_opts_t o;
    ms_sched_summary_t s;
    ms_sched_admission_t a[6];
    /* Peaks against predictions: 50%, 100% (not above), 150%, 125%. */
    const ms_sched_pair_t pairs[] = {
        {100 * MIB, 200 * MIB}, {300 * MIB, 300 * MIB}, {150 * MIB, 100 * MIB},
        {250 * MIB, 200 * MIB},
    };
    char *text;
    (void)state;

    memset(&o, 0, sizeof o);
    o.have_budget = 1;
    o.budget_kb = 1000 * MIB;
    a[0] = adm(1, "first", -1, 0, 0, 0);
    a[1] = adm(2, "idle", 200, 0, 0, 1500);
    a[2] = adm(3, "fit", 300, 1, 200, 0);
    a[3] = adm(4, "fit", 100, 2, 500, 250);
    /* The highest commitment: 400 running plus 450 of its own. */
    a[4] = adm(5, "fit", 450, 1, 400, 0);
    /* A retry with no prediction commits to no figure, however much runs beside it. */
    a[5] = adm(6, "retry", -1, 3, 2000, 5);
    /* Each admission of a sweep with a budget records it. */
    for (size_t i = 0; i < 6; i++) {
        a[i].have_budget = 1;
        a[i].budget_kb = 1000 * MIB;
    }
    assert_int_equal(ms_sched_summarize(&o, a, 6, 1, 640 * MIB, pairs, 4, &s), 0);
    assert_true(ms_sched_summary_any(&s));
    assert_int_equal(s.admissions, 6);
    assert_true(s.have_budget);
    assert_int_equal(s.budget_kb, 1000 * MIB);
    assert_true(s.have_predicted);
    assert_int_equal(s.highest_predicted_kb, 850 * MIB);
    assert_true(s.have_measured);
    assert_int_equal(s.highest_measured_kb, 640 * MIB);
    assert_int_equal(s.waited_ms, 1755);
    assert_int_equal(s.accuracy_runs, 4);
    /* Sorted 50, 100, 125, 150: the median interpolates between 100 and 125. */
    assert_float_equal(s.peak_of_predicted_median_pct, 112.5, 1e-9);
    assert_int_equal(s.above_predicted, 2);

    text = render(ms_sched_write, &s);
    assert_string_equal(text, "Schedule: --mem-budget 1000 MiB\n"
                              "Admissions: 6\n"
                              "Admission_Budget_MB: 1000.0\n"
                              "Admission_HighestPredicted_MB: 850.0\n"
                              "Admission_HighestPredicted_PctOfBudget: 85.0\n"
                              "Admission_HighestMeasured_MB: 640.0\n"
                              "Admission_HighestMeasured_PctOfBudget: 64.0\n"
                              "Admission_Rules: fit 3, idle 1, first 1, retry 1\n"
                              "Admission_Waited_s: 1.8\n"
                              "Admission_PeakVsPredicted_Runs: 4\n"
                              "Admission_PeakVsPredicted_MedianPct: 112.5\n"
                              "Admission_PeakAbovePredicted_Runs: 2\n");
    free(text);
    text = render(write_json, &s);
    assert_string_equal(text, "{\"Schedule\":\"--mem-budget 1000 MiB\",\"Admissions\":6,"
                              "\"Admission_Budget_MB\":1000.0,"
                              "\"Admission_HighestPredicted_MB\":850.0,"
                              "\"Admission_HighestPredicted_PctOfBudget\":85.0,"
                              "\"Admission_HighestMeasured_MB\":640.0,"
                              "\"Admission_HighestMeasured_PctOfBudget\":64.0,"
                              "\"Admission_Rules\":{\"fit\":3,\"idle\":1,\"first\":1,"
                              "\"retry\":1},\"Admission_Waited_s\":1.8,"
                              "\"Admission_PeakVsPredicted_Runs\":4,"
                              "\"Admission_PeakVsPredicted_MedianPct\":112.5,"
                              "\"Admission_PeakAbovePredicted_Runs\":2}");
    free(text);
}

static void test_summary_without_figures(void **state)
{
    ms_sched_opts_t o;
    ms_sched_summary_t s;
    ms_sched_admission_t a[3];
    char *text;
    (void)state;

    /* No options, no admissions: nothing to say at all. */
    memset(&o, 0, sizeof o);
    assert_int_equal(ms_sched_summarize(&o, NULL, 0, 0, 0, NULL, 0, &s), 0);
    assert_false(ms_sched_summary_any(&s));
    text = render(ms_sched_write, &s);
    assert_string_equal(text, "");
    free(text);
    text = render(write_json, &s);
    assert_string_equal(text, "{}");
    free(text);

    /*
     * Options without a budget in the sweeps row: the rows' budget stands in for it; no
     * prediction, no measured figure, no pair: their lines are left out.
     */
    o.have_stagger = 1;
    o.stagger_ms = 2000;
    a[0] = adm(1, "slot", -1, 0, 0, 2000);
    a[1] = adm(2, "slot", -1, 1, 0, 2000);
    a[2] = adm(3, "slot", -1, 1, 0, 2000);
    for (size_t i = 0; i < 3; i++) {
        a[i].have_budget = 1;
        a[i].budget_kb = 300 * MIB;
    }
    assert_int_equal(ms_sched_summarize(&o, a, 3, 0, 0, NULL, 0, &s), 0);
    assert_true(s.have_budget);
    assert_false(s.budgets_differ);
    assert_int_equal(s.budget_kb, 300 * MIB);
    text = render(ms_sched_write, &s);
    assert_string_equal(text, "Schedule: --stagger 2 s\n"
                              "Admissions: 3\n"
                              "Admission_Budget_MB: 300.0\n"
                              "Admission_Rules: slot 3\n"
                              "Admission_Waited_s: 6.0\n"
                              "Admission_PeakVsPredicted_Runs: 0\n");
    free(text);

    /* Sweeps read together with budgets of their own: no one budget, and no share of it. */
    a[2].budget_kb = 200 * MIB;
    assert_int_equal(ms_sched_summarize(&o, a, 3, 1, 250 * MIB, NULL, 0, &s), 0);
    assert_false(s.have_budget);
    assert_true(s.budgets_differ);
    text = render(ms_sched_write, &s);
    assert_non_null(strstr(text, "Admission_BudgetsDiffer: "));
    assert_null(strstr(text, "PctOfBudget"));
    assert_null(strstr(text, "Admission_Budget_MB"));
    free(text);
    a[0].have_budget = 0;
    assert_int_equal(ms_sched_summarize(&o, a, 3, 1, 250 * MIB, NULL, 0, &s), 0);
    assert_true(s.budgets_differ);

    /* Admissions without a measured total (no samples) leave that line out too. */
    a[0].have_budget = a[1].have_budget = a[2].have_budget = 0;
    assert_int_equal(ms_sched_summarize(&o, a, 3, 1, 0, NULL, 0, &s), 0);
    assert_false(s.have_budget);
    assert_true(s.have_measured);
    text = render(ms_sched_write, &s);
    assert_non_null(strstr(text, "Admission_HighestMeasured_MB: 0.0\n"));
    assert_null(strstr(text, "PctOfBudget"));
    assert_null(strstr(text, "Admission_Budget_MB"));
    free(text);
}

static void test_rules_order_and_other(void **state)
{
    ms_sched_opts_t o;
    ms_sched_summary_t s;
    ms_sched_admission_t a[16];
    static const char *const rules[16] = {
        "zeta", "alone", "fit",  "retry", "idle", "first", "slot", "r8",
        "r9",   "r10",   "fit",  "zeta",  "idle", "alone", "r10",  "r11",
    };
    char *text;
    (void)state;

    memset(&o, 0, sizeof o);
    for (int i = 0; i < 16; i++)
        a[i] = adm(i + 1, rules[i], 10, 0, 0, 0);
    assert_int_equal(ms_sched_summarize(&o, a, 16, 0, 0, NULL, 0, &s), 0);
    /*
     * Eight distinct rules kept in the order first seen (r9, r10, r11 come after the
     * room is full and are other); most frequent first, a tie in the launcher's order
     * fit, idle, first, alone, retry, slot, then the others as first seen.
     */
    assert_int_equal(s.n_rules, MS_SCHED_RULES_MAX);
    assert_int_equal(s.rules_other, 4);
    text = render(ms_sched_write, &s);
    assert_non_null(strstr(text, "Admission_Rules: fit 2, idle 2, alone 2, zeta 2, first 1, "
                                 "retry 1, slot 1, r8 1, other 4\n"));
    free(text);
}

static void test_admission_lines(void **state)
{
    ms_sched_admission_t a = adm(5, "fit", 300, 2, 480, 1250);
    char what[512], beside[512];
    (void)state;

    snprintf(a.basis, sizeof a.basis, "trend of n");
    a.have_running_rss = 1;
    a.running_rss_kb = 402 * MIB;
    a.have_available = 1;
    a.available_kb = 2048 * MIB;
    snprintf(a.available_source, sizeof a.available_source, "/proc/meminfo MemAvailable");
    a.have_budget = 1;
    a.budget_kb = 900 * MIB;
    /* Decided 5 s after the epoch; the sweep started at 2 s. */
    ms_sched_admission_text(&a, 2000000000LL, 1, 330 * MIB, what, sizeof what, beside,
                            sizeof beside);
    assert_string_equal(what, "fit at 3.00 s, waited 1.25 s; predicted 300.0 MiB (trend of n), "
                              "peak 330.0 MiB = 110.0% of it");
    assert_string_equal(beside, "2 running (predicted 480.0 MiB, RSS 402.0 MiB), available "
                                "2048.0 MiB (/proc/meminfo MemAvailable), budget 900.0 MiB");

    /* No start to place it, no prediction, nothing running, no budget. */
    a = adm(1, "first", -1, 0, 0, 0);
    ms_sched_admission_text(&a, 0, 1, 330 * MIB, what, sizeof what, beside, sizeof beside);
    assert_string_equal(what, "first, waited 0.00 s; no prediction");
    assert_string_equal(beside, "nothing running, no budget");
}

static void test_rss_sum(void **state)
{
    ms_rss_sum_t s;
    (void)state;

    assert_int_equal(ms_rss_sum_init(&s, 3), 0);
    assert_false(s.have_max);
    /* Two processes rise; the first falls before the second peaks. */
    assert_int_equal(ms_rss_sum_reading(&s, 0, 10, 100), 100);
    assert_int_equal(ms_rss_sum_reading(&s, 1, 20, 50), 150);
    assert_int_equal(ms_rss_sum_reading(&s, 0, 30, 40), 90);
    assert_int_equal(ms_rss_sum_reading(&s, 1, 40, 120), 160);
    /* An end takes the process's latest reading out; a new process starts from 0. */
    assert_int_equal(ms_rss_sum_end(&s, 0), 120);
    assert_int_equal(ms_rss_sum_reading(&s, 2, 50, 30), 150);
    assert_int_equal(ms_rss_sum_end(&s, 1), 30);
    assert_true(s.have_max);
    /* Not the sum of the peaks (100 + 120): the readings aligned in time. */
    assert_int_equal(s.max, 160);
    assert_int_equal(s.max_at_ns, 40);
    /* A later equal total keeps the first time it was reached. */
    assert_int_equal(ms_rss_sum_reading(&s, 0, 60, 130), 160);
    assert_int_equal(s.max_at_ns, 40);
    ms_rss_sum_free(&s);
    assert_null(s.cur);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_line),
        cmocka_unit_test(test_summary_figures),
        cmocka_unit_test(test_summary_without_figures),
        cmocka_unit_test(test_rules_order_and_other),
        cmocka_unit_test(test_admission_lines),
        cmocka_unit_test(test_rss_sum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
