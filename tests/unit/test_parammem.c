/*
 * Unit tests for analyzer/parammem.c (labels split into NAME=value, command lines told
 * from parameters, runs grouped by value, the table's text and JSON) and for the way the
 * sweep reader brings labels from a database into the advisory's table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "advisory.h"
#include "memsweep/schema.h"
#include "parammem.h"
#include "sweepread.h"

#define S_NS 1000000000LL /* one second in ns */
#define MIB 1024LL        /* one MiB in kB */

/* The pairs of a label as "name|value;" each, for compact comparisons. */
static char *pairs_of(const char *label)
{
    static char buf[2048];
    const char *cursor = label;
    ms_param_pair_t p;
    size_t used = 0;

    buf[0] = '\0';
    while (ms_param_label_next(&cursor, &p))
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%.*s|%.*s;", (int)p.name_len,
                                 p.name, (int)p.value_len, p.value);
    return buf;
}

static void test_label_pairs(void **state)
{
    (void)state;
    assert_string_equal(pairs_of("level=3 seed=1"), "level|3;seed|1;");
    /* The launcher writes a value with spaces as it is: it runs to the next pair. */
    assert_string_equal(pairs_of("model=small net seed=2"), "model|small net;seed|2;");
    /* A value keeps every '=' after the first. */
    assert_string_equal(pairs_of("opt=a=b x=1"), "opt|a=b;x|1;");
    /* An empty value, at the end and before another pair. */
    assert_string_equal(pairs_of("e="), "e|;");
    assert_string_equal(pairs_of("e= x=1"), "e|;x|1;");
    /* Two spaces: the first belongs to the value. */
    assert_string_equal(pairs_of("a=1  b=2"), "a|1 ;b|2;");
    /* A name repeated is two pairs; the table decides what they mean. */
    assert_string_equal(pairs_of("a=1 a=2"), "a|1;a|2;");
    /* Labels that do not start with a pair have none: command lines, odd text. */
    assert_string_equal(pairs_of("python train.py --lr=0.1"), "");
    assert_string_equal(pairs_of("no equals here"), "");
    assert_string_equal(pairs_of("=5 y=1"), "");
    assert_string_equal(pairs_of(" a=1"), "");
    assert_string_equal(pairs_of(""), "");
    /* A word without '=' after a pair is part of its value. */
    assert_string_equal(pairs_of("a=1 junk =2 b=3"), "a|1 junk =2;b|3;");
    {
        const char *cursor = NULL;
        ms_param_pair_t p;
        assert_int_equal(ms_param_label_next(&cursor, &p), 0);
    }
}

static void test_label_is_command(void **state)
{
    (void)state;
    assert_true(ms_param_label_is_command("python x.py", "python x.py"));
    /* A commands-file line that starts with an assignment is still a command line. */
    assert_true(ms_param_label_is_command("OMP_NUM_THREADS=4 ./solve", "OMP_NUM_THREADS=4 ./solve"));
    /* Control characters as ms_label_text escapes them. */
    assert_true(ms_param_label_is_command("a\\nb\\tc\\rd", "a\nb\tc\rd"));
    assert_true(ms_param_label_is_command("a\\x01b\\x7f", "a\x01" "b\x7f"));
    /* `memsweep exec` joins words without escaping. */
    assert_true(ms_param_label_is_command("a\nb", "a\nb"));
    /* A backslash in the command is itself. */
    assert_true(ms_param_label_is_command("a\\nb", "a\\nb"));
    /* A long command line is cut and marked. */
    assert_true(ms_param_label_is_command("X=1 abc...", "X=1 abcdef"));
    assert_true(ms_param_label_is_command("X=1 a\\nb...", "X=1 a\nbcd"));
    /* A cut must leave something out: "abc" would have been written whole. */
    assert_false(ms_param_label_is_command("abc...", "abc"));
    assert_true(ms_param_label_is_command("abc...", "abc..."));
    /* Parameters, not the command line. */
    assert_false(ms_param_label_is_command("x=1 y=2", "./prog --x 1 --y 2"));
    assert_false(ms_param_label_is_command("FOO=1 ./prog", "FOO=2 ./prog"));
    assert_false(ms_param_label_is_command("a\\x0", "a\x01"));
    assert_false(ms_param_label_is_command("a\\x02", "a\x01"));
    assert_false(ms_param_label_is_command("ab", "a"));
    assert_false(ms_param_label_is_command("a", "ab"));
    assert_false(ms_param_label_is_command("x=1", NULL));
    assert_false(ms_param_label_is_command(NULL, "x=1"));
}

/*
 * Nine runs: level and seed, a command line, a run without a label, and a run that names
 * level twice (it counts for seed only).
 */
static const ms_param_run_t example_runs[] = {
    {"level=2 seed=1", 20, 22},  {"level=10 seed=1", 100, 110}, {"level=1 seed=1", 10, 11},
    {"level=2 seed=2", 21, 24},  {"level=10 seed=2", 104, 120}, {"level=1 seed=2", 12, 13},
    {"python train.py --lr=0.1", 500, 600}, {NULL, 999, 999},
    {"level=1 level=3 seed=3", 25, 25},
};

static void test_table_example(void **state)
{
    ms_param_table_t t;
    const ms_param_mem_t *p;
    (void)state;

    assert_int_equal(ms_param_table_compute(example_runs, 9, &t), 0);
    assert_int_equal(t.n_params, 2);
    assert_int_equal(t.n_shown, 2);
    assert_false(t.names_dropped);

    p = &t.params[0];
    assert_string_equal(p->name, "level");
    /* Numerically: 1, 2, 10 (first appearance would be 2, 10, 1; text order 1, 10, 2). */
    assert_true(p->numeric);
    assert_int_equal(p->n_values, 3); /* level=3 of the run that named level twice: no */
    assert_int_equal(p->n_shown, 3);
    assert_string_equal(p->values[0].text, "1");
    assert_string_equal(p->values[1].text, "2");
    assert_string_equal(p->values[2].text, "10");
    assert_int_equal(p->values[0].runs, 2); /* not 3: the ambiguous run left out */
    assert_float_equal(p->values[0].end_median, 11.0, 1e-9);
    assert_float_equal(p->values[0].end_max, 12.0, 1e-9);
    assert_float_equal(p->values[0].peak_median, 12.0, 1e-9);
    assert_float_equal(p->values[0].peak_max, 13.0, 1e-9);
    assert_float_equal(p->values[0].peak_p95, 12.9, 1e-9);
    assert_float_equal(p->values[2].end_median, 102.0, 1e-9);
    assert_float_equal(p->values[2].peak_p95, 119.5, 1e-9);
    assert_true(p->moves);
    assert_float_equal(p->median_peak_min, 12.0, 1e-9);
    assert_float_equal(p->median_peak_max, 115.0, 1e-9);

    p = &t.params[1];
    assert_string_equal(p->name, "seed");
    assert_int_equal(p->n_values, 3);
    assert_string_equal(p->values[2].text, "3");
    assert_int_equal(p->values[0].runs, 3);
    assert_int_equal(p->values[2].runs, 1);
    assert_float_equal(p->values[0].end_median, 20.0, 1e-9);
    assert_float_equal(p->values[0].end_max, 100.0, 1e-9);
    assert_float_equal(p->values[0].peak_p95, 101.2, 1e-9);
    /* 25 is not more than 1.2 x 22. */
    assert_false(p->moves);
    assert_float_equal(p->median_peak_min, 22.0, 1e-9);
    assert_float_equal(p->median_peak_max, 25.0, 1e-9);

    assert_int_equal(ms_param_value_workers(&t.params[0].values[0], 1, 10000, 0.85), 658);
    assert_int_equal(ms_param_value_workers(&t.params[0].values[0], 0, 10000, 0.85), -1);
}

/* Renders the table's text or JSON into a malloc'd string. */
static char *render_table(const ms_param_table_t *t, int json, int have_usable)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int first = 1;

    assert_non_null(f);
    if (json) {
        ms_param_table_write_json(f, &first, t, have_usable, 10000, 0.85);
        fputc('}', f);
    } else {
        ms_param_table_write(f, t, have_usable, 10000, 0.85);
    }
    fclose(f);
    return buf;
}

static void test_table_text(void **state)
{
    ms_param_table_t t;
    char *text;
    (void)state;

    assert_int_equal(ms_param_table_compute(example_runs, 9, &t), 0);
    text = render_table(&t, 0, 1);
    assert_string_equal(
        text,
        "ParamMemory: level moves memory (median peak 12.0 to 115.0 MiB across 3 values)\n"
        "ParamMemory_level=1: runs 2, end median 11.0 max 12.0, peak median 12.0 max 13.0, "
        "conservative 658\n"
        "ParamMemory_level=2: runs 2, end median 20.5 max 21.0, peak median 23.0 max 24.0, "
        "conservative 355\n"
        "ParamMemory_level=10: runs 2, end median 102.0 max 104.0, peak median 115.0 max "
        "120.0, conservative 71\n"
        "ParamMemory: seed does not move memory (median peak 22.0 to 25.0 MiB across 3 "
        "values)\n"
        "ParamMemory_seed=1: runs 3, end median 20.0 max 100.0, peak median 22.0 max 110.0, "
        "conservative 83\n"
        "ParamMemory_seed=2: runs 3, end median 21.0 max 104.0, peak median 24.0 max 120.0, "
        "conservative 76\n"
        "ParamMemory_seed=3: runs 1, end median 25.0 max 25.0, peak median 25.0 max 25.0, "
        "conservative 340\n");
    free(text);

    /* Without a memory figure there is no count to give. */
    text = render_table(&t, 0, 0);
    assert_non_null(strstr(text, "ParamMemory_level=1: runs 2, end median 11.0 max 12.0, peak "
                                 "median 12.0 max 13.0\n"));
    assert_null(strstr(text, "conservative"));
    free(text);
}

static void test_table_json(void **state)
{
    ms_param_table_t t;
    char *text;
    (void)state;

    assert_int_equal(ms_param_table_compute(example_runs, 9, &t), 0);
    text = render_table(&t, 1, 1);
    assert_non_null(strstr(
        text, "{\"ParamMemory\":{\"level\":{\"MovesMemory\":true,"
              "\"MedianPeakRSS_Smallest_MB\":12.0,\"MedianPeakRSS_Largest_MB\":115.0,"
              "\"ValuesTotal\":3,\"ValuesNotShown\":0,\"Numeric\":true,\"Values\":["
              "{\"Value\":\"1\",\"Runs\":2,\"MedianRSS_End_MB\":11.0,\"MaxRSS_End_MB\":12.0,"
              "\"MedianPeakRSS_MB\":12.0,\"MaxPeakRSS_MB\":13.0,\"P95PeakRSS_MB\":12.9,"
              "\"RecommendedMaxWorkers_Conservative\":658},"));
    assert_non_null(strstr(text, "\"seed\":{\"MovesMemory\":false,"));
    assert_non_null(strstr(text, "\"RecommendedMaxWorkers_Conservative\":340}]}},"
                                 "\"ParamMemoryNotShown\":0,\"ParamMemoryNamesDropped\":false}"));
    free(text);
    text = render_table(&t, 1, 0);
    assert_non_null(strstr(text, "\"RecommendedMaxWorkers_Conservative\":null}"));
    free(text);

    /* No parameter with two values: an empty object. */
    assert_int_equal(ms_param_table_compute(example_runs, 1, &t), 0);
    assert_int_equal(t.n_params, 0);
    text = render_table(&t, 1, 1);
    assert_string_equal(text, "{\"ParamMemory\":{},\"ParamMemoryNotShown\":0,"
                              "\"ParamMemoryNamesDropped\":false}");
    free(text);
    text = render_table(&t, 0, 1);
    assert_string_equal(text, "");
    free(text);
}

/* The parameter of t named name, or NULL. */
static const ms_param_mem_t *param_named(const ms_param_table_t *t, const char *name)
{
    for (size_t i = 0; i < t->n_shown; i++)
        if (strcmp(t->params[i].name, name) == 0)
            return &t->params[i];
    return NULL;
}

static void test_odd_labels(void **state)
{
    static const ms_param_run_t runs[] = {
        {"opt=b=1 x=1 msg=hello world e=", 1, 10},
        {"opt=a x=2 msg=bye e=z", 1, 20},
        {"opt=c x=3 v=a\tb", 1, 30},
        {"=5 y=1", 1, 40},
        {"y=2", 1, 50},
        {"no equals here y=3", 1, 60},
        {"v=c", 1, 70},
    };
    ms_param_table_t t;
    const ms_param_mem_t *p;
    char *text;
    (void)state;

    assert_int_equal(ms_param_table_compute(runs, 7, &t), 0);
    /* opt, x, msg, e, v; y has one value (the labels that start badly give none). */
    assert_int_equal(t.n_params, 5);
    assert_null(param_named(&t, "y"));

    p = param_named(&t, "opt");
    assert_non_null(p);
    /* Words, by first appearance; the '=' inside a value stays. */
    assert_false(p->numeric);
    assert_string_equal(p->values[0].text, "b=1");
    assert_string_equal(p->values[1].text, "a");
    assert_string_equal(p->values[2].text, "c");

    p = param_named(&t, "msg");
    assert_non_null(p);
    assert_string_equal(p->values[0].text, "hello world");
    assert_string_equal(p->values[1].text, "bye");

    p = param_named(&t, "e");
    assert_non_null(p);
    assert_string_equal(p->values[0].text, "");
    assert_string_equal(p->values[1].text, "z");
    assert_float_equal(p->values[0].peak_median, 10.0, 1e-9);

    p = param_named(&t, "x");
    assert_non_null(p);
    assert_true(p->numeric);
    /* 10, 20, 30: the largest median is 3x the smallest. */
    assert_true(p->moves);

    /* A control character is shown as '?' in the text, escaped in JSON. */
    text = render_table(&t, 0, 1);
    assert_non_null(strstr(text, "\nParamMemory_v=a?b: runs 1,"));
    assert_non_null(strstr(text, "\nParamMemory_e=: runs 1,"));
    assert_non_null(strstr(text, "\nParamMemory_msg=hello world: runs 1,"));
    free(text);
    text = render_table(&t, 1, 1);
    assert_non_null(strstr(text, "{\"Value\":\"a\\u0009b\","));
    free(text);
}

static void test_value_order(void **state)
{
    /* Numbers of every form, two that are equal, and one that is not a number. */
    static const ms_param_run_t numeric[] = {
        {"n=1.0", 1, 1}, {"n=-2", 1, 2}, {"n=1e1", 1, 3}, {"n=.5", 1, 4}, {"n=1", 1, 5},
        {"n=+3", 1, 6},
    };
    static const ms_param_run_t mixed[] = {
        {"n=10", 1, 1}, {"n=0x10", 1, 2}, {"n=2", 1, 3}, {"n=inf", 1, 4},
    };
    static const char *const want_numeric[] = {"-2", ".5", "1.0", "1", "+3", "1e1"};
    static const char *const want_mixed[] = {"10", "0x10", "2", "inf"};
    /* A sign or a point alone is not a number. */
    static const ms_param_run_t signs[] = {{"n=5", 1, 1}, {"n=-", 1, 2}, {"n=3", 1, 3},
                                           {"n=.", 1, 4}};
    /* Nor is a number with more after it. */
    static const ms_param_run_t trailing[] = {{"n=10", 1, 1}, {"n=2abc", 1, 2}, {"n=3", 1, 3}};
    ms_param_table_t t;
    (void)state;

    assert_int_equal(ms_param_table_compute(numeric, 6, &t), 0);
    assert_true(t.params[0].numeric);
    assert_int_equal(t.params[0].n_shown, 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(t.params[0].values[i].text, want_numeric[i]);

    assert_int_equal(ms_param_table_compute(mixed, 4, &t), 0);
    assert_false(t.params[0].numeric);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(t.params[0].values[i].text, want_mixed[i]);

    assert_int_equal(ms_param_table_compute(signs, 4, &t), 0);
    assert_false(t.params[0].numeric);
    assert_string_equal(t.params[0].values[1].text, "-");
    assert_string_equal(t.params[0].values[3].text, ".");

    assert_int_equal(ms_param_table_compute(trailing, 3, &t), 0);
    assert_false(t.params[0].numeric);
    assert_string_equal(t.params[0].values[0].text, "10");
    assert_string_equal(t.params[0].values[1].text, "2abc");
}

static void test_moves_threshold(void **state)
{
    ms_param_run_t runs[2] = {{"m=1", 1, 100}, {"m=2", 1, 119}};
    ms_param_table_t t;
    (void)state;

    assert_int_equal(ms_param_table_compute(runs, 2, &t), 0);
    assert_false(t.params[0].moves); /* 1.19x */
    runs[1].peak_mb = 121;
    assert_int_equal(ms_param_table_compute(runs, 2, &t), 0);
    assert_true(t.params[0].moves); /* 1.21x */
    runs[0].peak_mb = 0;
    runs[1].peak_mb = 1;
    assert_int_equal(ms_param_table_compute(runs, 2, &t), 0);
    assert_true(t.params[0].moves); /* anything against nothing */
    runs[1].peak_mb = 0;
    assert_int_equal(ms_param_table_compute(runs, 2, &t), 0);
    assert_false(t.params[0].moves);
}

static void test_caps(void **state)
{
    enum { N = 130 };
    static char labels[N][2048];
    ms_param_run_t runs[N];
    ms_param_table_t t;
    char *text;
    (void)state;

    /* 25 values of v; ten parameters p0..p9 with two values each after it. */
    for (int i = 0; i < 25; i++) {
        int used = snprintf(labels[i], sizeof labels[i], "v=%d", i);
        for (int k = 0; k < 10; k++)
            used += snprintf(labels[i] + used, sizeof labels[i] - (size_t)used, " p%d=%d", k,
                             i % 2);
        runs[i] = (ms_param_run_t){labels[i], 1.0, (double)(i + 1)};
    }
    assert_int_equal(ms_param_table_compute(runs, 25, &t), 0);
    assert_int_equal(t.n_params, 11);
    assert_int_equal(t.n_shown, MS_PARAM_SHOW_PARAMS);
    assert_int_equal(t.params[0].n_values, 25);
    assert_int_equal(t.params[0].n_shown, MS_PARAM_SHOW_VALUES);
    assert_string_equal(t.params[0].values[19].text, "19");
    /* The verdict covers the values not shown: 25 is the largest median. */
    assert_float_equal(t.params[0].median_peak_max, 25.0, 1e-9);
    assert_false(t.names_dropped);
    text = render_table(&t, 0, 1);
    assert_non_null(strstr(text, "\nParamMemory_v=19: runs 1,"));
    assert_null(strstr(text, "\nParamMemory_v=20:"));
    assert_non_null(strstr(text, "\nParamMemory: 5 more values of v not shown\n"));
    assert_non_null(strstr(text, "\nParamMemory: 3 more parameters not shown\n"));
    assert_null(strstr(text, "ParamMemory_p7="));
    free(text);
    text = render_table(&t, 1, 1);
    assert_non_null(strstr(text, "\"ValuesTotal\":25,\"ValuesNotShown\":5,"));
    assert_non_null(strstr(text, "\"ParamMemoryNotShown\":3,"));
    free(text);

    /* Names beyond the first MS_PARAM_NAMES_MAX are not examined, and that is said. */
    for (int i = 0; i < 2; i++) {
        int used = 0;
        for (int k = 0; k < MS_PARAM_NAMES_MAX + 6; k++)
            used += snprintf(labels[i] + used, sizeof labels[i] - (size_t)used, "%sn%d=%d",
                             k > 0 ? " " : "", k, i);
        runs[i] = (ms_param_run_t){labels[i], 1.0, 1.0};
    }
    assert_int_equal(ms_param_table_compute(runs, 2, &t), 0);
    assert_true(t.names_dropped);
    assert_int_equal(t.n_params, MS_PARAM_NAMES_MAX);
    text = render_table(&t, 0, 1);
    assert_non_null(strstr(text, "\nParamMemory: parameter names after the first 64 found in "
                                 "the labels were not examined\n"));
    free(text);

    /* A value too long to show is cut where a character ends. */
    memset(labels[0], 0, sizeof labels[0]);
    memcpy(labels[0], "w=", 2);
    memset(labels[0] + 2, 'a', 200);
    snprintf(labels[1], sizeof labels[1], "w=b");
    runs[0] = (ms_param_run_t){labels[0], 1.0, 1.0};
    runs[1] = (ms_param_run_t){labels[1], 1.0, 1.0};
    assert_int_equal(ms_param_table_compute(runs, 2, &t), 0);
    assert_int_equal(strlen(t.params[0].values[0].text), MS_PARAM_TEXT_MAX - 1);
    assert_string_equal(t.params[0].values[0].text + MS_PARAM_TEXT_MAX - 4, "...");
}

/* ---- from a database to the advisory ------------------------------------------------- */

static char tmpdir[] = "/tmp/ms-test-parammem-XXXXXX";
static char dbpath[256];

static void exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "sql failed: %s\n%s\n", msg ? msg : "?", sql);
        sqlite3_free(msg);
        fail();
    }
}

/* A run of one process whose RSS is peak_mib throughout, or without a sample. */
static void add_run(sqlite3 *db, int id, const char *status, const char *label,
                    const char *command, long long peak_mib, int sampled)
{
    sqlite3_stmt *st = NULL;
    char sql[512];

    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO runs(run_id, sweep_id, seq, status, label,"
                                        " command) VALUES (?1, 1, ?1, ?2, ?3, ?4)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int(st, 1, id);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, label, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, command, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    snprintf(sql, sizeof sql,
             "INSERT INTO processes(proc_id, run_id, pid, ppid, started_ns, ended_ns, hwm_kb)"
             " VALUES (%d, %d, %d, 1, %lld, %lld, %lld)",
             id, id, 1000 + id, id * S_NS, id * S_NS + S_NS, peak_mib * MIB);
    exec_sql(db, sql);
    if (!sampled)
        return;
    snprintf(sql, sizeof sql,
             "INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind) VALUES"
             " (%d, %lld, %lld, %lld, 'start'), (%d, %lld, %lld, %lld, 'end')",
             id, id * S_NS, peak_mib * MIB, peak_mib * MIB, id, id * S_NS + S_NS,
             peak_mib * MIB, peak_mib * MIB);
    exec_sql(db, sql);
}

static int setup(void **state)
{
    (void)state;
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(dbpath, sizeof dbpath, "%s/memsweep.db", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_labels_from_database(void **state)
{
    sqlite3 *db = NULL;
    ms_sweep_data_t d;
    ms_advise_opts_t o;
    ms_advisory_t a;
    char sql[256], err[512] = "";
    char big[2][1200], long_cmd[2][400], long_label[2][300];
    const ms_param_mem_t *p;
    (void)state;

    unlink(dbpath);
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    exec_sql(db, MS_SCHEMA_SQL);
    snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d;",
             MS_APPLICATION_ID, MS_SCHEMA_VERSION);
    exec_sql(db, sql);
    exec_sql(db, "INSERT INTO sweeps(sweep_id, started_ns, finished_ns, hostname, mem_total_kb,"
                 " reserve_mb, safety_factor, interval_ms) VALUES"
                 " (1, 0, 100000000000, 'host', 12226560, 1024, 0.85, 500)");
    add_run(db, 1, "ok", "mib=16 seed=1", "/bin/w --mib 16", 16, 1);
    add_run(db, 2, "ok", "mib=64 seed=1", "/bin/w --mib 64", 64, 1);
    add_run(db, 3, "ok", "mib=16 seed=2", "/bin/w --mib 16", 18, 1);
    add_run(db, 4, "ok", "mib=64 seed=2", "/bin/w --mib 64", 66, 1);
    /* Stopped and not measured runs are not in the table: no mib=256, no mib=512. */
    add_run(db, 5, "interrupted", "mib=256 seed=1", "/bin/w --mib 256", 100, 1);
    add_run(db, 6, "ok", "mib=512 seed=1", "/bin/w --mib 512", 512, 0);
    /* Command lines as labels (a commands file): no OMP parameter. */
    add_run(db, 7, "ok", "OMP=4 ./solve", "OMP=4 ./solve", 30, 1);
    add_run(db, 8, "ok", "OMP=8 ./solve", "OMP=8 ./solve", 60, 1);
    /* Labels too long to read: no big parameter. */
    for (int i = 0; i < 2; i++) {
        const int n = snprintf(big[i], sizeof big[i], "big=%d pad=", i);
        memset(big[i] + n, 'x', 1100);
        big[i][n + 1100] = '\0';
        add_run(db, 9 + i, "ok", big[i], "/bin/w", 40, 1);
    }
    /* Command lines cut at 200 bytes by the launcher: no X parameter. */
    for (int i = 0; i < 2; i++) {
        snprintf(long_cmd[i], sizeof long_cmd[i], "X=%d ", i);
        memset(long_cmd[i] + 4, 'a', 300);
        long_cmd[i][304] = '\0';
        snprintf(long_label[i], sizeof long_label[i], "%.200s...", long_cmd[i]);
        add_run(db, 11 + i, "ok", long_label[i], long_cmd[i], 40, 1);
    }
    sqlite3_close(db);

    db = NULL;
    if (ms_sweep_open(dbpath, &db, err, sizeof err) != 0 ||
        ms_sweep_read(db, NULL, &d, err, sizeof err) != 0)
        fail_msg("read: %s", err);
    sqlite3_close(db);
    assert_int_equal(d.n_runs, 12);
    assert_string_equal(ms_sweep_label(&d, &d.runs[0]), "mib=16 seed=1");
    assert_string_equal(ms_sweep_label(&d, &d.runs[4]), "mib=256 seed=1");
    for (size_t i = 6; i < 12; i++)
        assert_null(ms_sweep_label(&d, &d.runs[i]));

    ms_advise_opts_init(&o);
    assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
    ms_sweep_free(&d);
    assert_int_equal(a.counts.included, 10);
    assert_true(a.have_params);
    assert_int_equal(a.params.n_params, 2);
    p = &a.params.params[0];
    assert_string_equal(p->name, "mib");
    assert_int_equal(p->n_values, 2);
    assert_string_equal(p->values[0].text, "16");
    assert_int_equal(p->values[0].runs, 2);
    assert_float_equal(p->values[0].peak_median, 17.0, 1e-9);
    assert_float_equal(p->values[1].peak_max, 66.0, 1e-9);
    assert_true(p->moves);
    p = &a.params.params[1];
    assert_string_equal(p->name, "seed");
    assert_false(p->moves); /* 40 against 42 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_pairs),
        cmocka_unit_test(test_label_is_command),
        cmocka_unit_test(test_table_example),
        cmocka_unit_test(test_table_text),
        cmocka_unit_test(test_table_json),
        cmocka_unit_test(test_odd_labels),
        cmocka_unit_test(test_value_order),
        cmocka_unit_test(test_moves_threshold),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_labels_from_database),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
