/*
 * Unit tests for analyzer/peaks.c (sample kinds, the periodic shortfall, the summary and
 * its thresholds, the text and JSON renderings) and for `memsweep peaks` itself on a
 * database built here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cli_peaks.h"
#include "memsweep/schema.h"
#include "peaks.h"

#define MIB 1024ULL /* one MiB in kB */
#define S_NS 1000000000LL

static char tmpdir[] = "/tmp/ms-test-peaks-XXXXXX";

/* Renders with a writer into a malloc'd string. */
/*
 * Not inlined: gcc 12 would otherwise take the returned text for the local `buf` whose
 * address open_memstream keeps, and warn of a dangling pointer at every use.
 */
static __attribute__((noinline)) char *render_run(void (*w)(FILE *, const ms_peaks_run_info_t *, const ms_run_peaks_t *,
                                  const char *),
                        const ms_peaks_run_info_t *info, const ms_run_peaks_t *p,
                        const char *frames)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    w(f, info, p, frames);
    fclose(f);
    return buf;
}

static __attribute__((noinline)) char *render_summary(const ms_peak_summary_t *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    ms_peak_summary_write(f, s);
    fclose(f);
    return buf;
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (; *text != '\0'; text++)
        n += *text == '\n';
    return n;
}

static void expect_prefix(const char *text, const char *prefix)
{
    assert_non_null(text);
    if (strncmp(text, prefix, strlen(prefix)) != 0)
        fail_msg("'%s' does not start with '%s'", text, prefix);
}

static void expect_contains(const char *text, const char *part)
{
    assert_non_null(text);
    if (strstr(text, part) == NULL)
        fail_msg("'%s' lacks '%s'", text, part);
}

static void test_kind_classification(void **state)
{
    static const char *const others[] = {"", "tic", "ticks", "Tick", "starts", "en",
                                         "allocation", "releases", "spike", "x"};
    (void)state;
    assert_int_equal(ms_sample_kind_of("start"), MS_SAMPLE_START);
    assert_int_equal(ms_sample_kind_of("tick"), MS_SAMPLE_TICK);
    assert_int_equal(ms_sample_kind_of("end"), MS_SAMPLE_END);
    assert_int_equal(ms_sample_kind_of("alloc"), MS_SAMPLE_ALLOC);
    assert_int_equal(ms_sample_kind_of("release"), MS_SAMPLE_RELEASE);
    assert_int_equal(ms_sample_kind_of(NULL), MS_SAMPLE_OTHER);
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        if (ms_sample_kind_of(others[i]) != MS_SAMPLE_OTHER)
            fail_msg("'%s' classified as a known kind", others[i]);
    for (int k = 0; k < MS_SAMPLE_OTHER; k++)
        assert_int_equal(ms_sample_kind_of(ms_sample_kind_name((ms_sample_kind_t)k)), k);
    assert_string_equal(ms_sample_kind_name(MS_SAMPLE_OTHER), "other");
    assert_true(ms_sample_kind_is_periodic(MS_SAMPLE_TICK));
    assert_false(ms_sample_kind_is_periodic(MS_SAMPLE_RELEASE));
    assert_false(ms_sample_kind_is_periodic(MS_SAMPLE_OTHER));
    assert_true(ms_sample_kind_is_alloc(MS_SAMPLE_ALLOC));
    assert_false(ms_sample_kind_is_alloc(MS_SAMPLE_OTHER));
}

static void test_miss_pct(void **state)
{
    (void)state;
    assert_float_equal(ms_peak_miss_pct(400, 300), 25.0, 0.0);
    assert_float_equal(ms_peak_miss_pct(1000, 1000), 0.0, 0.0);
    assert_float_equal(ms_peak_miss_pct(0, 0), 0.0, 0.0);
    assert_float_equal(ms_peak_miss_pct(0, 50), 0.0, 0.0);
    assert_float_equal(ms_peak_miss_pct(360 * MIB, 100 * MIB), 260.0 * 100.0 / 360.0, 1e-12);
    /* A periodic reading above the view is a negative shortfall. */
    assert_float_equal(ms_peak_miss_pct(300, 400), -100.0 / 3.0, 1e-12);
}

static void test_miss_exceeds_is_exact(void **state)
{
    (void)state;
    /* Exactly 5 % and exactly 20 % are not more than that, one kB less is. */
    assert_false(ms_peak_miss_exceeds(100 * MIB, 95 * MIB, 5.0));
    assert_true(ms_peak_miss_exceeds(100 * MIB, 95 * MIB - 1, 5.0));
    assert_false(ms_peak_miss_exceeds(100 * MIB, 80 * MIB, 20.0));
    assert_true(ms_peak_miss_exceeds(100 * MIB, 80 * MIB - 1, 20.0));
    assert_false(ms_peak_miss_exceeds(0, 0, 5.0));
    assert_false(ms_peak_miss_exceeds(100, 200, 5.0));
    /* Over many sizes, an exact 5 % shortfall never rounds above the threshold. */
    for (unsigned long long view = 20; view <= 20ULL * 200000; view += 20) {
        const unsigned long long at = view - view / 20;
        if (ms_peak_miss_exceeds(view, at, 5.0) || !ms_peak_miss_exceeds(view, at - 1, 5.0))
            fail_msg("threshold misjudged for view %llu", view);
    }
}

static ms_run_peaks_t single(unsigned long long periodic_kb, unsigned long long true_kb)
{
    ms_run_peaks_t p;
    memset(&p, 0, sizeof p);
    p.periodic_kb = periodic_kb;
    p.all_kb = periodic_kb;
    p.hwm_max_kb = true_kb;
    p.hwm_sum_kb = true_kb;
    p.hwm_alive = 1;
    p.hwm_procs = 1;
    return p;
}

static void test_summary_thresholds(void **state)
{
    ms_peak_summary_t s;
    ms_run_peaks_t p;
    char *text;
    (void)state;

    ms_peak_summary_init(&s);
    p = single(95 * MIB, 100 * MIB); /* exactly 5 % */
    ms_peak_summary_add(&s, 1, &p);
    p = single(80 * MIB, 100 * MIB); /* exactly 20 % */
    ms_peak_summary_add(&s, 2, &p);
    p = single(100 * MIB, 160 * MIB); /* 37.5 % */
    ms_peak_summary_add(&s, 3, &p);
    p = single(50 * MIB, 80 * MIB); /* 37.5 % again, later: the first run is named */
    ms_peak_summary_add(&s, 4, &p);
    p = single(96 * MIB, 100 * MIB); /* 4 % */
    ms_peak_summary_add(&s, 5, &p);
    assert_int_equal(s.runs, 5);
    assert_int_equal(s.over_small, 3);
    assert_int_equal(s.over_large, 2);
    assert_float_equal(s.largest_pct, 37.5, 0.0);
    assert_int_equal(s.largest_seq, 3);
    text = render_summary(&s);
    assert_string_equal(text, "PeriodicMissOver5Pct_Runs: 3\n"
                              "PeriodicMissOver20Pct_Runs: 2\n"
                              "LargestPeriodicMiss_Pct: 37.5\n"
                              "LargestPeriodicMiss_Run: 3\n");
    free(text);
}

static void test_summary_without_miss(void **state)
{
    ms_peak_summary_t s;
    ms_run_peaks_t p;
    char *text;
    (void)state;

    /* No run compared: only the two counts. */
    ms_peak_summary_init(&s);
    text = render_summary(&s);
    assert_string_equal(text, "PeriodicMissOver5Pct_Runs: 0\nPeriodicMissOver20Pct_Runs: 0\n");
    free(text);

    /* Runs that missed nothing, or read above the true peak: 0.0 and no run named. */
    p = single(100 * MIB, 100 * MIB);
    ms_peak_summary_add(&s, 1, &p);
    p = single(100 * MIB, 90 * MIB);
    p.all_kb = 100 * MIB;
    p.periodic_kb = 110 * MIB;
    ms_peak_summary_add(&s, 2, &p);
    assert_false(s.have_largest_run);
    text = render_summary(&s);
    assert_string_equal(text, "PeriodicMissOver5Pct_Runs: 0\n"
                              "PeriodicMissOver20Pct_Runs: 0\n"
                              "LargestPeriodicMiss_Pct: 0.0\n");
    free(text);
}

/* The overlapping run of test_sweepread: a wrapper and a worker with a spike. */
static void example_run(ms_peaks_run_info_t *info, ms_run_peaks_t *p)
{
    memset(info, 0, sizeof *info);
    info->seq = 2;
    info->run_id = 12;
    info->label = "n=7 \"quoted\"";
    info->status = "ok";
    info->status_known = 1;
    info->n_processes = 2;
    info->n_samples = 10;
    memset(p, 0, sizeof *p);
    p->periodic_kb = 70 * MIB;
    p->all_kb = 300 * MIB;
    p->hwm_max_kb = 300 * MIB;
    p->hwm_sum_kb = 330 * MIB;
    p->hwm_alive = 2;
    p->hwm_procs = 3;
    p->procs = 2;
    p->exit_hwm_procs = 2;
    p->overlap = 1;
    p->kinds[MS_SAMPLE_START] = 2;
    p->kinds[MS_SAMPLE_TICK] = 4;
    p->kinds[MS_SAMPLE_END] = 2;
    p->kinds[MS_SAMPLE_ALLOC] = 1;
    p->kinds[MS_SAMPLE_RELEASE] = 1;
    p->dropped = 10;
    p->dropped_rate = 7;
    p->dropped_queue = 3;
    p->tracking = MS_TRACKING_ON;
    p->have_stack = 1;
    p->stack_kind = MS_SAMPLE_RELEASE;
    p->stack_id = 3;
    p->stack_rss_kb = 290 * MIB;
    p->stack_t_ns = 3000000000LL;
}

static void test_run_text(void **state)
{
    ms_peaks_run_info_t info;
    ms_run_peaks_t p;
    char *text;
    (void)state;

    example_run(&info, &p);
    text = render_run(ms_peaks_write_run, &info, &p,
                      "/usr/bin/w+0x30 fill\n/lib/libc.so.6+0x29d8f __libc_start_main\n");
    assert_string_equal(text, "Run 2: n=7 \"quoted\"\n"
                              "  Status: ok\n"
                              "  Processes: 2\n"
                              "  Samples: 10 (start 2, tick 4, end 2, alloc 1, release 1)\n"
                              "  PeriodicPeakRSS_MB: 70.0\n"
                              "  AllSamplesPeakRSS_MB: 300.0\n"
                              "  VmHWM_MB: 330.0 (upper bound, 2 processes alive at once)\n"
                              "  Wait4MaxRSS_MB: not recorded\n"
                              "  PeakRSS_MB: 300.0 (lower bound)\n"
                              "  PeriodicMissVsAllSamples_Pct: 76.7\n"
                              "  PeriodicMissVsVmHWM_Pct: 78.8\n"
                              "  PeriodicMissVsPeak_Pct: 76.7\n"
                              "  AllocTracking: on\n"
                              "  AllocDropped: 10 (rate limit 7, full queue 3)\n"
                              "  PeakStack: release sample at 290.0 MiB, 2 frames\n"
                              "    /usr/bin/w+0x30 fill\n"
                              "    /lib/libc.so.6+0x29d8f __libc_start_main\n");
    free(text);

    /* Only the top frames, with the count of the others, unless --full. */
    info.max_frames = 1;
    text = render_run(ms_peaks_write_run, &info, &p, "/usr/bin/w+0x30 fill\n"
                                                      "/lib/libc.so.6+0x29d8f __libc_start_main\n");
    expect_contains(text, "  PeakStack: release sample at 290.0 MiB, 2 frames\n"
                          "    /usr/bin/w+0x30 fill\n"
                          "    ... 1 more frame (--full shows them)\n");
    free(text);
    info.max_frames = 0;

    /* One process alive at a time (of several): VmHWM is exact, no label; an unknown
     * kind is listed; a stack whose row is missing is named by id. */
    info.label = NULL;
    p.hwm_alive = 1;
    p.kinds[MS_SAMPLE_OTHER] = 4;
    p.tracking = MS_TRACKING_UNKNOWN;
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    expect_contains(text, "Run 2\n  Status: ok\n");
    expect_contains(text, "  VmHWM_MB: 330.0\n");
    expect_contains(text, "release 1, other 4)\n");
    expect_contains(text, "  AllocTracking: not recorded\n");
    expect_contains(text, "  PeakStack: release sample at 290.0 MiB, stack 3 not recorded\n");
    free(text);

    /* One process whose exit the kernel reported: its peak is exact. */
    p.rows = 1;
    p.procs = 1;
    p.exit_hwm_procs = 1;
    p.overlap = 0;
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    expect_contains(text, "  PeakRSS_MB: 300.0 (exact)\n");
    free(text);

    /* wait4 at its VmHWM still is; above it, a process the shim did not see (a static
     * child) had more, and may have run beside it: a lower bound. */
    p.wait4 = MS_WAIT4_ABOVE;
    p.wait4_kb = 300 * MIB;
    p.wait4_floor_kb = 4 * MIB;
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    expect_contains(text, "  PeakRSS_MB: 300.0 (exact)\n");
    free(text);
    p.wait4_kb = 500 * MIB;
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    expect_contains(text, "  PeakRSS_MB: 500.0 (lower bound)\n");
    free(text);

    /* A row without samples (a process killed before its first) makes it a bound too. */
    p.wait4 = MS_WAIT4_NONE;
    p.rows = 2;
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    expect_contains(text, "  PeakRSS_MB: 300.0 (lower bound)\n");
    free(text);
    p.rows = 1;

    /* Killed before its exit record (no VmHWM), reaped by the launcher: ru_maxrss above
     * the floor is the peak the run reached, a lower bound (it may be a child's), and the
     * periodic miss is measured against it. */
    p.hwm_procs = 0;
    p.exit_hwm_procs = 0;
    p.hwm_max_kb = 0;
    p.hwm_sum_kb = 0;
    p.wait4 = MS_WAIT4_ABOVE;
    p.wait4_kb = 350 * MIB;
    p.wait4_floor_kb = 4 * MIB;
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    expect_contains(text, "  Wait4MaxRSS_MB: 350.0\n"
                          "  PeakRSS_MB: 350.0 (lower bound)\n"
                          "  PeriodicMissVsAllSamples_Pct: 76.7\n"
                          "  PeriodicMissVsVmHWM_Pct: 0.0\n"
                          "  PeriodicMissVsWait4_Pct: 80.0\n"
                          "  PeriodicMissVsPeak_Pct: 80.0\n");
    free(text);

    /* The same without a kernel figure: the samples' peak, a lower bound. */
    p.wait4 = MS_WAIT4_NONE;
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    expect_contains(text, "  PeakRSS_MB: 300.0 (lower bound)\n");
    free(text);

    /* ru_maxrss at or below the floor may be the launcher's copy: shown, not used. */
    p.wait4 = MS_WAIT4_AT_FLOOR;
    p.wait4_kb = 3 * MIB;
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    expect_contains(text, "  Wait4MaxRSS_MB: 3.0 (not above the launcher's floor of 4.0; "
                          "not used)\n"
                          "  PeakRSS_MB: 300.0 (lower bound)\n");
    free(text);

    /* No stack at all. */
    p.have_stack = 0;
    p.tracking = MS_TRACKING_OFF;
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    expect_contains(text, "  AllocTracking: off\n");
    expect_contains(text, "  PeakStack: none\n");
    free(text);
}

static void test_run_text_without_samples(void **state)
{
    ms_peaks_run_info_t info;
    ms_run_peaks_t p;
    char *text;
    (void)state;

    example_run(&info, &p);
    memset(&p, 0, sizeof p);
    p.tracking = MS_TRACKING_UNKNOWN;
    info.n_samples = 0;
    info.status = "failed";
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    assert_string_equal(text, "Run 2: n=7 \"quoted\"\n"
                              "  Status: failed\n"
                              "  Processes: 2\n"
                              "  Samples: 0 (no memory sample; not compared)\n"
                              "  AllocTracking: not recorded\n"
                              "  AllocDropped: 0 (rate limit 0, full queue 0)\n"
                              "  PeakStack: none\n");
    free(text);
}

static void test_run_json(void **state)
{
    ms_peaks_run_info_t info;
    ms_run_peaks_t p;
    char *text;
    (void)state;

    example_run(&info, &p);
    text = render_run(ms_peaks_write_run_json, &info, &p, "/usr/bin/w+0x30 fill\nmain\n");
    expect_prefix(text, "{\"Seq\":2,\"RunId\":12,\"Label\":\"n=7 \\\"quoted\\\"\",");
    expect_contains(text, "\"SamplesByKind\":{\"start\":2,\"tick\":4,\"end\":2,\"alloc\":1,"
                          "\"release\":1,\"growth\":0,\"exec\":0,\"other\":0},");
    expect_contains(text, "\"PeriodicPeakRSS_MB\":70.0,\"AllSamplesPeakRSS_MB\":300.0,"
                          "\"SharedPagesByPSS\":false,\"RSSSumPeak_MB\":null,"
                          "\"VmHWM_MB\":330.0,\"VmHWM_Processes\":3,\"VmHWM_AliveAtOnce\":2,"
                          "\"VmHWM_UpperBound\":true,"
                          "\"Wait4MaxRSS_MB\":null,\"Wait4Floor_MB\":null,"
                          "\"Wait4AboveFloor\":null,\"PeakRSS_MB\":300.0,"
                          "\"PeakRSS_Exact\":false,");
    expect_contains(text, "\"PeriodicMissVsWait4_Pct\":null,\"PeriodicMissVsPeak_Pct\":76.7,");
    expect_contains(text, "\"AllocTracking\":true,\"AllocDropped\":10,\"AllocDroppedRate\":7,"
                          "\"AllocDroppedQueue\":3,");
    expect_contains(text, "\"PeakStack\":{\"Kind\":\"release\",\"RSS_MB\":290.0,"
                          "\"T_ns\":3000000000,\"StackId\":3,"
                          "\"Frames\":[\"/usr/bin/w+0x30 fill\",\"main\"]}}");
    assert_int_equal(text[strlen(text) - 1], '}');
    free(text);

    p.rows = 1;
    p.procs = 1;
    p.exit_hwm_procs = 1;
    p.overlap = 0;
    p.wait4 = MS_WAIT4_ABOVE;
    p.wait4_kb = 350 * MIB;
    p.wait4_floor_kb = 4 * MIB;
    p.hwm_max_kb = 350 * MIB;
    text = render_run(ms_peaks_write_run_json, &info, &p, NULL);
    expect_contains(text, "\"Wait4MaxRSS_MB\":350.0,\"Wait4Floor_MB\":4.0,"
                          "\"Wait4AboveFloor\":true,\"PeakRSS_MB\":350.0,"
                          "\"PeakRSS_Exact\":true,");
    expect_contains(text, "\"PeriodicMissVsWait4_Pct\":80.0,\"PeriodicMissVsPeak_Pct\":80.0,");
    free(text);

    /* Without samples the figures are null, and so are unknown tracking and the stack. */
    memset(&p, 0, sizeof p);
    p.tracking = MS_TRACKING_UNKNOWN;
    info.n_samples = 0;
    info.label = NULL;
    text = render_run(ms_peaks_write_run_json, &info, &p, NULL);
    expect_contains(text, "\"Label\":null,");
    expect_contains(text, "\"Compared\":false,");
    expect_contains(text, "\"PeriodicPeakRSS_MB\":null,");
    expect_contains(text, "\"PeakRSS_Exact\":null,");
    expect_contains(text, "\"PeriodicMissVsPeak_Pct\":null,");
    expect_contains(text, "\"AllocTracking\":null,");
    expect_contains(text, "\"PeakStack\":null}");
    free(text);
}

static void test_summary_json(void **state)
{
    ms_peak_summary_t s;
    ms_run_peaks_t p;
    char *buf = NULL;
    size_t len = 0;
    FILE *f;
    int first = 1;
    (void)state;

    ms_peak_summary_init(&s);
    f = open_memstream(&buf, &len);
    assert_non_null(f);
    ms_peaks_write_summary_json(f, 3, &s, NULL);
    fclose(f);
    assert_string_equal(buf, "{\"RunsTotal\":3,\"RunsCompared\":0,"
                             "\"ProcessesWithoutExitRecord\":0,"
                             "\"ProcessesWithoutExitRecordInRunningRuns\":0,"
                             "\"MainProcessesWithoutExitRecord\":0,"
                             "\"PeriodicMissOver5Pct_Runs\":0,\"PeriodicMissOver20Pct_Runs\":0,"
                             "\"LargestPeriodicMiss_Pct\":null,\"LargestPeriodicMiss_Run\":null,"
                             "\"SharedPagesByPSS_Runs\":0,"
                             "\"RunsWithWait4Peak\":0,\"SamplesMissOver5PctVsWait4_Runs\":0,"
                             "\"Excluded\":{\"Count\":0,\"Reasons\":{}},"
                             "\"Skipped\":{\"Runs\":{\"Count\":0,\"Reasons\":{}},"
                             "\"Processes\":{\"Count\":0,\"Reasons\":{}},"
                             "\"Samples\":{\"Count\":0,\"Reasons\":{}}},"
                             "\"Ignored\":{\"Count\":0,\"Reasons\":{}},"
                             "\"UnknownStatus\":{\"Count\":0,\"Reasons\":{}},"
                             "\"Unstored\":0,\"UnstoredWriteFailed\":0,\"Notes\":[]}");
    free(buf);

    /* Inside the advisory absent figures are left out, as the text leaves them out. */
    p = single(60 * MIB, 100 * MIB);
    ms_peak_summary_add(&s, 7, &p);
    buf = NULL;
    f = open_memstream(&buf, &len);
    assert_non_null(f);
    ms_peak_summary_write_json(f, &first, &s, 0);
    fclose(f);
    assert_string_equal(buf, "{\"PeriodicMissOver5Pct_Runs\":1,\"PeriodicMissOver20Pct_Runs\":1,"
                             "\"LargestPeriodicMiss_Pct\":40.0,\"LargestPeriodicMiss_Run\":7");
    free(buf);
}

static void test_run_text_report(void **state)
{
    ms_peaks_run_info_t info;
    ms_run_peaks_t p;
    ms_proc_note_t notes[2];
    char long_note[300];
    char *text;
    (void)state;

    memset(long_note, 'n', sizeof long_note - 1);
    long_note[sizeof long_note - 1] = '\0';
    notes[0].text = (char *)"database is\nread-only";
    notes[0].pid = 4242;
    notes[0].processes = 1;
    notes[1].text = long_note;
    notes[1].pid = 77;
    notes[1].processes = 3;
    example_run(&info, &p);
    p.have_stack = 0;
    info.label = "a\tb";
    info.status = "running";
    info.unstored = 12;
    info.unstored_failed = 9;
    info.ended_abnormally = 2;
    info.notes = notes;
    info.n_notes = 2;
    info.more_notes = 1;
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    /* Control characters of the database's text never reach the output as such. */
    expect_prefix(text, "Run 2: a?b\n  Status: running\n");
    expect_contains(text, "  AllocDropped: 10 (rate limit 7, full queue 3)\n"
                          "  Unstored: 12 (9 where writes failed, see the notes; 3 not taken "
                          "in time or held up by a busy database)\n"
                          "  ProcessesWithoutExitRecord: 2 (or still running)\n"
                          "  OtherProcessesWithoutExitRecord: 2 (still running, or killed by a "
                          "signal, crashed or ended by a raw exit system call; the database "
                          "does not say which)\n"
                          "  Note: pid 4242: database is?read-only\n"
                          "  Note: 3 processes, first pid 77: ");
    expect_contains(text, "nnn...\n  Note: 1 more distinct note not shown\n  PeakStack: none\n");
    /* The long note is cut to MS_NOTE_TEXT_MAX bytes, its "..." included. */
    {
        const char *line = strstr(text, "first pid 77: ");
        const char *end;
        assert_non_null(line);
        line += strlen("first pid 77: ");
        end = strchr(line, '\n');
        assert_non_null(end);
        assert_int_equal(end - line, MS_NOTE_TEXT_MAX);
    }
    free(text);

    /* A run marked as not measured, with a status this version does not know. */
    example_run(&info, &p);
    memset(&p, 0, sizeof p);
    p.tracking = MS_TRACKING_UNKNOWN;
    info.status = "exploded";
    info.status_known = 0;
    info.not_measured = "statically linked";
    info.n_processes = 0;
    info.n_samples = 0;
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    assert_string_equal(text, "Run 2: n=7 \"quoted\"\n"
                              "  Status: exploded (unknown; counted as failed)\n"
                              "  Processes: 0\n"
                              "  NotMeasured: statically linked\n"
                              "  Samples: 0 (run not measured; not compared)\n"
                              "  AllocTracking: not recorded\n"
                              "  AllocDropped: 0 (rate limit 0, full queue 0)\n"
                              "  PeakStack: none\n");
    free(text);
    /* Marked as not measured but with samples: still not compared. */
    info.n_samples = 4;
    assert_false(ms_peaks_run_compared(&info));
    text = render_run(ms_peaks_write_run_json, &info, &p, NULL);
    expect_contains(text, "\"Status\":\"exploded\",\"StatusKnown\":false,"
                          "\"NotMeasured\":\"statically linked\",");
    expect_contains(text, "\"Compared\":false,");
    expect_contains(text, "\"Unstored\":0,\"UnstoredWriteFailed\":0,"
                          "\"ProcessesWithoutExitRecord\":0,\"MainProcessEnd\":null,"
                          "\"OtherProcessesWithoutExitRecord\":0,\"Notes\":[],"
                          "\"NotesNotShown\":0,");
    free(text);
}

static void test_run_json_report(void **state)
{
    ms_peaks_run_info_t info;
    ms_run_peaks_t p;
    ms_proc_note_t note = {(char *)"full \xff disk", 9, 2};
    char *text;
    (void)state;

    example_run(&info, &p);
    info.unstored = 5;
    info.unstored_failed = 5;
    info.ended_abnormally = 1;
    info.notes = &note;
    info.n_notes = 1;
    info.more_notes = 4;
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    expect_contains(text, "  Unstored: 5 (writes to the database failed; see the notes)\n");
    free(text);
    info.unstored_failed = 0;
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    expect_contains(text, "  Unstored: 5 (not taken in time or held up by a busy database; "
                          "no write failed)\n");
    free(text);
    info.unstored_failed = 5;
    text = render_run(ms_peaks_write_run_json, &info, &p, NULL);
    expect_contains(text, "\"StatusKnown\":true,\"NotMeasured\":null,");
    expect_contains(text, "\"AllocDroppedQueue\":3,\"Unstored\":5,\"UnstoredWriteFailed\":5,"
                          "\"ProcessesWithoutExitRecord\":1,\"MainProcessEnd\":null,"
                          "\"OtherProcessesWithoutExitRecord\":1,"
                          "\"Notes\":[{\"Note\":\"full \\ufffd disk\",\"Pid\":9,\"Processes\":2}],"
                          "\"NotesNotShown\":4,\"PeakStack\":");
    free(text);
}

static void test_hwm_concurrent(void **state)
{
    /* A shell (10 MiB, 0-100 s) running 400 programs of 500 MiB one after another. */
    ms_hwm_span_t v[401];
    size_t alive = 0;
    (void)state;

    v[0] = (ms_hwm_span_t){0, 100 * S_NS, 10 * MIB};
    for (int i = 1; i <= 400; i++)
        v[i] = (ms_hwm_span_t){i * (S_NS / 5), i * (S_NS / 5) + S_NS / 10, 500 * MIB};
    assert_int_equal(ms_hwm_concurrent(v, 401, &alive), 510 * MIB);
    assert_int_equal(alive, 2);

    /* One ends exactly when the next starts (an exec): not alive together. */
    v[0] = (ms_hwm_span_t){0, 5, 100};
    v[1] = (ms_hwm_span_t){5, 9, 70};
    assert_int_equal(ms_hwm_concurrent(v, 2, &alive), 100);
    assert_int_equal(alive, 1);
    /* Overlapping by one nanosecond, they are; given in any order. */
    v[0] = (ms_hwm_span_t){4, 9, 70};
    v[1] = (ms_hwm_span_t){0, 5, 100};
    assert_int_equal(ms_hwm_concurrent(v, 2, &alive), 170);
    assert_int_equal(alive, 2);
    /* The largest sum need not have the most processes: three small, then one large. */
    v[0] = (ms_hwm_span_t){0, 10, 1};
    v[1] = (ms_hwm_span_t){0, 10, 1};
    v[2] = (ms_hwm_span_t){0, 10, 1};
    v[3] = (ms_hwm_span_t){20, 30, 50};
    assert_int_equal(ms_hwm_concurrent(v, 4, &alive), 50);
    assert_int_equal(alive, 1);
    /* An instant (start = end) still counts its own peak. */
    v[0] = (ms_hwm_span_t){7, 7, 42};
    assert_int_equal(ms_hwm_concurrent(v, 1, &alive), 42);
    assert_int_equal(alive, 1);
    assert_int_equal(ms_hwm_concurrent(v, 0, &alive), 0);
    assert_int_equal(alive, 0);
}

static void test_run_main_process_end(void **state)
{
    ms_peaks_run_info_t info;
    ms_run_peaks_t p;
    ms_main_end_t m = {.pid = 4321, .have_signal = 1, .signal = 13};
    char *text;
    (void)state;

    example_run(&info, &p);
    info.status = "killed";
    info.ended_abnormally = 3;
    info.main_end = &m;
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    expect_contains(text, "  ProcessesWithoutExitRecord: 3\n"
                          "  MainProcessEnd: pid 4321, killed by signal 13 (SIGPIPE)\n"
                          "  OtherProcessesWithoutExitRecord: 2 (killed by a signal, crashed "
                          "or ended by a raw exit system call; the database does not say "
                          "which)\n");
    free(text);
    text = render_run(ms_peaks_write_run_json, &info, &p, NULL);
    expect_contains(text, "\"ProcessesWithoutExitRecord\":3,\"MainProcessEnd\":{\"Pid\":4321,"
                          "\"Signal\":13,\"ExitCode\":null},\"OtherProcessesWithoutExitRecord\":2,");
    free(text);

    /* Only the main process; memsweep's own signal says so; no name for a number that
     * differs between architectures. */
    info.ended_abnormally = 1;
    info.status = "timeout";
    m.signal = 15;
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    expect_contains(text, "  ProcessesWithoutExitRecord: 1\n"
                          "  MainProcessEnd: pid 4321, killed by signal 15 (SIGTERM), sent by "
                          "memsweep at the timeout\n  ");
    assert_null(strstr(text, "OtherProcesses"));
    free(text);
    info.status = "oom";
    m.signal = 10;
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    expect_contains(text, "  MainProcessEnd: pid 4321, killed by signal 10, by the kernel's "
                          "out-of-memory killer\n");
    free(text);

    /* An exit status without an exit record: a raw exit system call, as Go makes. */
    info.status = "ok";
    m.have_signal = 0;
    m.exit_code = 0;
    text = render_run(ms_peaks_write_run, &info, &p, NULL);
    expect_contains(text, "  MainProcessEnd: pid 4321, exited with status 0 but left no exit "
                          "record (a raw exit system call, as Go programs make, or an exit "
                          "that did not wait for the shim's last write)\n");
    assert_null(strstr(text, "killed"));
    free(text);
    text = render_run(ms_peaks_write_run_json, &info, &p, NULL);
    expect_contains(text, "\"MainProcessEnd\":{\"Pid\":4321,\"Signal\":null,\"ExitCode\":0},"
                          "\"OtherProcessesWithoutExitRecord\":0,");
    free(text);
}

static void test_summary_with_report(void **state)
{
    ms_peak_summary_t s;
    ms_db_report_t r;
    char *buf = NULL;
    size_t len = 0;
    FILE *f;
    (void)state;

    ms_peak_summary_init(&s);
    memset(&r, 0, sizeof r);
    r.ended_abnormally = 3;
    r.ended_abnormally_running = 1;
    r.ended_abnormally_main = 1;
    r.unstored = 8;
    r.bad[MS_BAD_SAMPLE_DUP] = 4;
    ms_tally_add(&r.excluded, "setuid");
    f = open_memstream(&buf, &len);
    assert_non_null(f);
    ms_peaks_write_summary(f, 2, &s, &r);
    fclose(f);
    assert_string_equal(buf, "Summary\n"
                             "RunsTotal: 2\n"
                             "RunsCompared: 0\n"
                             "ProcessesWithoutExitRecord: 3 (1 in runs still running)\n"
                             "MainProcessesWithoutExitRecord: 1\n"
                             "Unstored: 8\n"
                             "PeriodicMissOver5Pct_Runs: 0\n"
                             "PeriodicMissOver20Pct_Runs: 0\n"
                             "RunsWithWait4Peak: 0\n"
                             "SamplesMissOver5PctVsWait4_Runs: 0\n"
                             "Excluded: 1 run not measured (setuid: 1)\n"
                             "Skipped: 4 samples (duplicate: 4)\n"
                             "Note: 8 readings were not stored though no write to the database "
                             "failed: the shim's sampler thread did not run when they fell due "
                             "(a loaded machine starves it), or the database stayed locked by "
                             "other writers for too long; no figure includes them.\n");
    free(buf);
    buf = NULL;
    f = open_memstream(&buf, &len);
    assert_non_null(f);
    ms_peaks_write_summary_json(f, 2, &s, &r);
    fclose(f);
    expect_contains(buf, "\"ProcessesWithoutExitRecord\":3,"
                         "\"ProcessesWithoutExitRecordInRunningRuns\":1,"
                         "\"MainProcessesWithoutExitRecord\":1,");
    expect_contains(buf, "\"Samples\":{\"Count\":4,\"Reasons\":{\"duplicate\":4}}},");
    expect_contains(buf, "\"Unstored\":8,\"UnstoredWriteFailed\":0,"
                         "\"Notes\":[\"8 readings were not stored though");
    assert_int_equal(buf[strlen(buf) - 1], '}');
    free(buf);
}

/* ---- memsweep peaks on a database ---- */

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "sql failed: %s\n", msg ? msg : "?");
        sqlite3_free(msg);
        fail();
    }
}

/* Run 1 spikes between ticks (caught by a release sample); run 2 has no sample. */
static void make_db(const char *path)
{
    sqlite3 *db = NULL;
    char sql[128];
    unlink(path);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_sql(db, MS_SCHEMA_SQL);
    snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d;",
             MS_APPLICATION_ID, MS_SCHEMA_VERSION);
    exec_sql(db, sql);
    exec_sql(db,
             "INSERT INTO sweeps(sweep_id, started_ns, mem_total_kb, reserve_mb, safety_factor,"
             " interval_ms) VALUES (1, 0, 8388608, 1024, 0.85, 500);"
             "INSERT INTO runs(run_id, sweep_id, seq, label, status) VALUES"
             " (1, 1, 1, 'mib=64', 'ok'), (2, 1, 2, 'mib=128', 'failed');"
             "INSERT INTO processes(proc_id, run_id, pid, started_ns, ended_ns, hwm_kb,"
             " alloc_tracking, alloc_dropped, alloc_dropped_rate, alloc_dropped_queue) VALUES"
             " (1, 1, 10, 0, 3000000000, 262144, 1, 2, 2, 0),"
             " (2, 2, 11, 0, NULL, NULL, NULL, NULL, NULL, NULL);"
             "INSERT INTO stacks(stack_id, hash, depth, frames) VALUES"
             " (5, 55, 2, '/nonexistent/w+0x40 spike' || char(10) || '/nonexistent/w+0x90 main');"
             "INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind, stack_id) VALUES"
             " (1, 0, 2048, 2048, 'start', NULL),"
             " (1, 500000000, 65536, 65536, 'tick', NULL),"
             " (1, 600000000, 196608, 196608, 'release', 5),"
             " (1, 1000000000, 65536, 196608, 'tick', NULL),"
             " (1, 3000000000, 65536, 262144, 'end', NULL);");
    sqlite3_close(db);
}

/* Runs `memsweep peaks` in this process with stdout and stderr sent to files. */
static int run_peaks(int argc, const char **argv, char **out, char **errout)
{
    char outpath[300], errpath[300];
    int saved_out, saved_err, fd_out, fd_err, rc;
    FILE *f;
    long n;

    snprintf(outpath, sizeof outpath, "%s/out", tmpdir);
    snprintf(errpath, sizeof errpath, "%s/err", tmpdir);
    fflush(stdout);
    fflush(stderr);
    saved_out = dup(1);
    saved_err = dup(2);
    fd_out = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    fd_err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved_out >= 0 && saved_err >= 0 && fd_out >= 0 && fd_err >= 0);
    dup2(fd_out, 1);
    dup2(fd_err, 2);
    rc = ms_cmd_peaks(argc, (char **)argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    close(fd_out);
    close(fd_err);
    for (int i = 0; i < 2; i++) {
        char **dst = i == 0 ? out : errout;
        f = fopen(i == 0 ? outpath : errpath, "r");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        rewind(f);
        *dst = calloc(1, (size_t)n + 1);
        assert_non_null(*dst);
        assert_int_equal(fread(*dst, 1, (size_t)n, f), (size_t)n);
        fclose(f);
    }
    return rc;
}

/*
 * `memsweep peaks` on a sweep run with --retry-oom and a budget (schema 9): the attempt
 * the out-of-memory killer ended shows inside its run's block, not as a run; one that no
 * attempt follows is a block of its own, marked; each run shows its admission; the
 * summary counts runs once and the retried apart.
 */
static void test_cli_attempts_and_admissions(void **state)
{
    char db[300];
    char *out, *err;
    sqlite3 *h = NULL;
    (void)state;

    snprintf(db, sizeof db, "%s/retried.db", tmpdir);
    unlink(db);
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    exec_sql(h, MS_SCHEMA_SQL);
    {
        char sql[128];
        snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d;",
                 MS_APPLICATION_ID, MS_SCHEMA_VERSION);
        exec_sql(h, sql);
    }
    exec_sql(h,
             "INSERT INTO sweeps(sweep_id, started_ns, finished_ns, mem_total_kb, reserve_mb,"
             " safety_factor, interval_ms, origin, mem_budget_kb, retry_oom) VALUES"
             " (1, 1000000000, 9000000000, 8388608, 1024, 0.85, 500, 'launcher', 1024000, 1);"
             "INSERT INTO runs(run_id, sweep_id, seq, label, status, attempt, superseded) VALUES"
             " (1, 1, 1, 'mib=64', 'oom', 1, 1), (2, 1, 1, 'mib=64', 'ok', 2, NULL),"
             " (3, 1, 2, 'mib=128', 'oom', 1, 1);"
             "INSERT INTO processes(proc_id, run_id, pid, started_ns, ended_ns, hwm_kb) VALUES"
             " (1, 1, 10, 1000000000, NULL, NULL), (2, 2, 11, 3000000000, 4000000000, 204800),"
             " (3, 3, 12, 5000000000, NULL, NULL);"
             "INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind) VALUES"
             " (1, 1500000000, 307200, 307200, 'tick'),"
             " (2, 3500000000, 204800, 204800, 'tick'), (2, 4000000000, 153600, 204800, 'end'),"
             " (3, 5500000000, 409600, 409600, 'tick');"
             "INSERT INTO admissions(run_id, decided_ns, rule, predicted_kb, basis, running,"
             " running_predicted_kb, running_rss_kb, available_kb, available_source, budget_kb,"
             " waited_ms) VALUES"
             " (1, 2000000000, 'fit', 102400, 'largest so far', 1, 51200, 40960, 7168000,"
             "  'MemAvailable', 1024000, 0),"
             " (2, 4000000000, 'retry', 409600, 'largest so far', 0, 0, 0, 7168000,"
             "  'MemAvailable', 1024000, 500);");
    sqlite3_close(h);

    {
        const char *argv[] = {"peaks", db, NULL};
        assert_int_equal(run_peaks(2, argv, &out, &err), 0);
        assert_string_equal(err, "");
        expect_prefix(out, "Run 1: mib=64\n"
                           "  Status: ok\n"
                           "  Attempt: 2 of 2 (after 1 attempt the out-of-memory killer ended, "
                           "which counts in no figure)\n"
                           "  EarlierAttempt: attempt 1 of 2, oom, retried; PeakRSS_MB 300.0 "
                           "(lower bound), 1 process, 1 sample; admitted: fit at 1.00 s, waited "
                           "0.00 s; predicted 100.0 MiB (largest so far), peak 300.0 MiB = 300.0% "
                           "of it\n"
                           "  Admission: retry at 3.00 s, waited 0.50 s; predicted 400.0 MiB "
                           "(largest so far), peak 200.0 MiB = 50.0% of it\n"
                           "  AdmittedBeside: nothing running, available 7000.0 MiB "
                           "(MemAvailable), budget 1000.0 MiB\n"
                           "  Processes: 1\n");
        expect_contains(out, "\nRun 2: mib=128\n"
                             "  Status: oom\n"
                             "  Attempt: 1, superseded (a later attempt was to replace it after "
                             "an out-of-memory kill, but the database holds none); it counts in "
                             "no figure\n"
                             "  Processes: 1\n");
        expect_contains(out, "\nSummary\n"
                             "RunsTotal: 1\n"
                             "RunsCompared: 1\n"
                             "RetriedAfterOOM_Runs: 1\n"
                             "RetriedAfterOOM_Attempts: 2\n"
                             "ProcessesWithoutExitRecord: 0\n"
                             "MainProcessesWithoutExitRecord: 0\n");
        /* Two blocks: the run and the attempt nothing follows; the killed one is a line. */
        assert_null(strstr(strstr(out, "Run 2: ") + 1, "\nRun "));
        free(out);
        free(err);
    }
    {
        const char *argv[] = {"peaks", "--json", db, NULL};
        assert_int_equal(run_peaks(3, argv, &out, &err), 0);
        assert_string_equal(err, "");
        expect_prefix(out, "{\"runs\":[{\"Seq\":1,\"RunId\":2,\"Label\":\"mib=64\","
                           "\"Status\":\"ok\",\"StatusKnown\":true,\"Attempt\":2,\"Attempts\":2,\"Superseded\":false,"
                           "\"EarlierAttempts\":[{\"Attempt\":1,\"RunId\":1,\"Status\":\"oom\","
                           "\"Processes\":1,\"Samples\":1,\"PeakRSS_MB\":300.0,"
                           "\"PeakRSS_Exact\":false,\"PeakRSS_Is\":\"lower bound\",\"Admission\":{\"Rule\":\"fit\","
                           "\"Decided_ns\":2000000000,\"Decided_s\":1.000,\"Waited_s\":0.000,"
                           "\"Predicted_MB\":100.0,\"Basis\":\"largest so far\","
                           "\"PeakOfPredicted_Pct\":300.0,\"Running\":1,"
                           "\"RunningPredicted_MB\":50.0,\"RunningRSS_MB\":40.0,"
                           "\"Available_MB\":7000.0,\"AvailableSource\":\"MemAvailable\","
                           "\"Budget_MB\":1000.0}}],\"Admission\":{\"Rule\":\"retry\",");
        expect_contains(out, "{\"Seq\":2,\"RunId\":3,\"Label\":\"mib=128\",\"Status\":\"oom\","
                             "\"StatusKnown\":true,\"Attempt\":1,\"Attempts\":null,"
                             "\"Superseded\":true,\"NotMeasured\":null,");
        expect_contains(out, "\"summary\":{\"RunsTotal\":1,\"RunsCompared\":1,"
                             "\"RetriedAfterOOM_Runs\":1,\"RetriedAfterOOM_Attempts\":2,");
        free(out);
        free(err);
    }
}

static void test_cli(void **state)
{
    char db[300], missing[300];
    char *out, *err;
    (void)state;

    snprintf(db, sizeof db, "%s/memsweep.db", tmpdir);
    snprintf(missing, sizeof missing, "%s/missing.db", tmpdir);
    make_db(db);

    {
        const char *argv[] = {"peaks", tmpdir, NULL};
        assert_int_equal(run_peaks(2, argv, &out, &err), 0);
        assert_string_equal(err, "");
        assert_string_equal(out, "Run 1: mib=64\n"
                                 "  Status: ok\n"
                                 "  Processes: 1\n"
                                 "  Samples: 5 (start 1, tick 2, end 1, alloc 0, release 1)\n"
                                 "  PeriodicPeakRSS_MB: 64.0\n"
                                 "  AllSamplesPeakRSS_MB: 192.0\n"
                                 "  VmHWM_MB: 256.0\n"
                                 "  Wait4MaxRSS_MB: not recorded\n"
                                 "  PeakRSS_MB: 256.0 (exact)\n"
                                 "  PeriodicMissVsAllSamples_Pct: 66.7\n"
                                 "  PeriodicMissVsVmHWM_Pct: 75.0\n"
                                 "  PeriodicMissVsPeak_Pct: 75.0\n"
                                 "  AllocTracking: on\n"
                                 "  AllocDropped: 2 (rate limit 2, full queue 0)\n"
                                 "  PeakStack: release sample at 192.0 MiB, 2 frames\n"
                                 "    w+0x40 spike (missing)\n"
                                 "    w+0x90 main (missing)\n"
                                 "  LargeBlocks: none recorded\n"
                                 "\n"
                                 "Run 2: mib=128\n"
                                 "  Status: failed\n"
                                 "  Processes: 1\n"
                                 "  Samples: 0 (no memory sample; not compared)\n"
                                 "  AllocTracking: not recorded\n"
                                 "  AllocDropped: 0 (rate limit 0, full queue 0)\n"
                                 "  ProcessesWithoutExitRecord: 1\n"
                                 "  OtherProcessesWithoutExitRecord: 1 (killed by a signal, "
                                 "crashed or ended by a raw exit system call; the database does "
                                 "not say which)\n"
                                 "  PeakStack: none\n"
                                 "  LargeBlocks: none recorded\n"
                                 "\n"
                                 "Summary\n"
                                 "RunsTotal: 2\n"
                                 "RunsCompared: 1\n"
                                 "ProcessesWithoutExitRecord: 1\n"
                                 "MainProcessesWithoutExitRecord: 0\n"
                                 "Unstored: 0\n"
                                 "PeriodicMissOver5Pct_Runs: 1\n"
                                 "PeriodicMissOver20Pct_Runs: 1\n"
                                 "LargestPeriodicMiss_Pct: 75.0\n"
                                 "LargestPeriodicMiss_Run: 1\n"
                                 "RunsWithWait4Peak: 0\n"
                                 "SamplesMissOver5PctVsWait4_Runs: 0\n"
                                 "Excluded: 1 run not measured (no memory sample: 1)\n");
        free(out);
        free(err);
    }
    {
        const char *argv[] = {"peaks", "--json", db, NULL};
        assert_int_equal(run_peaks(3, argv, &out, &err), 0);
        assert_string_equal(err, "");
        expect_prefix(out, "{\"runs\":[{\"Seq\":1,");
        expect_contains(out, "\"Frames\":[\"/nonexistent/w+0x40 spike\",\"/nonexistent/w+0x90 main\"],"
                             "\"Symbolized\":[\"w+0x40 spike (missing)\",\"w+0x90 main (missing)\"]},"
                             "\"LargeBlocks\":null},{\"Seq\":2,");
        expect_contains(out, "],\"summary\":{\"RunsTotal\":2,\"RunsCompared\":1,"
                             "\"ProcessesWithoutExitRecord\":1,"
                             "\"ProcessesWithoutExitRecordInRunningRuns\":0,"
                             "\"MainProcessesWithoutExitRecord\":0,"
                             "\"PeriodicMissOver5Pct_Runs\":1,\"PeriodicMissOver20Pct_Runs\":1,"
                             "\"LargestPeriodicMiss_Pct\":75.0,\"LargestPeriodicMiss_Run\":1,"
                             "\"SharedPagesByPSS_Runs\":0,"
                             "\"RunsWithWait4Peak\":0,\"SamplesMissOver5PctVsWait4_Runs\":0,"
                             "\"Excluded\":{\"Count\":1,\"Reasons\":{\"no memory sample\":1}},"
                             "\"Skipped\":{\"Runs\":{\"Count\":0,\"Reasons\":{}},"
                             "\"Processes\":{\"Count\":0,\"Reasons\":{}},"
                             "\"Samples\":{\"Count\":0,\"Reasons\":{}}},"
                             "\"Ignored\":{\"Count\":0,\"Reasons\":{}},"
                             "\"UnknownStatus\":{\"Count\":0,\"Reasons\":{}},"
                             "\"Unstored\":0,\"UnstoredWriteFailed\":0,\"Notes\":[]}}\n");
        free(out);
        free(err);
    }
    {
        const char *argv[] = {"peaks", missing, NULL};
        assert_int_equal(run_peaks(2, argv, &out, &err), 1);
        assert_string_equal(out, "");
        expect_contains(err, "memsweep: ");
        expect_contains(err, "missing.db: No such file or directory\n");
        assert_int_equal(count_lines(err), 1);
        free(out);
        free(err);
    }
    {
        const char *argv[] = {"peaks", NULL};
        assert_int_equal(run_peaks(1, argv, &out, &err), 2);
        assert_string_equal(err, "memsweep: missing PATH (a sweep directory or database)\n"
                                 "Try 'memsweep peaks --help'.\n");
        free(out);
        free(err);
    }
    {
        const char *argv[] = {"peaks", "--bogus", db, NULL};
        assert_int_equal(run_peaks(3, argv, &out, &err), 2);
        expect_contains(err, "memsweep: unknown option '--bogus'\n");
        free(out);
        free(err);
    }
    {
        /* The same database twice is one sweep: its runs are counted once. */
        const char *once[] = {"peaks", db, NULL};
        const char *argv[] = {"peaks", db, db, NULL};
        char *out1 = NULL, *err1 = NULL;
        assert_int_equal(run_peaks(2, once, &out1, &err1), 0);
        assert_int_equal(run_peaks(3, argv, &out, &err), 0);
        assert_string_equal(out, out1);
        free(out1);
        free(err1);
        free(out);
        free(err);
    }
    {
        const char *argv[] = {"peaks", "--help", NULL};
        assert_int_equal(run_peaks(2, argv, &out, &err), 0);
        expect_prefix(out, "Usage: memsweep peaks [OPTION]... PATH...\n");
        assert_string_equal(err, "");
        free(out);
        free(err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_classification),
        cmocka_unit_test(test_miss_pct),
        cmocka_unit_test(test_miss_exceeds_is_exact),
        cmocka_unit_test(test_summary_thresholds),
        cmocka_unit_test(test_summary_without_miss),
        cmocka_unit_test(test_run_text),
        cmocka_unit_test(test_run_text_without_samples),
        cmocka_unit_test(test_run_json),
        cmocka_unit_test(test_summary_json),
        cmocka_unit_test(test_run_text_report),
        cmocka_unit_test(test_run_json_report),
        cmocka_unit_test(test_run_main_process_end),
        cmocka_unit_test(test_hwm_concurrent),
        cmocka_unit_test(test_summary_with_report),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_cli_attempts_and_admissions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
