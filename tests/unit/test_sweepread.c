/*
 * Unit tests for analyzer/sweepread.c on databases built here: run reduction (single
 * process, exec chain, wrapper shell, overlapping children, SIGKILLed process) and the
 * checks that refuse databases that are not memsweep's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "memsweep/schema.h"
#include "sweepread.h"

#define S_NS 1000000000LL /* one second in ns */
#define MIB 1024LL        /* one MiB in kB */

static char tmpdir[] = "/tmp/ms-test-sweepread-XXXXXX";
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

static sqlite3 *create_db(const char *path)
{
    sqlite3 *db = NULL;
    char sql[256];
    unlink(path);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_sql(db, MS_SCHEMA_SQL);
    snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d;",
             MS_APPLICATION_ID, MS_SCHEMA_VERSION);
    exec_sql(db, sql);
    exec_sql(db, "INSERT INTO sweeps(sweep_id, started_ns, hostname, mem_total_kb,"
                 " reserve_mb, safety_factor, interval_ms) VALUES"
                 " (1, 0, 'host', 12226560, 1024, 0.85, 500)");
    return db;
}

static void add_run(sqlite3 *db, int run_id, const char *status)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO runs(run_id, sweep_id, seq, status) VALUES (%d, 1, %d, '%s')",
             run_id, run_id, status);
    exec_sql(db, sql);
}

/* ended_s < 0 records no exit (exec or SIGKILL). */
static void add_proc(sqlite3 *db, int proc_id, int run_id, int pid, double start_s,
                     double ended_s, long long hwm_kb)
{
    char sql[320];
    char ended[32] = "NULL";
    if (ended_s >= 0)
        snprintf(ended, sizeof ended, "%lld", (long long)(ended_s * S_NS));
    snprintf(sql, sizeof sql,
             "INSERT INTO processes(proc_id, run_id, pid, ppid, started_ns, ended_ns, hwm_kb)"
             " VALUES (%d, %d, %d, 1, %lld, %s, %lld)",
             proc_id, run_id, pid, (long long)(start_s * S_NS), ended, hwm_kb);
    exec_sql(db, sql);
}

static void add_sample(sqlite3 *db, int proc_id, double t_s, long long rss_kb, const char *kind)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind)"
             " VALUES (%d, %lld, %lld, %lld, '%s')",
             proc_id, (long long)(t_s * S_NS), rss_kb, rss_kb, kind);
    exec_sql(db, sql);
}

static const ms_run_mem_t *run_by_id(const ms_sweep_data_t *d, long long run_id)
{
    for (size_t i = 0; i < d->n_runs; i++)
        if (d->runs[i].run_id == run_id)
            return &d->runs[i];
    fail_msg("run %lld missing", run_id);
    return NULL;
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

static void read_db(ms_sweep_data_t *d)
{
    sqlite3 *db = NULL;
    char err[512] = "";
    int rc = ms_sweep_open(dbpath, &db, err, sizeof err);
    if (rc != 0)
        fail_msg("open: %s", err);
    rc = ms_sweep_read(db, d, err, sizeof err);
    sqlite3_close(db);
    if (rc != 0)
        fail_msg("read: %s", err);
}

static void test_run_reduction(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    const ms_run_mem_t *r;
    (void)state;

    /* Run 1: one process; the kernel's VmHWM (300 MiB) exceeds every sample. */
    add_run(db, 1, "ok");
    add_proc(db, 1, 1, 100, 0, 3, 300 * MIB);
    add_sample(db, 1, 0.0, 2 * MIB, "start");
    add_sample(db, 1, 0.5, 200 * MIB, "tick");
    add_sample(db, 1, 1.0, 250 * MIB, "tick");
    add_sample(db, 1, 3.0, 180 * MIB, "end");

    /* Run 2: exec chain, same pid: a shell that execs the worker. */
    add_run(db, 2, "ok");
    add_proc(db, 2, 2, 200, 0, -1, 1 * MIB);
    add_sample(db, 2, 0.0, 1 * MIB, "start");
    add_proc(db, 3, 2, 200, 0.2, 5, 400 * MIB);
    add_sample(db, 3, 0.2, 3 * MIB, "start");
    add_sample(db, 3, 1.0, 400 * MIB, "tick");
    add_sample(db, 3, 5.0, 350 * MIB, "end");

    /* Run 3: a wrapper shell that forks the worker and outlives it. */
    add_run(db, 3, "failed");
    add_proc(db, 4, 3, 300, 0, 10, 1 * MIB);
    add_sample(db, 4, 0.0, 1 * MIB, "start");
    add_sample(db, 4, 9.5, 1 * MIB, "end");
    add_proc(db, 5, 3, 301, 1, 9, 100 * MIB);
    add_sample(db, 5, 1.0, 2 * MIB, "start");
    add_sample(db, 5, 5.0, 100 * MIB, "tick");
    add_sample(db, 5, 9.0, 90 * MIB, "end");

    /* Run 4: two children alive at once: 1 + 50 + 60 MiB between t=2 and t=5. */
    add_run(db, 4, "ok");
    add_proc(db, 6, 4, 400, 0, 10, 1 * MIB);
    add_sample(db, 6, 0.0, 1 * MIB, "start");
    add_sample(db, 6, 10.0, 1 * MIB, "end");
    add_proc(db, 7, 4, 401, 1, 5, 50 * MIB);
    add_sample(db, 7, 1.0, 50 * MIB, "start");
    add_sample(db, 7, 5.0, 40 * MIB, "end");
    add_proc(db, 8, 4, 402, 2, 6, 60 * MIB);
    add_sample(db, 8, 2.0, 60 * MIB, "start");
    add_sample(db, 8, 6.0, 60 * MIB, "end");

    /* Run 5: started but no sample at all (for example a static binary). */
    add_run(db, 5, "ok");
    add_proc(db, 9, 5, 500, 0, -1, 0);

    /* Run 6: SIGKILLed: no exit recorded; the last tick stands for the end. */
    add_run(db, 6, "killed");
    add_proc(db, 10, 6, 600, 0, -1, 0);
    add_sample(db, 10, 0.0, 5 * MIB, "start");
    add_sample(db, 10, 0.5, 70 * MIB, "tick");
    sqlite3_close(db);

    read_db(&d);
    assert_int_equal(d.n_runs, 6);
    assert_true(d.info.have_mem_total);
    assert_int_equal(d.info.mem_total_kb, 12226560ULL);

    r = run_by_id(&d, 1);
    assert_int_equal(r->n_samples, 4);
    assert_int_equal(r->peak_kb, 300 * MIB);
    assert_int_equal(r->end_kb, 180 * MIB);

    r = run_by_id(&d, 2);
    assert_int_equal(r->n_processes, 2);
    assert_int_equal(r->peak_kb, 400 * MIB);
    assert_int_equal(r->end_kb, 350 * MIB);

    r = run_by_id(&d, 3);
    assert_int_equal(r->peak_kb, 101 * MIB);
    assert_int_equal(r->end_kb, 91 * MIB); /* the worker's exit, with the shell beside it */
    assert_string_equal(r->status, "failed");

    r = run_by_id(&d, 4);
    assert_int_equal(r->peak_kb, 111 * MIB);
    assert_int_equal(r->end_kb, 101 * MIB); /* at t=5: 1 + 40 + 60 */

    r = run_by_id(&d, 5);
    assert_int_equal(r->n_samples, 0);

    r = run_by_id(&d, 6);
    assert_int_equal(r->end_kb, 70 * MIB);
    assert_int_equal(r->peak_kb, 70 * MIB);

    {
        ms_advise_opts_t o;
        ms_advisory_t a;
        ms_advise_opts_init(&o);
        assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
        assert_int_equal(a.counts.total, 6);
        assert_int_equal(a.counts.included, 5);
        assert_int_equal(a.counts.excluded, 1);
        assert_int_equal(a.counts.failed, 2);
        assert_int_equal(a.machine.mem_total_mb, 11940);
        /* Max peak over included runs: 400 MiB (run 2). */
        assert_float_equal(a.peak_mb.max, 400.0, 1e-9);
        /* Mean end: (180 + 350 + 91 + 101 + 70) / 5 = 158.4 */
        assert_float_equal(a.end_mb.mean, 158.4, 1e-9);

        o.mem_total_mb = 4096;
        o.reserve_mb = 0;
        o.safety_factor = 0.5;
        assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
        assert_int_equal(a.machine.usable_mb, 4096);
        assert_int_equal(a.aggressive, 12); /* 4096 / 158.4 * 0.5 = 12.9 */
    }
    ms_sweep_free(&d);
}

static void expect_open_error(const char *path, int want_rc, const char *want_text)
{
    sqlite3 *db = NULL;
    char err[512] = "";
    int rc = ms_sweep_open(path, &db, err, sizeof err);
    assert_int_equal(rc, want_rc);
    assert_null(db);
    if (strstr(err, want_text) == NULL)
        fail_msg("error '%s' lacks '%s'", err, want_text);
}

static void test_refuses_foreign_databases(void **state)
{
    sqlite3 *db = NULL;
    FILE *f;
    char sub[300];
    (void)state;

    /* Random bytes. */
    f = fopen(dbpath, "w");
    assert_non_null(f);
    fputs("this is not a database at all, just text that is long enough.\n", f);
    fclose(f);
    expect_open_error(dbpath, -EINVAL, "not a memsweep database");

    /* A valid SQLite database that belongs to someone else. */
    unlink(dbpath);
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    exec_sql(db, "CREATE TABLE t(x)");
    sqlite3_close(db);
    expect_open_error(dbpath, -EINVAL, "not a memsweep database");

    /* A memsweep database from a newer schema version. */
    db = create_db(dbpath);
    exec_sql(db, "PRAGMA user_version=99");
    sqlite3_close(db);
    expect_open_error(dbpath, -EPROTONOSUPPORT, "schema version 99 is newer");

    /* A directory without a database, and a path that does not exist. */
    snprintf(sub, sizeof sub, "%s/empty", tmpdir);
    assert_int_equal(mkdir(sub, 0755), 0);
    expect_open_error(sub, -ENOENT, "no memsweep.db in this directory");
    snprintf(sub, sizeof sub, "%s/missing.db", tmpdir);
    expect_open_error(sub, -ENOENT, "No such file or directory");
}

static void test_opens_sweep_directory(void **state)
{
    sqlite3 *db = create_db(dbpath);
    char err[256] = "";
    (void)state;
    sqlite3_close(db);
    assert_int_equal(ms_sweep_open(tmpdir, &db, err, sizeof err), 0);
    assert_non_null(db);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_reduction),
        cmocka_unit_test(test_refuses_foreign_databases),
        cmocka_unit_test(test_opens_sweep_directory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
