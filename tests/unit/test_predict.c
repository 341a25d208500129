/*
 * Unit tests for the predictions of memory-aware admission (launcher/predict.c): the same
 * parameters first, then a numeric parameter's trend (between, above and below the measured
 * values), then the largest peak so far; the safety factor's headroom; sweeps of command
 * lines; the median time to peak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "predict.h"

/* -P level=1..9 -P input=a,b (level varies slowest). */
static void make_params(ms_params_t *p)
{
    char err[256];

    memset(p, 0, sizeof *p);
    assert_int_equal(ms_params_add(p, "level=1..9", err, sizeof err), 0);
    assert_int_equal(ms_params_add(p, "input=a,b", err, sizeof err), 0);
}

/* Learns run (level index li, input index ii) with peak_kb. */
static void learn(ms_predict_t *pr, const ms_params_t *p, size_t li, size_t ii,
                  unsigned long long peak_kb, int64_t to_peak)
{
    const size_t choice[2] = {li, ii};
    char *label = ms_params_label(p, choice);

    assert_non_null(label);
    assert_int_equal(ms_predict_learn(pr, choice, label, peak_kb, to_peak), 0);
    free(label);
}

static int predict(const ms_predict_t *pr, const ms_params_t *p, size_t li, size_t ii,
                   unsigned long long *kb, char *basis)
{
    const size_t choice[2] = {li, ii};
    char *label = ms_params_label(p, choice);
    int rc;

    assert_non_null(label);
    rc = ms_predict_run(pr, choice, label, kb, basis, MS_PREDICT_BASIS_MAX);
    free(label);
    return rc;
}

static void test_nothing_learned(void **state)
{
    ms_params_t p;
    ms_predict_t *pr;
    unsigned long long kb = 7;
    char basis[MS_PREDICT_BASIS_MAX] = "";
    int64_t t;
    (void)state;

    make_params(&p);
    pr = ms_predict_new(&p, 0.85);
    assert_non_null(pr);
    assert_int_equal(predict(pr, &p, 0, 0, &kb, basis), 0);
    assert_int_equal(ms_predict_to_peak_ns(pr, &t), 0);
    /* A run without a peak teaches nothing. */
    learn(pr, &p, 0, 0, 0, 5);
    assert_int_equal(ms_predict_count(pr), 0);
    assert_int_equal(predict(pr, &p, 0, 0, &kb, basis), 0);
    ms_predict_free(pr);
    ms_params_free(&p);
}

static void test_same_parameters(void **state)
{
    ms_params_t p;
    ms_predict_t *pr;
    unsigned long long kb;
    char basis[MS_PREDICT_BASIS_MAX];
    (void)state;

    make_params(&p);
    pr = ms_predict_new(&p, 0.5);
    assert_non_null(pr);
    learn(pr, &p, 2, 1, 1000, -1);
    learn(pr, &p, 2, 1, 1500, -1);
    learn(pr, &p, 8, 0, 90000, -1);
    assert_int_equal(predict(pr, &p, 2, 1, &kb, basis), 1);
    /* The larger of the two, with headroom 1 / 0.5. */
    assert_int_equal(kb, 3000);
    assert_string_equal(basis, "same parameters (2 runs)");
    ms_predict_free(pr);
    ms_params_free(&p);
}

static void test_trend(void **state)
{
    ms_params_t p;
    ms_predict_t *pr;
    unsigned long long kb;
    char basis[MS_PREDICT_BASIS_MAX];
    (void)state;

    make_params(&p);
    pr = ms_predict_new(&p, 1.0);
    assert_non_null(pr);
    /* input=a: level 2 -> 200, level 4 -> 400; input=b: level 2 only, much larger. */
    learn(pr, &p, 1, 0, 200, -1);
    learn(pr, &p, 3, 0, 400, -1);
    learn(pr, &p, 1, 1, 5000, -1);
    /* Between level 2 and 4: the larger neighbour, not the line (memory need not be linear). */
    assert_int_equal(predict(pr, &p, 2, 0, &kb, basis), 1);
    assert_int_equal(kb, 400);
    assert_string_equal(basis, "trend of level");
    /* Beyond: the line through the two nearest, 100 per level: level 7 -> 700. */
    assert_int_equal(predict(pr, &p, 6, 0, &kb, basis), 1);
    assert_int_equal(kb, 700);
    /* Below the smallest: the nearest's peak. */
    assert_int_equal(predict(pr, &p, 0, 0, &kb, basis), 1);
    assert_int_equal(kb, 200);
    /* Values never learned make a run's size a guess; learned ones do not. */
    {
        const size_t known[2] = {1, 1}, new_level[2] = {5, 1};
        assert_int_equal(ms_predict_is_new(pr, known), 0);
        assert_int_equal(ms_predict_is_new(pr, new_level), 1);
        assert_int_equal(ms_predict_is_new(pr, NULL), 0);
    }
    /* input=b has one level measured: no trend, the largest so far. */
    assert_int_equal(predict(pr, &p, 5, 1, &kb, basis), 1);
    assert_int_equal(kb, 5000);
    assert_string_equal(basis, "largest so far");
    /* A falling line beyond the largest value is held at the nearest peak. */
    learn(pr, &p, 4, 0, 100, -1); /* level 5 -> 100: the two nearest below 9 fall */
    assert_int_equal(predict(pr, &p, 8, 0, &kb, basis), 1);
    assert_int_equal(kb, 100);
    ms_predict_free(pr);
    ms_params_free(&p);
}

static void test_largest_parameter_trend_wins(void **state)
{
    ms_params_t p;
    ms_predict_t *pr;
    unsigned long long kb;
    char basis[MS_PREDICT_BASIS_MAX];
    char err[256];
    (void)state;

    memset(&p, 0, sizeof p);
    assert_int_equal(ms_params_add(&p, "x=1,2,3", err, sizeof err), 0);
    assert_int_equal(ms_params_add(&p, "y=10,20,30", err, sizeof err), 0);
    pr = ms_predict_new(&p, 1.0);
    assert_non_null(pr);
    {
        /* Around (x=3, y=30): along x 100, 200 -> 300; along y 1000, 2000 -> 3000. */
        const size_t a[2] = {0, 2}, b[2] = {1, 2}, c[2] = {2, 0}, d[2] = {2, 1};
        assert_int_equal(ms_predict_learn(pr, a, "a", 100, -1), 0);
        assert_int_equal(ms_predict_learn(pr, b, "b", 200, -1), 0);
        assert_int_equal(ms_predict_learn(pr, c, "c", 1000, -1), 0);
        assert_int_equal(ms_predict_learn(pr, d, "d", 2000, -1), 0);
    }
    {
        const size_t e[2] = {2, 2};
        assert_int_equal(ms_predict_run(pr, e, "e", &kb, basis, sizeof basis), 1);
    }
    assert_int_equal(kb, 3000);
    assert_string_equal(basis, "trend of y");
    ms_predict_free(pr);
    ms_params_free(&p);
}

static void test_new_values(void **state)
{
    ms_params_t p;
    ms_predict_t *pr;
    char err[256];
    const size_t r3[2] = {0, 2}, big_r1[2] = {1, 0}, big_r2[2] = {1, 1}, huge_r1[2] = {2, 0};
    (void)state;

    memset(&p, 0, sizeof p);
    assert_int_equal(ms_params_add(&p, "mb=20,250,900", err, sizeof err), 0);
    assert_int_equal(ms_params_add(&p, "rep=1..3", err, sizeof err), 0);
    pr = ms_predict_new(&p, 1.0);
    assert_non_null(pr);
    {
        const size_t a[2] = {0, 0}, b[2] = {0, 1};
        assert_int_equal(ms_predict_learn(pr, a, "mb=20 rep=1", 100, -1), 0);
        /* One value of rep measured: rep=3 is a guess. */
        assert_int_equal(ms_predict_is_new(pr, r3), 1);
        assert_int_equal(ms_predict_learn(pr, b, "mb=20 rep=2", 104, -1), 0);
    }
    /* rep=1 and rep=2 peaked within 10%: rep leaves memory alone, rep=3 is no guess. */
    assert_int_equal(ms_predict_is_new(pr, r3), 0);
    /* mb=250 was never measured, and nothing says mb leaves memory alone. */
    assert_int_equal(ms_predict_is_new(pr, big_r1), 1);
    assert_int_equal(ms_predict_learn(pr, big_r1, "mb=250 rep=1", 1000, -1), 0);
    assert_int_equal(ms_predict_is_new(pr, big_r2), 0);
    /* mb moves memory: its next new value is a guess. */
    assert_int_equal(ms_predict_is_new(pr, huge_r1), 1);
    /* rep=3 peaking 5x its siblings shows rep moves memory after all; mb=900 is a guess. */
    {
        const size_t c[2] = {0, 2};
        assert_int_equal(ms_predict_learn(pr, c, "mb=20 rep=3", 500, -1), 0);
        const size_t d[2] = {2, 2};
        assert_int_equal(ms_predict_is_new(pr, d), 1);
    }
    ms_predict_free(pr);
    ms_params_free(&p);
}

static void test_commands_and_non_numeric(void **state)
{
    ms_predict_t *pr;
    unsigned long long kb;
    char basis[MS_PREDICT_BASIS_MAX];
    int64_t t;
    (void)state;

    /* A sweep of command lines: labels and the largest peak only. */
    pr = ms_predict_new(NULL, 0.8);
    assert_non_null(pr);
    assert_int_equal(ms_predict_learn(pr, NULL, "xz -9 big", 800, 3000000000LL), 0);
    assert_int_equal(ms_predict_learn(pr, NULL, "xz -1 big", 80, 1000000000LL), 0);
    assert_int_equal(ms_predict_learn(pr, NULL, "xz -1 small", 8, 2000000000LL), 0);
    assert_int_equal(ms_predict_run(pr, NULL, "xz -1 big", &kb, basis, sizeof basis), 1);
    assert_int_equal(kb, 100); /* 80 / 0.8 */
    assert_int_equal(ms_predict_run(pr, NULL, "xz -5 big", &kb, basis, sizeof basis), 1);
    assert_int_equal(kb, 1000);
    assert_string_equal(basis, "largest so far");
    assert_int_equal(ms_predict_count(pr), 3);
    /* The median of 3 s, 1 s, 2 s. */
    assert_int_equal(ms_predict_to_peak_ns(pr, &t), 1);
    assert_int_equal(t, 2000000000LL);
    assert_int_equal(ms_predict_learn(pr, NULL, "x", 1, 4000000000LL), 0);
    assert_int_equal(ms_predict_to_peak_ns(pr, &t), 1);
    assert_int_equal(t, 2500000000LL);
    ms_predict_free(pr);
}

static void test_many_runs(void **state)
{
    ms_params_t p;
    ms_predict_t *pr;
    unsigned long long kb;
    char basis[MS_PREDICT_BASIS_MAX];
    char err[256];
    (void)state;

    /* Enough distinct keys to grow the hash table several times. */
    memset(&p, 0, sizeof p);
    assert_int_equal(ms_params_add(&p, "n=1..2000", err, sizeof err), 0);
    pr = ms_predict_new(&p, 1.0);
    assert_non_null(pr);
    for (size_t i = 0; i < 1999; i++) {
        const size_t c[1] = {i};
        char label[32];
        snprintf(label, sizeof label, "n=%zu", i + 1);
        assert_int_equal(ms_predict_learn(pr, c, label, 10 * (i + 1), -1), 0);
    }
    for (size_t i = 0; i < 1999; i += 97) {
        const size_t c[1] = {i};
        char label[32];
        snprintf(label, sizeof label, "n=%zu", i + 1);
        assert_int_equal(ms_predict_run(pr, c, label, &kb, basis, sizeof basis), 1);
        assert_int_equal(kb, 10 * (i + 1));
    }
    {
        const size_t c[1] = {1999};
        assert_int_equal(ms_predict_run(pr, c, "n=2000", &kb, basis, sizeof basis), 1);
        assert_int_equal(kb, 20000);
        assert_string_equal(basis, "trend of n");
    }
    ms_predict_free(pr);
    ms_params_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_learned),
        cmocka_unit_test(test_same_parameters),
        cmocka_unit_test(test_trend),
        cmocka_unit_test(test_largest_parameter_trend_wins),
        cmocka_unit_test(test_new_values),
        cmocka_unit_test(test_commands_and_non_numeric),
        cmocka_unit_test(test_many_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
