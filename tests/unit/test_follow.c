/*
 * Unit tests for include/memsweep/follow.h: the period of the readings that follow growth
 * adapts to the rate at which RSS rises against what the process holds, within its
 * bounds; following stops once the process ran without growing, or waited; and a
 * reading is stored once RSS has risen by a step since the last one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "memsweep/follow.h"

#define MS 1000000LL

static void test_period_adapts(void **state)
{
    (void)state;
    /* 100 MiB held, 800 KiB (about 1/128) a reading: the period stays. */
    assert_int_equal(ms_follow_next_period(4 * MS, 800, 102400), 4 * MS);
    /* Rising twice as fast or more: halved; half as fast or less: doubled. */
    assert_int_equal(ms_follow_next_period(4 * MS, 1600, 102400), 2 * MS);
    assert_int_equal(ms_follow_next_period(4 * MS, 400, 102400), 8 * MS);
    /* In between: in proportion (3/4 of the wanted rise: 4/3 of the period). */
    assert_int_equal(ms_follow_next_period(3 * MS, 600, 102400), 4 * MS);
    /* Never below 1 ms nor above 50 ms. */
    assert_int_equal(ms_follow_next_period(MS, 1 << 20, 102400), MS_FOLLOW_PERIOD_MIN_NS);
    assert_int_equal(ms_follow_next_period(32 * MS, 1, 102400), MS_FOLLOW_PERIOD_MAX_NS);
    /* A tiny process: the wanted rise is at least 1 KiB, the period still bounded. */
    assert_int_equal(ms_follow_next_period(2 * MS, 1, 100), 2 * MS);
}

static void test_quiet(void **state)
{
    (void)state;
    /* Fewer than four readings without a rise: never. */
    assert_false(ms_follow_quiet(3, 100 * MS, 5000 * MS));
    /* Four, during which the process ran 5 ms of CPU: it has stopped growing. */
    assert_true(ms_follow_quiet(4, 5 * MS, 20 * MS));
    /* Four, but it hardly ran (a busy machine): not yet, up to a second. */
    assert_false(ms_follow_quiet(4, MS, 500 * MS));
    assert_false(ms_follow_quiet(40, 4 * MS, 999 * MS));
    assert_true(ms_follow_quiet(4, MS, 1000 * MS));
    /* Its CPU time unknown: 100 ms. */
    assert_false(ms_follow_quiet(4, -1, 99 * MS));
    assert_true(ms_follow_quiet(4, -1, 100 * MS));
}

static void test_store_step(void **state)
{
    (void)state;
    /* At least 1 MiB... */
    assert_false(ms_follow_store_due(10000 + 1023, 10000));
    assert_true(ms_follow_store_due(10000 + 1024, 10000));
    /* ... and at least 1/32 of what was stored last. */
    assert_false(ms_follow_store_due(102400 + 3199, 102400));
    assert_true(ms_follow_store_due(102400 + 3200, 102400));
    /* A fall is never stored. */
    assert_false(ms_follow_store_due(5000, 102400));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_period_adapts),
        cmocka_unit_test(test_quiet),
        cmocka_unit_test(test_store_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
