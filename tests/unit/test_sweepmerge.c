/*
 * Unit tests for store/sweepmerge.c on real SQLite files: ids renumbered with every row
 * kept with its run, stacks shared by hash, a run met twice taken once (a finished copy
 * over a running one, whatever the order), the sweeps row of the source that started
 * first, a damaged shard of a sweep directory left out, the merge written to a file
 * reading the same, and the admissions and attempts of schema 9 carried with their runs.
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

#include "store.h"
#include "sweepmerge.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_sweepmerge.XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/*
 * A shard at path: a sweep started at start_ns on host, one run uid with status, two
 * processes with samples of rss a and b, and a stack with hash h on the first sample.
 */
static void shard(const char *path, long long start_ns, const char *host, const char *uid,
                  const char *status, int a, int b, long long h)
{
    sqlite3 *db = NULL;
    char err[256], sql[2048];

    assert_int_equal(ms_store_open_write(path, MS_STORE_CREATE, &db, err, sizeof err), 0);
    snprintf(sql, sizeof sql,
             "INSERT INTO sweeps(sweep_id, started_ns, hostname, mem_total_kb, reserve_mb,"
             " safety_factor, interval_ms, origin) VALUES(1, %lld, '%s', 1048576, 64, 0.85,"
             " 500, 'exec');"
             "INSERT INTO runs(run_id, sweep_id, seq, label, status, uid) VALUES"
             " (7, 1, 1, 'x=%d', '%s', '%s');"
             "INSERT INTO processes(proc_id, run_id, pid, started_ns) VALUES (3, 7, 10, 1), (4, 7, 11, 2);"
             "INSERT INTO stacks(stack_id, hash, depth, frames) VALUES (5, %lld, 1, 'f%lld');"
             "INSERT INTO samples(proc_id, t_ns, rss_kb, kind, stack_id) VALUES"
             " (3, 10, %d, 'alloc', 5), (4, 11, %d, 'tick', NULL);",
             start_ns, host, a, status, uid, h, h, a, b);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static long long one(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static sqlite3 *merge(const char *const *paths, size_t n, ms_merge_counts_t *c)
{
    ms_merge_t *m = NULL;
    sqlite3 *db = NULL;
    char err[1024];

    assert_int_equal(ms_merge_open(&m, err, sizeof err), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ms_merge_add(m, paths[i], err, sizeof err), 0);
    assert_int_equal(ms_merge_finish(m, &db, c, err, sizeof err), 0);
    return db;
}

static void test_renumber_and_dedupe(void **state)
{
    char a[128], b[128];
    ms_merge_counts_t c;
    (void)state;

    snprintf(a, sizeof a, "%s/a.db", dir);
    snprintf(b, sizeof b, "%s/b.db", dir);
    shard(a, 2000, "n1", "aaaa", "ok", 100, 50, 42);
    shard(b, 1000, "n2", "bbbb", "ok", 300, 20, 42);
    const char *const paths[] = {a, b, a};
    sqlite3 *db = merge(paths, 3, &c);
    assert_int_equal(c.sources, 3);
    assert_int_equal(c.runs, 2);
    assert_int_equal(c.duplicates, 1);
    assert_int_equal(one(db, "SELECT count(*) FROM runs"), 2);
    assert_int_equal(one(db, "SELECT count(*) FROM processes"), 4);
    /* Every sample stays with its run. */
    assert_int_equal(one(db, "SELECT sum(s.rss_kb) FROM samples s JOIN processes p USING (proc_id)"
                             " JOIN runs r USING (run_id) WHERE r.uid = 'aaaa'"), 150);
    assert_int_equal(one(db, "SELECT sum(s.rss_kb) FROM samples s JOIN processes p USING (proc_id)"
                             " JOIN runs r USING (run_id) WHERE r.uid = 'bbbb'"), 320);
    /* One stack for the one hash, and both alloc samples point at it. */
    assert_int_equal(one(db, "SELECT count(*) FROM stacks"), 1);
    assert_int_equal(one(db, "SELECT count(*) FROM samples WHERE stack_id ="
                             " (SELECT stack_id FROM stacks)"), 2);
    /* The sweep of the source that started first, and each run's node. */
    assert_int_equal(one(db, "SELECT started_ns FROM sweeps"), 1000);
    assert_int_equal(one(db, "SELECT count(*) FROM sweeps"), 1);
    assert_int_equal(one(db, "SELECT count(*) FROM runs WHERE host = 'n1' AND uid = 'aaaa'"), 1);
    assert_int_equal(one(db, "SELECT node_mem_kb FROM runs WHERE uid = 'bbbb'"), 1048576);
    sqlite3_close(db);
}

static void test_finished_copy_wins(void **state)
{
    char run[128], fin[128];
    ms_merge_counts_t c;
    (void)state;

    snprintf(run, sizeof run, "%s/run.db", dir);
    snprintf(fin, sizeof fin, "%s/fin.db", dir);
    shard(run, 1000, "n1", "cccc", "running", 10, 10, 1);
    shard(fin, 1000, "n1", "cccc", "oom", 70, 80, 1);
    for (int order = 0; order < 2; order++) {
        const char *const paths[] = {order ? fin : run, order ? run : fin};
        sqlite3 *db = merge(paths, 2, &c);
        assert_int_equal(c.runs, 1);
        assert_int_equal(c.duplicates, 1);
        assert_int_equal(one(db, "SELECT count(*) FROM runs WHERE status = 'oom'"), 1);
        assert_int_equal(one(db, "SELECT count(*) FROM runs"), 1);
        assert_int_equal(one(db, "SELECT sum(rss_kb) FROM samples"), 150);
        assert_int_equal(one(db, "SELECT count(*) FROM processes"), 2);
        sqlite3_close(db);
    }
}

static void test_sweep_dir_and_write(void **state)
{
    char sw[128], p[192], out[192], err[1024];
    ms_merge_counts_t c;
    FILE *f;
    (void)state;

    snprintf(sw, sizeof sw, "%s/sweep", dir);
    assert_int_equal(mkdir(sw, 0700), 0);
    snprintf(p, sizeof p, "%s/shards", sw);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/shards/1111.db", sw);
    shard(p, 5, "n1", "1111", "ok", 1, 2, 9);
    snprintf(p, sizeof p, "%s/shards/2222.db", sw);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs("not a database at all, but long enough to look like one might be here", f);
    fclose(f);
    /* A hidden file is a copy being published: never read. */
    snprintf(p, sizeof p, "%s/shards/.3333.db.0123456789abcdef", sw);
    shard(p, 5, "n1", "3333", "ok", 1, 2, 9);
    const char *const paths[] = {sw};
    sqlite3 *db = merge(paths, 1, &c);
    assert_int_equal(c.runs, 1);
    assert_int_equal(c.unreadable, 1);
    snprintf(out, sizeof out, "%s/out.db", dir);
    assert_int_equal(ms_merge_write(db, out, err, sizeof err), 0);
    assert_int_equal(ms_merge_write(db, out, err, sizeof err), -EEXIST);
    sqlite3_close(db);
    const char *const again[] = {out, sw};
    db = merge(again, 2, &c);
    assert_int_equal(c.runs, 1);
    assert_int_equal(c.duplicates, 1);
    assert_int_equal(one(db, "SELECT sum(rss_kb) FROM samples"), 3);
    sqlite3_close(db);
}

/*
 * A sweep of `memsweep run` at path (no uids) with the scheduling of schema 9: a budget
 * of budget_kb, run 1 admitted by 'first', run 2 by 'fit' and killed, run 3 its retry;
 * each run one process with one sample of rss (run 1), rss + 1, rss + 2.
 */
static void scheduled(const char *path, long long start_ns, long long budget_kb, int rss)
{
    sqlite3 *db = NULL;
    char err[256], sql[2048];

    assert_int_equal(ms_store_open_write(path, MS_STORE_CREATE, &db, err, sizeof err), 0);
    snprintf(sql, sizeof sql,
             "INSERT INTO sweeps(sweep_id, started_ns, finished_ns, hostname, mem_total_kb,"
             " reserve_mb, safety_factor, interval_ms, origin, mem_budget_kb, jobs_auto,"
             " retry_oom) VALUES(1, %lld, %lld, 'h', 1048576, 64, 0.85, 500, 'launcher', %lld,"
             " 1, 1);"
             "INSERT INTO runs(run_id, sweep_id, seq, label, status, attempt, superseded) VALUES"
             " (1, 1, 1, 'x=1', 'ok', NULL, NULL), (2, 1, 2, 'x=2', 'oom', 1, 1),"
             " (3, 1, 2, 'x=2', 'ok', 2, NULL);"
             "INSERT INTO processes(proc_id, run_id, pid, started_ns) VALUES"
             " (1, 1, 10, 1), (2, 2, 11, 2), (3, 3, 12, 3);"
             "INSERT INTO samples(proc_id, t_ns, rss_kb, kind) VALUES"
             " (1, 10, %d, 'tick'), (2, 11, %d, 'tick'), (3, 12, %d, 'tick');"
             "INSERT INTO admissions(run_id, decided_ns, rule, predicted_kb, running,"
             " budget_kb, waited_ms) VALUES (1, 1, 'first', NULL, 0, %lld, 0),"
             " (2, 2, 'fit', %d, 1, %lld, 7), (3, 3, 'retry', %d, 0, %lld, 9);",
             start_ns, start_ns + 100, budget_kb, rss, rss + 1, rss + 2, budget_kb, rss, budget_kb,
             rss * 2, budget_kb);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/*
 * The admissions (schema 9) follow their runs under the runs' new ids, with the attempt
 * columns; the scheduling options are those of the sweeps row taken (the source that
 * started first); a source given twice adds none twice.
 */
static void test_schedule_carried(void **state)
{
    char a[128], b[128];
    ms_merge_counts_t c;
    (void)state;

    snprintf(a, sizeof a, "%s/sched-a.db", dir);
    snprintf(b, sizeof b, "%s/sched-b.db", dir);
    scheduled(a, 5000, 900 * 1024, 100);
    scheduled(b, 4000, 500 * 1024, 1000);
    const char *const paths[] = {a, b, a};
    sqlite3 *db = merge(paths, 3, &c);
    assert_int_equal(c.runs, 6);
    assert_int_equal(c.duplicates, 3);
    assert_int_equal(one(db, "SELECT count(*) FROM admissions"), 6);
    /* Every admission is of a run of the merge, and the one of its own source. */
    assert_int_equal(one(db, "SELECT count(*) FROM admissions a JOIN runs r USING (run_id)"), 6);
    assert_int_equal(one(db, "SELECT count(*) FROM admissions a JOIN runs r USING (run_id)"
                             " JOIN processes p USING (run_id) JOIN samples s USING (proc_id)"
                             " WHERE a.rule = 'retry' AND a.predicted_kb = 2 * (s.rss_kb - 2)"),
                     2);
    assert_int_equal(one(db, "SELECT count(*) FROM admissions a JOIN runs r USING (run_id)"
                             " JOIN processes p USING (run_id) JOIN samples s USING (proc_id)"
                             " WHERE a.rule = 'fit' AND a.predicted_kb = s.rss_kb - 1"
                             " AND r.superseded = 1 AND r.attempt = 1 AND r.status = 'oom'"),
                     2);
    assert_int_equal(one(db, "SELECT count(*) FROM runs WHERE attempt = 2 AND superseded IS NULL"),
                     2);
    /* The sweeps row of b, which started first: its budget and options. */
    assert_int_equal(one(db, "SELECT mem_budget_kb FROM sweeps"), 500 * 1024);
    assert_int_equal(one(db, "SELECT jobs_auto + retry_oom FROM sweeps"), 2);
    assert_int_equal(one(db, "SELECT sum(waited_ms) FROM admissions"), 32);
    sqlite3_close(db);
}

/* A run met twice: the finished copy's admission replaces the running copy's. */
static void test_schedule_of_finished_copy(void **state)
{
    char run[128], fin[128];
    ms_merge_counts_t c;
    (void)state;

    snprintf(run, sizeof run, "%s/adm-run.db", dir);
    snprintf(fin, sizeof fin, "%s/adm-fin.db", dir);
    shard(run, 1000, "n1", "dddd", "running", 10, 10, 1);
    shard(fin, 1000, "n1", "dddd", "ok", 70, 80, 1);
    for (int k = 0; k < 2; k++) {
        sqlite3 *db = NULL;
        char err[256];
        assert_int_equal(ms_store_open_write(k ? fin : run, 0, &db, err, sizeof err), 0);
        const char *sql = k ? "INSERT INTO admissions(run_id, decided_ns, rule, running)"
                              " VALUES (7, 2, 'retry', 0)"
                            : "INSERT INTO admissions(run_id, decided_ns, rule, running)"
                              " VALUES (7, 1, 'fit', 3)";
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
    }
    for (int order = 0; order < 2; order++) {
        const char *const paths[] = {order ? fin : run, order ? run : fin};
        sqlite3 *db = merge(paths, 2, &c);
        assert_int_equal(one(db, "SELECT count(*) FROM admissions"), 1);
        assert_int_equal(one(db, "SELECT count(*) FROM admissions a JOIN runs r USING (run_id)"
                                 " WHERE a.rule = 'retry' AND r.status = 'ok'"), 1);
        sqlite3_close(db);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_renumber_and_dedupe),
        cmocka_unit_test(test_finished_copy_wins),
        cmocka_unit_test(test_sweep_dir_and_write),
        cmocka_unit_test(test_schedule_carried),
        cmocka_unit_test(test_schedule_of_finished_copy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
