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
    check_values("+5..5", single, 1);
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
    /* Only a sign and digits: no white space slips through, and none reaches a message. */
    check_values_error("1..\n5", -EINVAL, "invalid range '1..\\n5'");
    check_values_error(" 1..3", -EINVAL, "invalid range");
    check_values_error("1.. 3", -EINVAL, "invalid range");
    check_values_error("1..3: 1", -EINVAL, "invalid step");
    check_values_error("-..3", -EINVAL, "invalid range");
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
        {"beta=1..2000000", -E2BIG, "parameter 'beta': range '1..2000000' has more than"},
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
    /* With one value each so far, a million runs are still possible; then no more. */
    assert_int_equal(ms_params_add(&p, "gamma=1..1000000", err, sizeof err), 0);
    assert_int_equal(ms_params_add(&p, "delta=1", err, sizeof err), 0);
    assert_int_equal(ms_params_add(&p, "eps=1,2", err, sizeof err), -E2BIG);
    assert_non_null(strstr(err, "'eps': its 2 values would make more than 1000000 runs"));
    assert_int_equal(p.n, 4);
    ms_params_free(&p);
}

static void test_params_count(void **state)
{
    const char *const grid[] = {"a=1..3", "b=x,y"};
    const char *const thousand[] = {"a=1..1000", "b=1..1000"};
    const char *const too_many[] = {"a=1..1000", "b=1..1001"};
    ms_params_t p = {0};
    size_t runs = 0;
    char err[256];
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

    /* ms_params_add keeps the product within the limit... */
    add_all(&p, too_many, 1);
    assert_int_equal(ms_params_add(&p, too_many[1], err, sizeof err), -E2BIG);
    assert_string_equal(err, "parameter 'b': its 1001 values would make more than 1000000 runs "
                             "with the parameters before it");
    assert_int_equal(p.n, 1);
    ms_params_free(&p);

    /* ...and ms_params_count finds a product beyond it, without overflowing. */
    {
        ms_param_t items[4] = {{.n_values = 1000}, {.n_values = 1001},
                               {.n_values = SIZE_MAX}, {.n_values = SIZE_MAX}};
        ms_params_t q = {.items = items, .n = 2};

        assert_int_equal(ms_params_count(&q, &runs), -E2BIG);
        q.items = items + 2;
        assert_int_equal(ms_params_count(&q, &runs), -E2BIG);
    }
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

static void test_template_has_placeholder(void **state)
{
    (void)state;
    assert_true(ms_template_has_placeholder("{prog}"));
    assert_true(ms_template_has_placeholder("/opt/{variant}/bin/solve"));
    assert_true(ms_template_has_placeholder("run-{run}"));
    assert_true(ms_template_has_placeholder("{{x}"));
    /* Braces that do not enclose an identifier stay as they are. */
    assert_false(ms_template_has_placeholder("python3"));
    assert_false(ms_template_has_placeholder("{}"));
    assert_false(ms_template_has_placeholder("{ x }"));
    assert_false(ms_template_has_placeholder("{1x}"));
    assert_false(ms_template_has_placeholder("{x"));
    assert_false(ms_template_has_placeholder(""));
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

    /* Too many runs: ms_params_add refuses such a set, so it is built by hand here. */
    {
        char *av[] = {"1"}, *bv[] = {"1"};
        ms_param_t items[2] = {{.name = "a", .values = av, .n_values = 1000},
                               {.name = "b", .values = bv, .n_values = 1001}};
        ms_params_t big = {.items = items, .n = 2};

        (void)specs;
        plan.params = &big;
        plan.argv = known;
        plan.argc = 2;
        assert_int_equal(ms_plan_init(&plan, err, sizeof err), -E2BIG);
        assert_string_equal(err, "the parameters give more than 1000000 runs");
    }
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

/* A string of n copies of c, to be freed. */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* "NAME=" followed by value, to be freed. */
static char *spec_of(const char *name, const char *value)
{
    char *s = NULL;

    assert_true(asprintf(&s, "%s=%s", name, value) > 0);
    return s;
}

static void test_label_text(void **state)
{
    static const struct {
        const char *in;
        size_t max;
        const char *want;
    } cases[] = {
        {"plain", 100, "plain"},
        {"", 100, ""},
        {"l1\nl2", 100, "l1\\nl2"},
        {"a\tb\rc", 100, "a\\tb\\rc"},
        {"\033[2J\x7f\x01", 100, "\\x1b[2J\\x7f\\x01"},
        /* Backslashes, quotes and UTF-8 stay as they are. */
        {"C:\\dir 'q' \"d\" \xc3\xa9t\xc3\xa9", 100, "C:\\dir 'q' \"d\" \xc3\xa9t\xc3\xa9"},
        {"abcdef", 6, "abcdef"},
        {"abcdefg", 6, "abcdef..."},
        /* Cut back to a character boundary: 'é' is two bytes. */
        {"\xc3\xa9\xc3\xa9\xc3\xa9", 3, "\xc3\xa9..."},
        {"\xc3\xa9\xc3\xa9\xc3\xa9", 4, "\xc3\xa9\xc3\xa9..."},
        /* Bytes that are no UTF-8 are cut where they are, not three bytes further back. */
        {"\x80\x80\x80\x80\x80\x80", 5, "\x80\x80\x80\x80\x80..."},
        {"ab\xf0\x9f\x98\x80" "cd", 4, "ab..."},
        {"ab\xf0\x9f\x98\x80" "cd", 6, "ab\xf0\x9f\x98\x80..."},
        /* The limit counts the bytes of the text, not of its escapes. */
        {"\n\n\n\n", 2, "\\n\\n..."},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = ms_label_text(cases[i].in, cases[i].max);
        assert_non_null(got);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: expected '%s', got '%s'", i, cases[i].want, got);
        free(got);
    }
}

/* Values no shell must see: each reaches the run's argv byte for byte, never re-expanded. */
static void test_hostile_values_expand_exactly(void **state)
{
    static const char *const hostile[] = {
        "a b",   "it's",  "\"q\"",  "$(touch canary)", "`touch canary`", "x;y",
        "x|y",   "*",     "~",      "l1\nl2",          "{b}",            "${HOME}",
        "\\",    "-rf",   "a=b=c",  " ",
    };
    enum { N = sizeof hostile / sizeof hostile[0] };
    char *const argv[] = {"prog", "{v}", "--opt={v}", "{b}"};
    char err[256];
    (void)state;

    /* Commas separate values, so each value is the one value of a parameter of its own. */
    for (size_t i = 0; i < N; i++) {
        ms_params_t one = {0};
        ms_plan_t plan = {.params = &one, .argv = argv, .argc = 4};
        char *spec = spec_of("v", hostile[i]);
        ms_run_spec_t spec_run;
        char *want_opt = NULL;

        assert_int_equal(ms_params_add(&one, spec, err, sizeof err), 0);
        assert_int_equal(ms_params_add(&one, "b=B", err, sizeof err), 0);
        assert_int_equal(ms_plan_init(&plan, err, sizeof err), 0);
        assert_int_equal(plan.n_runs, 1);
        assert_int_equal(ms_plan_expand(&plan, 1, &spec_run), 0);
        assert_string_equal(spec_run.argv[0], "prog");
        assert_string_equal(spec_run.argv[1], hostile[i]);
        assert_true(asprintf(&want_opt, "--opt=%s", hostile[i]) > 0);
        assert_string_equal(spec_run.argv[2], want_opt);
        assert_string_equal(spec_run.argv[3], "B");
        assert_null(spec_run.argv[4]);
        /* The label stays on one line. */
        assert_null(strchr(spec_run.label, '\n'));
        free(want_opt);
        ms_run_spec_free(&spec_run);
        ms_params_free(&one);
        free(spec);
    }
}

static void test_labels_stay_readable(void **state)
{
    char *const argv[] = {"printf", "%s\n", "\033[31mred"};
    ms_params_t p = {0};
    ms_plan_t plan = {.params = &p, .argv = argv, .argc = 3};
    ms_run_spec_t spec;
    char err[256];
    char *longv = repeat('x', 1000);
    char *spec_long = spec_of("v", longv);
    size_t choice[2] = {0, 0};
    char *label;
    (void)state;

    /* Without parameters: the label is the command line, escaped; the command is exact. */
    assert_int_equal(ms_plan_init(&plan, err, sizeof err), 0);
    assert_int_equal(ms_plan_expand(&plan, 1, &spec), 0);
    assert_string_equal(spec.label, "printf %s\\n \\x1b[31mred");
    assert_string_equal(spec.command, "printf %s\n \033[31mred");
    ms_run_spec_free(&spec);

    /* A long value is cut in the label only. */
    assert_int_equal(ms_params_add(&p, spec_long, err, sizeof err), 0);
    assert_int_equal(ms_params_add(&p, "n=l1\nl2,x", err, sizeof err), 0);
    label = ms_params_label(&p, choice);
    assert_non_null(label);
    assert_int_equal(strlen(label), strlen("v=") + MS_LABEL_VALUE_MAX + strlen("... n=l1\\nl2"));
    assert_int_equal(strncmp(label + 2 + MS_LABEL_VALUE_MAX, "... n=l1\\nl2", 12), 0);
    assert_string_equal(strrchr(label, ' '), " n=l1\\nl2");
    free(label);

    /* A command line without parameters is cut at MS_LABEL_LINE_MAX. */
    {
        char *const long_argv[] = {"prog", longv};
        ms_params_t none = {0};
        ms_plan_t plan2 = {.params = &none, .argv = long_argv, .argc = 2};

        assert_int_equal(ms_plan_init(&plan2, err, sizeof err), 0);
        assert_int_equal(ms_plan_expand(&plan2, 1, &spec), 0);
        assert_int_equal(strlen(spec.label), MS_LABEL_LINE_MAX + 3);
        assert_string_equal(spec.label + MS_LABEL_LINE_MAX, "...");
        assert_int_equal(strlen(spec.command), 5 + 1000);
        ms_run_spec_free(&spec);
    }
    ms_params_free(&p);
    free(spec_long);
    free(longv);
}

static void test_commands_label_escaped(void **state)
{
    static const char text[] = "printf '\\033[2J'\ttab\x01\n";
    ms_commands_t c = {0};
    ms_params_t p = {0};
    ms_plan_t plan = {.params = &p, .commands = &c};
    ms_run_spec_t spec;
    char err[256];
    (void)state;
    assert_int_equal(ms_commands_parse(text, sizeof text - 1, &c, err, sizeof err), 0);
    assert_int_equal(ms_plan_init(&plan, err, sizeof err), 0);
    assert_int_equal(ms_plan_expand(&plan, 1, &spec), 0);
    assert_string_equal(spec.line, "printf '\\033[2J'\ttab\x01");
    assert_string_equal(spec.label, "printf '\\033[2J'\\ttab\\x01");
    ms_run_spec_free(&spec);
    ms_commands_free(&c);
}

/* Every message about the user's text is one short line, whatever the text holds. */
static void test_messages_stay_on_one_line(void **state)
{
    char *huge = repeat('a', 200000);
    char *huge_spec = spec_of("bad-name", huge);
    char *huge_tmpl = NULL;
    char *huge_name = repeat('z', 5000);
    const char *const specs[] = {"a\nb=1", "x=1..\n5", "x=1,\n,", huge, huge_spec,
                                 "x=\x1b[2J..3", "run=\n"};
    ms_params_t p = {0};
    char err[512];
    (void)state;

    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        err[0] = '\0';
        assert_int_not_equal(ms_params_add(&p, specs[i], err, sizeof err), 0);
        if (strchr(err, '\n') != NULL || strchr(err, '\x1b') != NULL || strlen(err) > 300 ||
            strlen(err) < 10)
            fail_msg("spec %zu: message '%s'", i, err);
    }
    assert_int_equal(p.n, 0);
    assert_non_null(strstr(err, "'run'"));
    assert_int_equal(ms_params_add(&p, "a\nb=1", err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "'a\\nb'"));

    assert_true(asprintf(&huge_tmpl, "%s{%s}\n", huge, huge_name) > 0);
    assert_int_equal(ms_template_check(huge_tmpl, &p, err, sizeof err), -EINVAL);
    assert_null(strchr(err, '\n'));
    assert_true(strlen(err) < 300);
    assert_non_null(strstr(err, "unknown placeholder '{zzzz"));
    free(huge_tmpl);
    free(huge_name);
    free(huge_spec);
    free(huge);
}

static void test_large_lists(void **state)
{
    enum { N = 100000 };
    char *text = malloc((size_t)N * 8);
    char err[256] = "";
    char **v = NULL;
    size_t n = 0, pos = 0, runs = 0;
    ms_params_t p = {0};
    (void)state;

    assert_non_null(text);
    for (int i = 1; i <= N; i++)
        pos += (size_t)sprintf(text + pos, i > 1 ? ",%d" : "%d", i);
    assert_int_equal(ms_values_parse(text, &v, &n, err, sizeof err), 0);
    assert_int_equal(n, N);
    assert_string_equal(v[0], "1");
    assert_string_equal(v[54321], "54322");
    assert_string_equal(v[N - 1], "100000");
    ms_strv_free(v, n);

    /* As a parameter: 100000 runs, the last with the last value. */
    {
        char *spec = spec_of("k", text);
        size_t choice[1];

        assert_int_equal(ms_params_add(&p, spec, err, sizeof err), 0);
        assert_int_equal(ms_params_count(&p, &runs), 0);
        assert_int_equal(runs, N);
        ms_params_choice(&p, N - 1, choice);
        assert_string_equal(p.items[0].values[choice[0]], "100000");
        free(spec);
    }
    /* Ten times as many runs are the most a sweep may have; eleven times are refused. */
    assert_int_equal(ms_params_add(&p, "j=1..11", err, sizeof err), -E2BIG);
    assert_non_null(strstr(err, "'j': its 11 values would make more than 1000000 runs"));
    assert_int_equal(ms_params_add(&p, "j=1..10", err, sizeof err), 0);
    assert_int_equal(ms_params_count(&p, &runs), 0);
    assert_int_equal(runs, MS_MAX_RUNS);
    ms_params_free(&p);
    free(text);

    /* A billion-point range is refused before anything is allocated for it. */
    check_values_error("1..1000000000", -E2BIG, "more than 1000000 values");
    check_values_error("0..9223372036854775807:1", -E2BIG, "more than 1000000 values");
}

static void test_exec_bytes(void **state)
{
    char *const env[] = {"A=1", "BB=22", NULL};
    char *const none[] = {NULL};
    (void)state;
    assert_int_equal(ms_exec_bytes(env), sizeof(char *) + (3 + 1 + sizeof(char *)) +
                                             (5 + 1 + sizeof(char *)));
    assert_int_equal(ms_exec_bytes(none), sizeof(char *));
}

/* ms_plan_check_exec on a template plan; the message, when there is one, goes in err. */
static int check_exec(const char *const *specs, size_t n_specs, char *const *argv, size_t argc,
                      size_t env, long arg_max, char *err, size_t errlen)
{
    ms_params_t p = {0};
    ms_plan_t plan = {.params = &p, .argv = argv, .argc = argc};
    int rc;

    add_all(&p, specs, n_specs);
    assert_int_equal(ms_plan_init(&plan, err, errlen), 0);
    err[0] = '\0';
    rc = ms_plan_check_exec(&plan, env, arg_max, err, errlen);
    ms_params_free(&p);
    return rc;
}

static void test_check_exec_argument(void **state)
{
    char *v1 = repeat('v', 100000);
    char *s1 = spec_of("v", v1);
    char *at = repeat('m', MS_EXEC_STRLEN_MAX - 1);
    char *over = repeat('m', MS_EXEC_STRLEN_MAX);
    char *s_at = spec_of("v", at);
    char *s_over = spec_of("v", over);
    const char *const one[] = {s1};
    const char *const fits[] = {s_at};
    const char *const too_long[] = {s_over};
    char *const twice[] = {"prog", "{v}{v}"};
    char *const once[] = {"prog", "{v}"};
    char err[1024];
    (void)state;

    assert_int_equal(check_exec(one, 1, once, 2, 1000, MS_EXEC_ARG_MAX_CAP, err, sizeof err), 0);
    assert_int_equal(check_exec(one, 1, twice, 2, 1000, MS_EXEC_ARG_MAX_CAP, err, sizeof err),
                     -E2BIG);
    assert_non_null(strstr(err, "run 1 (v=vvv"));
    assert_non_null(strstr(err, "argv[1] would be 200000 bytes long"));
    assert_non_null(strstr(err, "131071"));
    assert_null(strchr(err, '\n'));
    /* The kernel counts the NUL: 131071 bytes pass, 131072 do not. */
    assert_int_equal(check_exec(fits, 1, once, 2, 1000, MS_EXEC_ARG_MAX_CAP, err, sizeof err),
                     0);
    assert_int_equal(
        check_exec(too_long, 1, once, 2, 1000, MS_EXEC_ARG_MAX_CAP, err, sizeof err), -E2BIG);
    assert_non_null(strstr(err, "argv[1] would be 131072 bytes long"));
    free(v1);
    free(s1);
    free(at);
    free(over);
    free(s_at);
    free(s_over);
}

static void test_check_exec_total(void **state)
{
    /*
     * {"p", "{v}", "{v}"} with no environment takes MS_EXEC_RESERVE + the NULL pointer +
     * "p" (2 bytes and a pointer) + twice (L + 1 + a pointer).
     */
    const size_t ptr = sizeof(char *);
    const long limit = 200000;
    const size_t fixed = MS_EXEC_RESERVE + ptr + 2 + ptr + 2 * (1 + ptr);
    const size_t at = ((size_t)limit - fixed) / 2;
    char *v_at = repeat('t', at);
    char *v_over = repeat('t', at + 1);
    char *s_at = spec_of("v", v_at);
    char *s_over = spec_of("v", v_over);
    const char *const fits[] = {s_at};
    const char *const too_big[] = {s_over};
    char *const argv[] = {"p", "{v}", "{v}"};
    char err[1024];
    char want[128];
    (void)state;

    assert_int_equal((size_t)limit - fixed, 2 * at); /* the sizes above meet exactly */
    assert_int_equal(check_exec(fits, 1, argv, 3, 0, limit, err, sizeof err), 0);
    assert_int_equal(check_exec(too_big, 1, argv, 3, 0, limit, err, sizeof err), -E2BIG);
    snprintf(want, sizeof want, "would take %ld bytes with the environment", limit + 2);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "at most 200000 (ARG_MAX)"));
    /* The environment counts: one more byte of it and the fitting plan no longer fits. */
    assert_int_equal(check_exec(fits, 1, argv, 3, 1, limit, err, sizeof err), -E2BIG);
    /* An environment that leaves no room at all is refused for what it is. */
    assert_int_equal(check_exec(fits, 1, argv, 3, SIZE_MAX, limit, err, sizeof err), -E2BIG);
    assert_non_null(strstr(err, "the environment takes"));
    assert_int_equal(check_exec(fits, 1, argv, 3, (size_t)limit - MS_EXEC_RESERVE + 1, limit,
                                err, sizeof err),
                     -E2BIG);
    assert_non_null(strstr(err, "the environment takes"));

    /* Whatever sysconf says, Linux never takes more than MS_EXEC_ARG_MAX_CAP... */
    {
        char *v = repeat('c', 100000);
        char *spec = spec_of("v", v);
        const char *const big[] = {spec};
        char *many[64];

        many[0] = "prog";
        for (size_t i = 1; i < 64; i++)
            many[i] = "{v}";
        assert_int_equal(check_exec(big, 1, many, 64, 0, LONG_MAX, err, sizeof err), -E2BIG);
        assert_non_null(strstr(err, "at most 6291456"));
        assert_int_equal(check_exec(big, 1, many, 60, 0, LONG_MAX, err, sizeof err), 0);
        /* ...and never less than one argument's worth. */
        assert_int_equal(check_exec(big, 1, many, 2, 0, -1, err, sizeof err), 0);
        assert_int_equal(check_exec(big, 1, many, 3, 0, -1, err, sizeof err), -E2BIG);
        assert_non_null(strstr(err, "at most 131072"));
        free(spec);
        free(v);
    }
    free(v_at);
    free(v_over);
    free(s_at);
    free(s_over);
}

/* Only some runs are too long: the message names the first of them. */
static void test_check_exec_first_bad_run(void **state)
{
    char *longv = repeat('L', MS_EXEC_STRLEN_MAX);
    char *list = NULL;
    char *fixed = repeat('f', MS_EXEC_STRLEN_MAX - 2);
    char *fixed4 = repeat('f', MS_EXEC_STRLEN_MAX - 4);
    char *tmpl = NULL, *tmpl4 = NULL;
    char err[1024];
    (void)state;

    assert_true(asprintf(&list, "a=short,%s", longv) > 0);
    {
        const char *const specs[] = {list, "b=1..3"};
        char *const argv[] = {"p", "{a}"};

        assert_int_equal(check_exec(specs, 2, argv, 2, 0, MS_EXEC_ARG_MAX_CAP, err, sizeof err),
                         -E2BIG);
        assert_non_null(strstr(err, "run 4 (a=LLL"));
        assert_non_null(strstr(err, "... b=1): argv[1] would be 131072 bytes long"));
    }
    /* {run} grows with the run number: runs 1 to 9 fit, run 10 does not. */
    assert_true(asprintf(&tmpl, "%s{run}", fixed) > 0);
    {
        const char *const nine[] = {"n=1..9"};
        const char *const ten[] = {"n=1..10"};
        char *const argv[] = {"p", tmpl};

        assert_int_equal(check_exec(nine, 1, argv, 2, 0, MS_EXEC_ARG_MAX_CAP, err, sizeof err),
                         0);
        assert_int_equal(check_exec(ten, 1, argv, 2, 0, MS_EXEC_ARG_MAX_CAP, err, sizeof err),
                         -E2BIG);
        assert_non_null(strstr(err, "run 10 (n=10): argv[1]"));
    }
    /*
     * The longest value (runs 1-5) and the longest run number (run 10) never meet: the
     * bound is over the limit, but no run is, and the plan passes.
     */
    assert_true(asprintf(&tmpl4, "%s{a}{run}", fixed4) > 0);
    {
        const char *const specs[] = {"a=xx,y", "b=1..5"};
        char *const argv[] = {"p", tmpl4};

        assert_int_equal(check_exec(specs, 2, argv, 2, 0, MS_EXEC_ARG_MAX_CAP, err, sizeof err),
                         0);
    }
    free(tmpl);
    free(tmpl4);
    free(fixed);
    free(fixed4);
    free(list);
    free(longv);
}

static void test_check_exec_commands(void **state)
{
    const size_t n = MS_EXEC_STRLEN_MAX + 10;
    char *text = malloc(2 * n);
    ms_commands_t c = {0};
    ms_params_t p = {0};
    ms_plan_t plan = {.params = &p, .commands = &c};
    char err[512];
    size_t len;
    (void)state;

    /* Line 1 fits exactly, line 2 is one byte too long. */
    assert_non_null(text);
    memset(text, 'e', MS_EXEC_STRLEN_MAX - 1);
    text[MS_EXEC_STRLEN_MAX - 1] = '\n';
    memset(text + MS_EXEC_STRLEN_MAX, 'e', MS_EXEC_STRLEN_MAX);
    len = 2 * (size_t)MS_EXEC_STRLEN_MAX;
    assert_int_equal(ms_commands_parse(text, MS_EXEC_STRLEN_MAX, &c, err, sizeof err), 0);
    assert_int_equal(ms_plan_init(&plan, err, sizeof err), 0);
    assert_int_equal(ms_plan_check_exec(&plan, 0, MS_EXEC_ARG_MAX_CAP, err, sizeof err), 0);
    /* Not with an environment that leaves too little room. */
    assert_int_equal(ms_plan_check_exec(&plan, 0, MS_EXEC_STRLEN_MAX, err, sizeof err), -E2BIG);
    assert_non_null(strstr(err, "command 1 would take"));
    ms_commands_free(&c);

    assert_int_equal(ms_commands_parse(text, len, &c, err, sizeof err), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(ms_plan_init(&plan, err, sizeof err), 0);
    assert_int_equal(ms_plan_check_exec(&plan, 0, MS_EXEC_ARG_MAX_CAP, err, sizeof err), -E2BIG);
    assert_non_null(strstr(err, "command 2 is 131072 bytes long"));
    ms_commands_free(&c);
    free(text);
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
        cmocka_unit_test(test_template_has_placeholder),
        cmocka_unit_test(test_run_number_is_seq),
        cmocka_unit_test(test_label_and_join),
        cmocka_unit_test(test_commands_parse),
        cmocka_unit_test(test_commands_parse_edges),
        cmocka_unit_test(test_plan_template),
        cmocka_unit_test(test_plan_template_without_params),
        cmocka_unit_test(test_plan_template_errors),
        cmocka_unit_test(test_plan_commands),
        cmocka_unit_test(test_label_text),
        cmocka_unit_test(test_hostile_values_expand_exactly),
        cmocka_unit_test(test_labels_stay_readable),
        cmocka_unit_test(test_commands_label_escaped),
        cmocka_unit_test(test_messages_stay_on_one_line),
        cmocka_unit_test(test_large_lists),
        cmocka_unit_test(test_exec_bytes),
        cmocka_unit_test(test_check_exec_argument),
        cmocka_unit_test(test_check_exec_total),
        cmocka_unit_test(test_check_exec_first_bad_run),
        cmocka_unit_test(test_check_exec_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
