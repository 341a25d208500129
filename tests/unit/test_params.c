/*
 * Unit tests for launcher/params.c: -P parsing, ranges, the cartesian product, templating,
 * commands files and the expansion of one run of a plan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"

/* Parses VALUES and checks the result is exactly the n strings of want. */
static void check_values(const char *text, const char *const *want, size_t n)
{
    char err[256] = "";
    char **v = NULL;
    size_t got = 0;

    assert_int_equal(ms_values_parse(text, &v, &got, err, sizeof err), 0);
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(v[i], want[i]);
    ms_strv_free(v, got);
}

/* Parses VALUES, expects rc, and checks that the message mentions `mention`. */
static void check_values_error(const char *text, int rc, const char *mention)
{
    char err[256] = "";
    char **v = NULL;
    size_t n = 0;

    assert_int_equal(ms_values_parse(text, &v, &n, err, sizeof err), rc);
    assert_null(v);
    assert_non_null(strstr(err, mention));
}

/* Builds a parameter set from -P arguments; every one must be accepted. */
static void add_all(ms_params_t *p, const char *const *specs, size_t n)
{
    char err[256];

    for (size_t i = 0; i < n; i++)
        assert_int_equal(ms_params_add(p, specs[i], err, sizeof err), 0);
}

static void test_identifier(void **state)
{
    (void)state;
    assert_true(ms_is_identifier("a"));
    assert_true(ms_is_identifier("_"));
    assert_true(ms_is_identifier("Batch_size2"));
    assert_false(ms_is_identifier(""));
    assert_false(ms_is_identifier("2a"));
    assert_false(ms_is_identifier("a-b"));
    assert_false(ms_is_identifier("a b"));
    assert_false(ms_is_identifier("a.b"));
}

static void test_list_values(void **state)
{
    const char *const three[] = {"a", "b", "c"};
    const char *const one[] = {"x"};
    const char *const spaced[] = {" a", "b c", "--flag=1"};
    const char *const dotted[] = {"1..3", "5"};
    (void)state;
    check_values("a,b,c", three, 3);
    check_values("x", one, 1);
    check_values(" a,b c,--flag=1", spaced, 3);
    /* With a comma, ".." is an ordinary character of a list item. */
    check_values("1..3,5", dotted, 2);
}

static void test_list_rejects_empty_items(void **state)
{
    (void)state;
    check_values_error("", -EINVAL, "empty parameter list");
    check_values_error(",", -EINVAL, "empty value");
    check_values_error("a,", -EINVAL, "empty value");
    check_values_error(",a", -EINVAL, "empty value");
    check_values_error("a,,b", -EINVAL, "'a,,b'");
}

static void test_range_values(void **state)
{
    const char *const eight[] = {"1", "2", "3", "4", "5", "6", "7", "8"};
    const char *const stepped[] = {"1", "9", "17", "25", "33", "41", "49", "57"};
    const char *const negative[] = {"-3", "-1", "1", "3"};
    const char *const uneven[] = {"0", "3", "6", "9"};
    const char *const single[] = {"5"};
    const char *const below_zero[] = {"-10", "-9"};
    (void)state;
    check_values("1..8", eight, 8);
    check_values("1..64:8", stepped, 8);
    check_values("-3..3:2", negative, 4);
    /* The end is included only when a step lands on it. */
    check_values("0..10:3", uneven, 4);
    check_values("5..5", single, 1);
    check_values("-10..-9", below_zero, 2);
}

static void test_range_64bit_edges(void **state)
{
    const char *const top[] = {"9223372036854775806", "9223372036854775807"};
    const char *const whole[] = {"-9223372036854775808", "-1", "9223372036854775806"};
    (void)state;
    check_values("9223372036854775806..9223372036854775807", top, 2);
    /* The span of the whole 64-bit range exceeds LLONG_MAX and must not overflow. */
    check_values("-9223372036854775808..9223372036854775807:9223372036854775807", whole, 3);
    check_values_error("9223372036854775807..9223372036854775808", -EINVAL, "invalid range");
    check_values_error("-9223372036854775808..9223372036854775807", -E2BIG, "more than");
}

static void test_range_errors(void **state)
{
    (void)state;
    check_values_error("8..1", -EINVAL, "start is above its end");
    check_values_error("1..8:0", -EINVAL, "must be positive");
    check_values_error("1..8:-2", -EINVAL, "must be positive");
    check_values_error("1..8:", -EINVAL, "invalid step");
    check_values_error("1..8:2:3", -EINVAL, "invalid step");
    check_values_error("1..8:x", -EINVAL, "invalid step");
    check_values_error("1..", -EINVAL, "invalid range '1..'");
    check_values_error("..5", -EINVAL, "invalid range");
    check_values_error("a..b", -EINVAL, "invalid range");
    check_values_error("1...3", -EINVAL, "invalid range");
    check_values_error("1..2..3", -EINVAL, "invalid range");
    check_values_error("1.5..3", -EINVAL, "invalid range");
    check_values_error("../data", -EINVAL, "invalid range");
}

static void test_range_size_limit(void **state)
{
    char err[256] = "";
    char **v = NULL;
    size_t n = 0;
    (void)state;
    assert_int_equal(ms_values_parse("1..1000000", &v, &n, err, sizeof err), 0);
    assert_int_equal(n, MS_MAX_RUNS);
    assert_string_equal(v[0], "1");
    assert_string_equal(v[n - 1], "1000000");
    ms_strv_free(v, n);
    check_values_error("1..1000001", -E2BIG, "more than 1000000 values");
    /* A large step keeps a wide range small. */
    v = NULL;
    assert_int_equal(ms_values_parse("0..1000000000:500000000", &v, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[2], "1000000000");
    ms_strv_free(v, n);
}

static void test_params_add(void **state)
{
    ms_params_t p = {0};
    char err[256];
    (void)state;
    assert_int_equal(ms_params_add(&p, "alpha=1,2,3", err, sizeof err), 0);
    assert_int_equal(ms_params_add(&p, "beta=x=y,z", err, sizeof err), 0);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.items[0].name, "alpha");
    assert_int_equal(p.items[0].n_values, 3);
    assert_string_equal(p.items[0].values[2], "3");
    /* Only the first '=' separates the name: values may contain '='. */
    assert_string_equal(p.items[1].name, "beta");
    assert_int_equal(p.items[1].n_values, 2);
    assert_string_equal(p.items[1].values[0], "x=y");
    assert_ptr_equal(ms_params_find(&p, "beta", 4), &p.items[1]);
    assert_ptr_equal(ms_params_find(&p, "betax", 4), &p.items[1]);
    assert_null(ms_params_find(&p, "bet", 3));
    assert_null(ms_params_find(&p, "gamma", 5));
    ms_params_free(&p);
    assert_int_equal(p.n, 0);
    assert_null(p.items);
}

static void test_params_add_errors(void **state)
{
    static const struct {
        const char *spec;
        int rc;
        const char *mention;
    } cases[] = {
        {"alpha", -EINVAL, "expected NAME=VALUES"},
        {"=1,2", -EINVAL, "invalid parameter name ''"},
        {"2x=1", -EINVAL, "invalid parameter name '2x'"},
        {"a-b=1", -EINVAL, "invalid parameter name 'a-b'"},
        {"run=1,2", -EINVAL, "reserved"},
        {"alpha=5", -EINVAL, "'alpha' is given twice"},
        {"beta=", -EINVAL, "parameter 'beta': empty parameter list"},
        {"beta=1,,2", -EINVAL, "parameter 'beta': empty value"},
        {"beta=3..1", -EINVAL, "parameter 'beta': range '3..1'"},
        {"beta=1..2000000", -E2BIG, "parameter 'beta'"},
    };
    ms_params_t p = {0};
    char err[256];
    (void)state;
    assert_int_equal(ms_params_add(&p, "alpha=1", err, sizeof err), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        assert_int_equal(ms_params_add(&p, cases[i].spec, err, sizeof err), cases[i].rc);
        if (strstr(err, cases[i].mention) == NULL)
            fail_msg("'%s': message '%s' lacks '%s'", cases[i].spec, err, cases[i].mention);
        /* A rejected parameter leaves the set as it was. */
        assert_int_equal(p.n, 1);
    }
    /* "RUN" differs from the reserved name only in case, so it is an ordinary name. */
    assert_int_equal(ms_params_add(&p, "RUN=1", err, sizeof err), 0);
    assert_int_equal(p.n, 2);
    ms_params_free(&p);
}

static void test_params_count(void **state)
{
    const char *const grid[] = {"a=1..3", "b=x,y"};
    const char *const thousand[] = {"a=1..1000", "b=1..1000"};
    const char *const too_many[] = {"a=1..1000", "b=1..1001"};
    ms_params_t p = {0};
    size_t runs = 0;
    (void)state;

    assert_int_equal(ms_params_count(&p, &runs), 0);
    assert_int_equal(runs, 1);

    add_all(&p, grid, 2);
    assert_int_equal(ms_params_count(&p, &runs), 0);
    assert_int_equal(runs, 6);
    ms_params_free(&p);

    add_all(&p, thousand, 2);
    assert_int_equal(ms_params_count(&p, &runs), 0);
    assert_int_equal(runs, MS_MAX_RUNS);
    ms_params_free(&p);

    add_all(&p, too_many, 2);
    assert_int_equal(ms_params_count(&p, &runs), -E2BIG);
    ms_params_free(&p);
}

static void test_params_choice_first_slowest(void **state)
{
    const char *const specs[] = {"a=1..3", "b=x,y", "c=p,q"};
    ms_params_t p = {0};
    size_t choice[3];
    (void)state;
    add_all(&p, specs, 3);
    /* Odometer order: the last parameter turns fastest. */
    ms_params_choice(&p, 0, choice);
    assert_int_equal(choice[0], 0);
    assert_int_equal(choice[1], 0);
    assert_int_equal(choice[2], 0);
    ms_params_choice(&p, 1, choice);
    assert_int_equal(choice[0], 0);
    assert_int_equal(choice[1], 0);
    assert_int_equal(choice[2], 1);
    ms_params_choice(&p, 2, choice);
    assert_int_equal(choice[0], 0);
    assert_int_equal(choice[1], 1);
    assert_int_equal(choice[2], 0);
    ms_params_choice(&p, 4, choice);
    assert_int_equal(choice[0], 1);
    assert_int_equal(choice[1], 0);
    assert_int_equal(choice[2], 0);
    ms_params_choice(&p, 11, choice);
    assert_int_equal(choice[0], 2);
    assert_int_equal(choice[1], 1);
    assert_int_equal(choice[2], 1);
    ms_params_free(&p);
}

static void test_template_check(void **state)
{
    const char *const specs[] = {"a=1", "b_2=x"};
    ms_params_t p = {0};
    char err[256] = "";
    (void)state;
    add_all(&p, specs, 2);
    assert_int_equal(ms_template_check("--a={a} --b={b_2} -n {run}", &p, err, sizeof err), 0);
    /* Braces around anything but an identifier are literal text. */
    assert_int_equal(ms_template_check("{}", &p, err, sizeof err), 0);
    assert_int_equal(ms_template_check("{\"a\":1}", &p, err, sizeof err), 0);
    assert_int_equal(ms_template_check("{ x }", &p, err, sizeof err), 0);
    assert_int_equal(ms_template_check("{1x}", &p, err, sizeof err), 0);
    assert_int_equal(ms_template_check("{x", &p, err, sizeof err), 0);
    assert_int_equal(ms_template_check("x}", &p, err, sizeof err), 0);
    assert_int_equal(ms_template_check("{x-y}", &p, err, sizeof err), 0);

    assert_int_equal(ms_template_check("a{a}{zz}", &p, err, sizeof err), -EINVAL);
    assert_string_equal(err, "unknown placeholder '{zz}' in 'a{a}{zz}'");
    assert_int_equal(ms_template_check("{{RUN}}", &p, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "'{RUN}'"));
    assert_int_equal(ms_template_check("{b}", &p, err, sizeof err), -EINVAL);
    ms_params_free(&p);
}

/* Expands tmpl for the run with 0-based index idx and checks the result. */
static void check_expand(const ms_params_t *p, const char *tmpl, size_t idx, const char *want)
{
    size_t choice[8];
    char err[256] = "";
    char *out = NULL;

    ms_params_choice(p, idx, choice);
    assert_int_equal(ms_template_expand(tmpl, p, choice, idx + 1, &out, err, sizeof err), 0);
    assert_string_equal(out, want);
    free(out);
}

static void test_template_expand(void **state)
{
    const char *const specs[] = {"n=1..3", "mode=fast,slow"};
    ms_params_t p = {0};
    size_t choice[2] = {0, 0};
    char err[256] = "";
    char *out = (char *)"untouched";
    (void)state;
    add_all(&p, specs, 2);
    check_expand(&p, "{n}-{mode}", 0, "1-fast");
    check_expand(&p, "{n}-{mode}", 3, "2-slow");
    check_expand(&p, "--size={n}{n}k", 5, "--size=33k");
    check_expand(&p, "run{run}.log", 4, "run5.log");
    check_expand(&p, "plain", 2, "plain");
    check_expand(&p, "", 2, "");
    check_expand(&p, "{}{ n }{\"k\":{n}}", 2, "{}{ n }{\"k\":2}");
    check_expand(&p, "{{n}}", 1, "{1}");
    check_expand(&p, "{n", 1, "{n");
    check_expand(&p, "}{mode}{", 1, "}slow{");

    assert_int_equal(ms_template_expand("x{nope}", &p, choice, 1, &out, err, sizeof err),
                     -EINVAL);
    assert_null(out);
    assert_string_equal(err, "unknown placeholder '{nope}' in 'x{nope}'");
    ms_params_free(&p);
}

static void test_run_number_is_seq(void **state)
{
    ms_params_t p = {0};
    char err[256];
    char *out = NULL;
    (void)state;
    /* Without parameters {run} still works and nothing else is a known name. */
    assert_int_equal(ms_template_expand("{run}/{run}", &p, NULL, 1234567, &out, err,
                                        sizeof err),
                     0);
    assert_string_equal(out, "1234567/1234567");
    free(out);
}

static void test_label_and_join(void **state)
{
    const char *const specs[] = {"a=1..3", "b=x,y"};
    char *const words[] = {"sh", "-c", "echo hi"};
    ms_params_t p = {0};
    size_t choice[2];
    char *s;
    (void)state;
    add_all(&p, specs, 2);
    ms_params_choice(&p, 3, choice);
    s = ms_params_label(&p, choice);
    assert_string_equal(s, "a=2 b=y");
    free(s);

    s = ms_join_words(words, 3);
    assert_string_equal(s, "sh -c echo hi");
    free(s);
    s = ms_join_words(words, 1);
    assert_string_equal(s, "sh");
    free(s);
    s = ms_join_words(words, 0);
    assert_string_equal(s, "");
    free(s);
    ms_params_free(&p);
}

static void test_commands_parse(void **state)
{
    static const char text[] = "# header comment\n"
                               "\n"
                               "   \t \n"
                               "echo one\n"
                               "  # indented comment\n"
                               "\techo two # not a comment\r\n"
                               "python3 -c 'print(1)'\r\n"
                               "\r\n"
                               "sleep 1";
    ms_commands_t c = {0};
    char err[256];
    (void)state;
    assert_int_equal(ms_commands_parse(text, sizeof text - 1, &c, err, sizeof err), 0);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.lines[0], "echo one");
    assert_string_equal(c.lines[1], "echo two # not a comment");
    assert_string_equal(c.lines[2], "python3 -c 'print(1)'");
    /* The last line counts without a newline. */
    assert_string_equal(c.lines[3], "sleep 1");
    ms_commands_free(&c);
    assert_int_equal(c.n, 0);
    assert_null(c.lines);
}

static void test_commands_parse_edges(void **state)
{
    static const char nul[] = "echo a\n# c\necho \0b\n";
    static const char trailing[] = "echo a  \n";
    ms_commands_t c = {0};
    char err[256] = "";
    char *big;
    (void)state;

    assert_int_equal(ms_commands_parse("", 0, &c, err, sizeof err), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(ms_commands_parse("# a\n\n  #b\n", 10, &c, err, sizeof err), 0);
    assert_int_equal(c.n, 0);

    assert_int_equal(ms_commands_parse(nul, sizeof nul - 1, &c, err, sizeof err), -EINVAL);
    assert_string_equal(err, "line 3: NUL byte in a command line");
    assert_int_equal(c.n, 0);

    /* Trailing blanks can matter to the shell (a quoted or escaped space): kept. */
    assert_int_equal(ms_commands_parse(trailing, sizeof trailing - 1, &c, err, sizeof err), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.lines[0], "echo a  ");
    ms_commands_free(&c);

    /* Enough lines to grow the array several times, in order. */
    big = malloc(100 * 8 + 1);
    assert_non_null(big);
    for (int i = 0; i < 100; i++)
        snprintf(big + i * 8, 9, "echo %02d\n", i);
    assert_int_equal(ms_commands_parse(big, 100 * 8, &c, err, sizeof err), 0);
    assert_int_equal(c.n, 100);
    assert_string_equal(c.lines[0], "echo 00");
    assert_string_equal(c.lines[57], "echo 57");
    assert_string_equal(c.lines[99], "echo 99");
    ms_commands_free(&c);
    free(big);
}

static void test_plan_template(void **state)
{
    const char *const specs[] = {"a=1..3", "b=x,y"};
    char *const argv[] = {"prog", "--a={a}", "--out=r{run}-{b}.txt"};
    ms_params_t p = {0};
    ms_plan_t plan = {.params = &p, .argv = argv, .argc = 3};
    ms_run_spec_t spec;
    char err[256];
    (void)state;
    add_all(&p, specs, 2);
    assert_int_equal(ms_plan_init(&plan, err, sizeof err), 0);
    assert_int_equal(plan.n_runs, 6);

    assert_int_equal(ms_plan_expand(&plan, 4, &spec), 0);
    assert_int_equal(spec.seq, 4);
    assert_null(spec.line);
    assert_string_equal(spec.argv[0], "prog");
    assert_string_equal(spec.argv[1], "--a=2");
    assert_string_equal(spec.argv[2], "--out=r4-y.txt");
    assert_null(spec.argv[3]);
    assert_string_equal(spec.label, "a=2 b=y");
    assert_string_equal(spec.command, "prog --a=2 --out=r4-y.txt");
    ms_run_spec_free(&spec);
    assert_null(spec.argv);
    assert_null(spec.label);

    assert_int_equal(ms_plan_expand(&plan, 6, &spec), 0);
    assert_string_equal(spec.label, "a=3 b=y");
    assert_string_equal(spec.argv[2], "--out=r6-y.txt");
    ms_run_spec_free(&spec);
    ms_params_free(&p);
}

static void test_plan_template_without_params(void **state)
{
    char *const argv[] = {"{run}", "x"};
    ms_params_t p = {0};
    ms_plan_t plan = {.params = &p, .argv = argv, .argc = 2};
    ms_run_spec_t spec;
    char err[256];
    (void)state;
    assert_int_equal(ms_plan_init(&plan, err, sizeof err), 0);
    assert_int_equal(plan.n_runs, 1);
    assert_int_equal(ms_plan_expand(&plan, 1, &spec), 0);
    assert_string_equal(spec.argv[0], "1");
    /* With no parameter the label is the command line itself. */
    assert_string_equal(spec.label, "1 x");
    assert_string_equal(spec.command, "1 x");
    ms_run_spec_free(&spec);
}

static void test_plan_template_errors(void **state)
{
    const char *const small[] = {"a=1,2"};
    const char *const specs[] = {"a=1..1000", "b=1..1001"};
    char *const unknown[] = {"prog", "ok={a}", "bad={c}"};
    char *const known[] = {"prog", "{a}{b}"};
    ms_params_t p = {0};
    ms_plan_t plan = {.params = &p, .argv = unknown, .argc = 3};
    char err[256] = "";
    (void)state;
    add_all(&p, small, 1);
    assert_int_equal(ms_plan_init(&plan, err, sizeof err), -EINVAL);
    assert_string_equal(err, "unknown placeholder '{c}' in 'bad={c}'");

    plan.argc = 0;
    assert_int_equal(ms_plan_init(&plan, err, sizeof err), -EINVAL);
    assert_string_equal(err, "no command given");
    ms_params_free(&p);

    add_all(&p, specs, 2);
    plan.argv = known;
    plan.argc = 2;
    assert_int_equal(ms_plan_init(&plan, err, sizeof err), -E2BIG);
    assert_non_null(strstr(err, "1000000"));
    ms_params_free(&p);
}

static void test_plan_commands(void **state)
{
    static const char text[] = "echo one\n#skip\n  echo two | tr a-z A-Z\n";
    ms_commands_t c = {0};
    ms_commands_t none = {0};
    ms_params_t p = {0};
    ms_plan_t plan = {.params = &p, .commands = &c};
    ms_run_spec_t spec;
    char err[256] = "";
    (void)state;
    assert_int_equal(ms_commands_parse(text, sizeof text - 1, &c, err, sizeof err), 0);
    assert_int_equal(ms_plan_init(&plan, err, sizeof err), 0);
    assert_int_equal(plan.n_runs, 2);
    assert_int_equal(ms_plan_expand(&plan, 2, &spec), 0);
    assert_int_equal(spec.seq, 2);
    assert_null(spec.argv);
    assert_string_equal(spec.line, "echo two | tr a-z A-Z");
    assert_string_equal(spec.label, "echo two | tr a-z A-Z");
    assert_string_equal(spec.command, "echo two | tr a-z A-Z");
    ms_run_spec_free(&spec);
    assert_null(spec.line);
    ms_commands_free(&c);

    plan.commands = &none;
    assert_int_equal(ms_plan_init(&plan, err, sizeof err), -EINVAL);
    assert_string_equal(err, "no command in the commands file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identifier),
        cmocka_unit_test(test_list_values),
        cmocka_unit_test(test_list_rejects_empty_items),
        cmocka_unit_test(test_range_values),
        cmocka_unit_test(test_range_64bit_edges),
        cmocka_unit_test(test_range_errors),
        cmocka_unit_test(test_range_size_limit),
        cmocka_unit_test(test_params_add),
        cmocka_unit_test(test_params_add_errors),
        cmocka_unit_test(test_params_count),
        cmocka_unit_test(test_params_choice_first_slowest),
        cmocka_unit_test(test_template_check),
        cmocka_unit_test(test_template_expand),
        cmocka_unit_test(test_run_number_is_seq),
        cmocka_unit_test(test_label_and_join),
        cmocka_unit_test(test_commands_parse),
        cmocka_unit_test(test_commands_parse_edges),
        cmocka_unit_test(test_plan_template),
        cmocka_unit_test(test_plan_template_without_params),
        cmocka_unit_test(test_plan_template_errors),
        cmocka_unit_test(test_plan_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
