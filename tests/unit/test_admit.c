/*
 * Unit tests for the admission rules of a scheduled sweep (launcher/admit.c): the worker
 * cap, runs that must run alone, the stagger, the first run alone until a measurement, the
 * budget, the memory available, and that a sweep with nothing running never waits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "admit.h"

#define MiB 1024ULL

/* Two running runs predicted 300 and 200 MiB, budget 900, plenty available. */
static ms_admit_in_t base(void)
{
    ms_admit_in_t in = {
        .running = 2,
        .cap = 4,
        .since_start_ns = 10000000000LL,
        .budget_kb = 900 * MiB,
        .have_prediction = 1,
        .predicted_kb = 300 * MiB,
        .in_use_kb = 500 * MiB,
        .to_grow_kb = 100 * MiB,
        .have_available = 1,
        .available_kb = 4000 * MiB,
    };
    return in;
}

static ms_admit_verdict_t decide(const ms_admit_in_t *in, const char **rule, int *oversize)
{
    return ms_admit_decide(in, rule, oversize);
}

static void test_fit_and_budget(void **state)
{
    ms_admit_in_t in = base();
    const char *rule;
    int big;
    (void)state;

    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_START);
    assert_string_equal(rule, "fit");
    assert_int_equal(big, 0);
    /* 500 + 400 = 900: fits exactly; 401 does not. */
    in.predicted_kb = 400 * MiB;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_START);
    in.predicted_kb = 400 * MiB + 1;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_WAIT_BUDGET);
    assert_null(rule);
}

static void test_available(void **state)
{
    ms_admit_in_t in = base();
    const char *rule;
    int big;
    (void)state;

    /* It needs 300 plus the 100 the running runs are still to grow by. */
    in.available_kb = 400 * MiB;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_START);
    in.available_kb = 400 * MiB - 1;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_WAIT_AVAILABLE);
    /* Unknown availability does not hold it back. */
    in.have_available = 0;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_START);
}

static void test_idle_never_waits(void **state)
{
    ms_admit_in_t in = base();
    const char *rule;
    int big;
    (void)state;

    /* Nothing running: it starts, whatever memory says. */
    in.running = 0;
    in.in_use_kb = in.to_grow_kb = 0;
    in.available_kb = 0;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_START);
    assert_string_equal(rule, "idle");
    in.have_prediction = 0;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_START);
    assert_string_equal(rule, "first");
    /* Beyond the whole budget: alone, flagged. */
    in.have_prediction = 1;
    in.predicted_kb = 901 * MiB;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_START);
    assert_string_equal(rule, "alone");
    assert_int_equal(big, 1);
}

static void test_alone_and_first(void **state)
{
    ms_admit_in_t in = base();
    const char *rule;
    int big;
    (void)state;

    in.predicted_kb = 901 * MiB;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_WAIT_ALONE);
    assert_int_equal(big, 1);
    in = base();
    in.running_alone = 1;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_WAIT_ALONE);
    in = base();
    in.candidate_retry = 1;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_WAIT_ALONE);
    in.running = 0;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_START);
    assert_string_equal(rule, "retry");
    in = base();
    in.have_prediction = 0;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_WAIT_FIRST);
    /* A run with a value never measured: not beside another such run, beside others yes. */
    in = base();
    in.candidate_new = 1;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_START);
    in.running_new = 1;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_WAIT_FIRST);
    in.candidate_new = 0;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_START);
    in.candidate_new = 1;
    in.running = 0;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_START);
    assert_string_equal(rule, "idle");
}

static void test_cap_and_stagger(void **state)
{
    ms_admit_in_t in = base();
    const char *rule;
    int big;
    (void)state;

    in.running = 4;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_WAIT_CAP);
    in = base();
    in.stagger_ns = 2000000000LL;
    in.since_start_ns = 1999999999LL;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_WAIT_STAGGER);
    in.since_start_ns = 2000000000LL;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_START);
    /* The stagger holds even with nothing running; the very first start has none. */
    in.running = 0;
    in.since_start_ns = 5;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_WAIT_STAGGER);
    in.since_start_ns = -1;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_START);
}

static void test_no_budget(void **state)
{
    ms_admit_in_t in = base();
    const char *rule;
    int big;
    (void)state;

    /* Without a budget predictions and memory do not matter: a slot is enough. */
    in.budget_kb = 0;
    in.have_prediction = 0;
    in.available_kb = 0;
    assert_int_equal(decide(&in, &rule, &big), MS_ADMIT_START);
    assert_string_equal(rule, "slot");
    assert_int_equal(big, 0);
    assert_string_equal(ms_admit_verdict_text(MS_ADMIT_WAIT_BUDGET), "waiting for the budget");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_and_budget),
        cmocka_unit_test(test_available),
        cmocka_unit_test(test_idle_never_waits),
        cmocka_unit_test(test_alone_and_first),
        cmocka_unit_test(test_cap_and_stagger),
        cmocka_unit_test(test_no_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
