/* Unit tests for analyzer/stats.c: percentiles as numpy.percentile computes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>

#include "stats.h"

static void test_percentile_interpolates(void **state)
{
    /* numpy.percentile([1, 2, 3, 4], 95) == 3.85; ([1, 2, 3, 4], 50) == 2.5 */
    const double v[] = {1.0, 2.0, 3.0, 4.0};
    (void)state;
    assert_float_equal(ms_stats_percentile(v, 4, 95.0), 3.85, 1e-12);
    assert_float_equal(ms_stats_percentile(v, 4, 50.0), 2.5, 1e-12);
    assert_float_equal(ms_stats_percentile(v, 4, 0.0), 1.0, 1e-12);
    assert_float_equal(ms_stats_percentile(v, 4, 100.0), 4.0, 1e-12);
}

static void test_percentile_twenty_values(void **state)
{
    /* numpy.percentile(range(10, 210, 10), 95) == 190.5 (rank 18.05). */
    double v[20];
    (void)state;
    for (int i = 0; i < 20; i++)
        v[i] = 10.0 * (i + 1);
    assert_float_equal(ms_stats_percentile(v, 20, 95.0), 190.5, 1e-9);
}

static void test_percentile_single_and_empty(void **state)
{
    const double one = 7.5;
    (void)state;
    assert_float_equal(ms_stats_percentile(&one, 1, 95.0), 7.5, 0.0);
    assert_float_equal(ms_stats_percentile(NULL, 0, 95.0), 0.0, 0.0);
}

static void test_summarize_sorts_and_summarizes(void **state)
{
    double v[] = {5.0, 1.0, 4.0, 2.0, 3.0};
    ms_summary_t s;
    (void)state;
    assert_int_equal(ms_stats_summarize(v, 5, &s), 0);
    assert_int_equal(s.n, 5);
    assert_float_equal(s.mean, 3.0, 1e-12);
    assert_float_equal(s.median, 3.0, 1e-12);
    assert_float_equal(s.p95, 4.8, 1e-12);
    assert_float_equal(s.max, 5.0, 0.0);
    assert_float_equal(v[0], 1.0, 0.0);
    assert_float_equal(v[4], 5.0, 0.0);
}

static void test_summarize_even_median(void **state)
{
    double v[] = {10.0, 40.0, 20.0, 30.0};
    ms_summary_t s;
    (void)state;
    assert_int_equal(ms_stats_summarize(v, 4, &s), 0);
    assert_float_equal(s.median, 25.0, 1e-12);
    assert_float_equal(s.mean, 25.0, 1e-12);
}

static void test_summarize_empty(void **state)
{
    ms_summary_t s;
    (void)state;
    assert_int_equal(ms_stats_summarize(NULL, 0, &s), -EINVAL);
    assert_int_equal(s.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentile_interpolates),
        cmocka_unit_test(test_percentile_twenty_values),
        cmocka_unit_test(test_percentile_single_and_empty),
        cmocka_unit_test(test_summarize_sorts_and_summarizes),
        cmocka_unit_test(test_summarize_even_median),
        cmocka_unit_test(test_summarize_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
