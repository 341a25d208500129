/*
 * Unit tests for the status line of `memsweep run` on a terminal (launcher/supervise.c,
 * ms_progress_line): the bar, the counts, the elapsed time and ETA, the live RSS against
 * Usable_MB and the largest run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "supervise.h"

static void test_line(void **state)
{
    char buf[512];
    ms_progress_t p = {.done = 5, .total = 20, .running = 2, .failed = 1, .elapsed_s = 50.0,
                       .live_kb = 412 * 1024, .usable_mb = 23081, .max_run_kb = 210 * 1024 + 512};
    (void)state;

    ms_progress_line(&p, buf, sizeof buf);
    /* 5 of 20 in 50 s: 15 more at 10 s each. */
    assert_string_equal(buf, "memsweep: [#####...............] 5/20 done, 2 running, 1 failed, "
                             "0:50, ETA 2:30, RSS 412 of 23081 MiB, largest 210.5 MiB");
}

static void test_start_and_end(void **state)
{
    char buf[512];
    ms_progress_t p = {.total = 3, .running = 3, .elapsed_s = 0.2};
    (void)state;

    /* Nothing ended yet: no ETA, no largest run; Usable_MB unknown. */
    ms_progress_line(&p, buf, sizeof buf);
    assert_string_equal(buf, "memsweep: [....................] 0/3 done, 3 running, 0 failed, "
                             "0:00, RSS 0 MiB");
    p.done = 3;
    p.running = 0;
    p.elapsed_s = 3725.0;
    p.max_run_kb = 1024;
    ms_progress_line(&p, buf, sizeof buf);
    assert_string_equal(buf, "memsweep: [####################] 3/3 done, 0 running, 0 failed, "
                             "1:02:05, RSS 0 MiB, largest 1.0 MiB");
}

static void test_scheduled(void **state)
{
    char buf[512];
    ms_progress_t p = {.done = 1, .total = 9, .running = 1, .elapsed_s = 10.0,
                       .live_kb = 300 * 1024, .usable_mb = 900, .scheduled = 1, .cap = 2,
                       .budget_kb = 900 * 1024, .in_use_kb = 612 * 1024,
                       .waiting = "waiting for the budget"};
    (void)state;

    /* The cap, the budget in use and why the next run waits follow the usual fields. */
    ms_progress_line(&p, buf, sizeof buf);
    assert_string_equal(buf, "memsweep: [##..................] 1/9 done, 1 running (at most 2), "
                             "0 failed, 0:10, ETA 1:20, RSS 300 of 900 MiB, budget 612 of "
                             "900 MiB, waiting for the budget");
    p.budget_kb = 0;
    p.waiting = NULL;
    ms_progress_line(&p, buf, sizeof buf);
    assert_string_equal(buf, "memsweep: [##..................] 1/9 done, 1 running (at most 2), "
                             "0 failed, 0:10, ETA 1:20, RSS 300 of 900 MiB");
}

static void test_small_buffer(void **state)
{
    char buf[16];
    ms_progress_t p = {.done = 1, .total = 2, .elapsed_s = 1.0};
    (void)state;

    ms_progress_line(&p, buf, sizeof buf);
    assert_int_equal(strlen(buf), sizeof buf - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line),
        cmocka_unit_test(test_start_and_end),
        cmocka_unit_test(test_scheduled),
        cmocka_unit_test(test_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
