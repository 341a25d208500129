/*
 * Unit tests for the sweep reader (analyzer/sweep*.c) on databases built here: run
 * reduction (single process, exec chain, wrapper shell, overlapping children, SIGKILLed
 * process), the peak views of `memsweep peaks` (periodic, all-samples, VmHWM; kinds,
 * drops, tracking, stacks), schema version 1 databases, and the checks that refuse
 * databases that are not memsweep's.
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

#include "memsweep/defaults.h"
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

/* A sample with its own VmHWM reading and, when stack_id > 0, a stack. */
static void add_sample_ex(sqlite3 *db, int proc_id, double t_s, long long rss_kb,
                          long long hwm_kb, const char *kind, int stack_id)
{
    char sql[320];
    char stack[32] = "NULL";
    if (stack_id > 0)
        snprintf(stack, sizeof stack, "%d", stack_id);
    snprintf(sql, sizeof sql,
             "INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind, stack_id)"
             " VALUES (%d, %lld, %lld, %lld, '%s', %s)",
             proc_id, (long long)(t_s * S_NS), rss_kb, hwm_kb, kind, stack);
    exec_sql(db, sql);
}

static void add_stack(sqlite3 *db, int stack_id, const char *frames)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO stacks(stack_id, hash, depth, frames) VALUES (%d, %d, 2, '%s')",
             stack_id, 1000 + stack_id, frames);
    exec_sql(db, sql);
}

/* Sets the allocation columns of a process; a negative value stores NULL. */
static void set_alloc(sqlite3 *db, int proc_id, int tracking, long long dropped,
                      long long rate, long long queue)
{
    char sql[320];
    char v[4][32];
    const long long in[4] = {tracking, dropped, rate, queue};
    for (int i = 0; i < 4; i++) {
        if (in[i] < 0)
            snprintf(v[i], sizeof v[i], "NULL");
        else
            snprintf(v[i], sizeof v[i], "%lld", in[i]);
    }
    snprintf(sql, sizeof sql,
             "UPDATE processes SET alloc_tracking = %s, alloc_dropped = %s,"
             " alloc_dropped_rate = %s, alloc_dropped_queue = %s WHERE proc_id = %d",
             v[0], v[1], v[2], v[3], proc_id);
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
    rc = ms_sweep_read(db, NULL, d, err, sizeof err);
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
    /* The exit RSS: the last tick (250) outweighs the end sample taken after teardown. */
    assert_int_equal(r->end_kb, 250 * MIB);

    r = run_by_id(&d, 2);
    assert_int_equal(r->n_processes, 2);
    assert_int_equal(r->peak_kb, 400 * MIB);
    assert_int_equal(r->end_kb, 400 * MIB);

    r = run_by_id(&d, 3);
    assert_int_equal(r->peak_kb, 101 * MIB);
    /* The worker's exit RSS (its last tick, 100), with the shell beside it. */
    assert_int_equal(r->end_kb, 101 * MIB);
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
        /* Mean end: (250 + 400 + 101 + 101 + 70) / 5 = 184.4 */
        assert_float_equal(a.end_mb.mean, 184.4, 1e-9);

        o.mem_total_mb = 4096;
        o.reserve_mb = 0;
        o.safety_factor = 0.5;
        assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
        assert_int_equal(a.machine.usable_mb, 4096);
        assert_int_equal(a.aggressive, 11); /* 4096 / 184.4 * 0.5 = 11.1 */
    }
    ms_sweep_free(&d);
}

static void test_pid_reuse_and_teardown(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    const ms_run_mem_t *r;
    (void)state;

    /*
     * Run 1: A (pid 700) is killed at t=1 with 70 MiB and records no exit; C runs from
     * t=2 to t=100 with 10 MiB; B reuses pid 700 at t=60. B is not the image A exec'd into
     * (it starts long after A's last sample), so A ends at t=1: peak and end are A's 70,
     * not A's 70 carried on beside C (80).
     */
    add_run(db, 1, "ok");
    add_proc(db, 1, 1, 700, 0, -1, 0);
    add_sample(db, 1, 0.0, 5 * MIB, "start");
    add_sample(db, 1, 1.0, 70 * MIB, "tick");
    add_proc(db, 2, 1, 701, 2, 100, 0);
    add_sample(db, 2, 2.0, 10 * MIB, "start");
    add_sample(db, 2, 50.0, 10 * MIB, "tick");
    add_sample(db, 2, 100.0, 10 * MIB, "end");
    add_proc(db, 3, 1, 700, 60, 70, 0);
    add_sample(db, 3, 60.0, 5 * MIB, "start");
    add_sample(db, 3, 70.0, 5 * MIB, "end");

    /* Run 2: an interpreter that frees everything in its teardown: 200 MiB while
     * working, 9 MiB in the end sample; its end RSS is what it worked with. */
    add_run(db, 2, "ok");
    add_proc(db, 4, 2, 800, 0, 3, 0);
    add_sample(db, 4, 0.0, 8 * MIB, "start");
    add_sample(db, 4, 2.5, 200 * MIB, "tick");
    add_sample(db, 4, 3.0, 9 * MIB, "end");

    /*
     * Run 3: the same teardown seen by release samples (the shim stores a release after
     * the tick that preceded it, so the one at 0.9 s comes after the tick of 1.0 s). The
     * end at 1.3 s is in the interval [1.0, 1.5); what the process held in that interval
     * and the one before counts: the release at 0.9 s, 150 MiB, not the last tick's 30
     * nor the end's 9.
     */
    add_run(db, 3, "ok");
    add_proc(db, 5, 3, 900, 0, 1.3, 0);
    add_sample(db, 5, 0.0, 8 * MIB, "start");
    add_sample(db, 5, 0.5, 20 * MIB, "tick");
    add_sample(db, 5, 1.0, 30 * MIB, "tick");
    add_sample(db, 5, 0.9, 150 * MIB, "release");
    add_sample(db, 5, 1.2, 120 * MIB, "release");
    add_sample(db, 5, 1.3, 9 * MIB, "end");

    /* Run 4: 117 MiB at the tick of 1.0 s, the release before the large free at 1.43 s
     * sees 118, the tick of 1.45 s catches the free half done (55), the end 14. */
    add_run(db, 4, "ok");
    add_proc(db, 6, 4, 910, 0, 1.5, 0);
    add_sample(db, 6, 0.0, 5 * MIB, "start");
    add_sample(db, 6, 0.5, 117 * MIB, "tick");
    add_sample(db, 6, 1.0, 117 * MIB, "tick");
    add_sample(db, 6, 1.45, 55 * MIB, "tick");
    add_sample(db, 6, 1.43, 118 * MIB, "release");
    add_sample(db, 6, 1.5, 14 * MIB, "end");

    /* Run 5: a 300 MiB spike released at 0.7 s; ticks of 100 MiB to the end at 2.2 s. */
    add_run(db, 5, "ok");
    add_proc(db, 7, 5, 920, 0, 2.2, 0);
    add_sample(db, 7, 0.0, 5 * MIB, "start");
    add_sample(db, 7, 0.5, 100 * MIB, "tick");
    add_sample(db, 7, 0.7, 300 * MIB, "release");
    add_sample(db, 7, 1.0, 100 * MIB, "tick");
    add_sample(db, 7, 1.5, 100 * MIB, "tick");
    add_sample(db, 7, 2.0, 100 * MIB, "tick");
    add_sample(db, 7, 2.2, 90 * MIB, "end");
    sqlite3_close(db);

    read_db(&d);
    r = run_by_id(&d, 1);
    assert_int_equal(r->peak_kb, 70 * MIB);
    assert_int_equal(r->end_kb, 70 * MIB);
    r = run_by_id(&d, 2);
    assert_int_equal(r->end_kb, 200 * MIB);
    assert_int_equal(r->peak_kb, 200 * MIB);
    r = run_by_id(&d, 3);
    assert_int_equal(r->end_kb, 150 * MIB);
    assert_int_equal(r->peak_kb, 150 * MIB);
    /* Run 4: a teardown that spans a tick (a busy machine), as Python's can. */
    r = run_by_id(&d, 4);
    assert_int_equal(r->end_kb, 118 * MIB);
    /* Run 5: a spike released two intervals before the end does not count. */
    r = run_by_id(&d, 5);
    assert_int_equal(r->end_kb, 100 * MIB);
    ms_sweep_free(&d);
}

static void test_spike_seen_only_by_alloc_samples(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    const ms_run_mem_t *r;
    (void)state;

    /* A 100 MiB worker with a spike between two ticks: the release sample, taken just
     * before the memory was given back, sees 356 MiB; the kernel saw 360 MiB. */
    add_stack(db, 1, "/usr/bin/w+0x10 grow\n/lib/libc.so.6+0x2 main");
    add_stack(db, 2, "/usr/bin/w+0x20 spike\n/lib/libc.so.6+0x2 main\n");
    add_run(db, 1, "ok");
    add_proc(db, 1, 1, 100, 0, 3, 360 * MIB);
    add_sample_ex(db, 1, 0.0, 2 * MIB, 2 * MIB, "start", 0);
    add_sample_ex(db, 1, 0.5, 100 * MIB, 100 * MIB, "tick", 0);
    add_sample_ex(db, 1, 0.6, 150 * MIB, 150 * MIB, "alloc", 1);
    add_sample_ex(db, 1, 0.7, 356 * MIB, 356 * MIB, "release", 2);
    add_sample_ex(db, 1, 1.0, 100 * MIB, 356 * MIB, "tick", 0);
    add_sample_ex(db, 1, 3.0, 90 * MIB, 356 * MIB, "end", 0);
    sqlite3_close(db);

    read_db(&d);
    r = run_by_id(&d, 1);
    assert_int_equal(r->n_samples, 6);
    assert_int_equal(r->peaks.periodic_kb, 100 * MIB);
    assert_int_equal(r->peaks.all_kb, 356 * MIB);
    assert_int_equal(r->peaks.hwm_sum_kb, 360 * MIB);
    assert_int_equal(r->peaks.hwm_procs, 1);
    assert_int_equal(r->peaks.hwm_max_kb, 360 * MIB);
    /* The advisory's figures: peak is VmHWM, end the exit RSS (last tick 100 > end 90). */
    assert_int_equal(r->peak_kb, 360 * MIB);
    assert_int_equal(r->end_kb, 100 * MIB);
    assert_int_equal(ms_run_peaks_best_kb(&r->peaks), 360 * MIB);
    /* (356 - 100) / 356 and (360 - 100) / 360 */
    assert_float_equal(ms_peak_miss_pct(r->peaks.all_kb, r->peaks.periodic_kb),
                       256.0 * 100.0 / 356.0, 1e-12);
    assert_float_equal(ms_peak_miss_pct(ms_run_peaks_best_kb(&r->peaks), r->peaks.periodic_kb),
                       260.0 * 100.0 / 360.0, 1e-12);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_START], 1);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_TICK], 2);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_END], 1);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_ALLOC], 1);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_RELEASE], 1);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_OTHER], 0);
    /* The heaviest allocation-driven sample with a stack is the release at 356 MiB. */
    assert_true(r->peaks.have_stack);
    assert_int_equal(r->peaks.stack_id, 2);
    assert_int_equal(r->peaks.stack_kind, MS_SAMPLE_RELEASE);
    assert_int_equal(r->peaks.stack_rss_kb, 356 * MIB);
    assert_int_equal(r->peaks.stack_t_ns, 7 * S_NS / 10);
    ms_sweep_free(&d);
}

static void test_overlapping_processes_views(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    const ms_run_mem_t *r;
    ms_sweep_texts_t texts;
    char *text = NULL;
    char err[256] = "";
    (void)state;

    /* A 10 MiB wrapper alive from 0 to 10 s and a worker alive from 1 to 5 s whose spike
     * (200, then 290 MiB) falls between its ticks. */
    add_stack(db, 3, "/usr/bin/w+0x30 fill");
    add_run(db, 2, "ok");
    exec_sql(db, "UPDATE runs SET label = 'n=7 mode=fast' WHERE run_id = 2");
    add_proc(db, 2, 2, 200, 0, 10, 20 * MIB);
    add_sample_ex(db, 2, 0.0, 10 * MIB, 10 * MIB, "start", 0);
    add_sample_ex(db, 2, 2.0, 10 * MIB, 10 * MIB, "tick", 0);
    add_sample_ex(db, 2, 4.0, 10 * MIB, 10 * MIB, "tick", 0);
    add_sample_ex(db, 2, 10.0, 10 * MIB, 10 * MIB, "end", 0);
    add_proc(db, 3, 2, 201, 1, 5, 300 * MIB);
    add_sample_ex(db, 3, 1.0, 5 * MIB, 5 * MIB, "start", 0);
    add_sample_ex(db, 3, 2.1, 50 * MIB, 50 * MIB, "tick", 0);
    add_sample_ex(db, 3, 2.5, 200 * MIB, 200 * MIB, "alloc", 0);
    add_sample_ex(db, 3, 3.0, 290 * MIB, 290 * MIB, "release", 3);
    add_sample_ex(db, 3, 4.1, 60 * MIB, 290 * MIB, "tick", 0);
    add_sample_ex(db, 3, 5.0, 60 * MIB, 290 * MIB, "end", 0);
    /* Drops: a recorded total, and a NULL total whose causes add up. */
    set_alloc(db, 2, 0, 5, 3, 2);
    set_alloc(db, 3, 1, -1, 4, 1);
    sqlite3_close(db);

    read_db(&d);
    r = run_by_id(&d, 2);
    assert_int_equal(r->n_processes, 2);
    /* Periodic: 10 + 60 at 4.1 s. All samples: 10 + 290 at 3 s. */
    assert_int_equal(r->peaks.periodic_kb, 70 * MIB);
    assert_int_equal(r->peaks.all_kb, 300 * MIB);
    /* Per-process VmHWM: 20 and 300 MiB; summed, an upper bound over two processes. */
    assert_int_equal(r->peaks.hwm_sum_kb, 320 * MIB);
    assert_int_equal(r->peaks.hwm_procs, 2);
    assert_int_equal(r->peaks.hwm_max_kb, 300 * MIB);
    assert_int_equal(r->peak_kb, 300 * MIB);
    assert_int_equal(r->end_kb, 70 * MIB); /* at the worker's exit: 10 + 60 */
    assert_float_equal(ms_peak_miss_pct(ms_run_peaks_best_kb(&r->peaks), r->peaks.periodic_kb),
                       230.0 * 100.0 / 300.0, 1e-12);
    assert_float_equal(ms_peak_miss_pct(r->peaks.hwm_sum_kb, r->peaks.periodic_kb),
                       250.0 * 100.0 / 320.0, 1e-12);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_START], 2);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_TICK], 4);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_END], 2);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_ALLOC], 1);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_RELEASE], 1);
    assert_int_equal(r->peaks.dropped, 10);
    assert_int_equal(r->peaks.dropped_rate, 7);
    assert_int_equal(r->peaks.dropped_queue, 3);
    assert_int_equal(r->peaks.tracking, MS_TRACKING_ON);
    assert_true(r->peaks.have_stack);
    assert_int_equal(r->peaks.stack_id, 3);

    /* The texts the reduction leaves out. */
    {
        sqlite3 *rdb = NULL;
        assert_int_equal(ms_sweep_open(dbpath, &rdb, err, sizeof err), 0);
        assert_int_equal(ms_sweep_texts_open(rdb, NULL, &texts, err, sizeof err), 0);
        assert_int_equal(ms_sweep_run_label(&texts, 2, &text), 0);
        assert_string_equal(text, "n=7 mode=fast");
        free(text);
        assert_int_equal(ms_sweep_stack_frames(&texts, 3, &text), 0);
        assert_string_equal(text, "/usr/bin/w+0x30 fill");
        free(text);
        assert_int_equal(ms_sweep_stack_frames(&texts, 99, &text), 0);
        assert_null(text);
        ms_sweep_texts_close(&texts);
        sqlite3_close(rdb);
    }
    ms_sweep_free(&d);
}

/* The figures of one run that a time-ordered merge computes, as two reads must agree. */
static void assert_same_run(const ms_run_mem_t *a, const ms_run_mem_t *b)
{
    assert_int_equal(a->run_id, b->run_id);
    assert_int_equal(a->n_processes, b->n_processes);
    assert_int_equal(a->n_samples, b->n_samples);
    assert_int_equal(a->ended_abnormally, b->ended_abnormally);
    assert_int_equal(a->end_kb, b->end_kb);
    assert_int_equal(a->peak_kb, b->peak_kb);
    assert_int_equal(a->peaks.periodic_kb, b->peaks.periodic_kb);
    assert_int_equal(a->peaks.all_kb, b->peaks.all_kb);
    assert_int_equal(a->peaks.hwm_sum_kb, b->peaks.hwm_sum_kb);
    assert_int_equal(a->peaks.overlap, b->peaks.overlap);
    for (int k = 0; k < MS_SAMPLE_KINDS; k++)
        assert_int_equal(a->peaks.kinds[k], b->peaks.kinds[k]);
}

static void test_held_runs_match_reread(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t held, reread;
    const ms_run_mem_t *r;
    char sql[256];
    (void)state;

    /* Columns without affinity, as a hand-made database may have: a REAL stays REAL. */
    exec_sql(db, "DROP TABLE samples;"
                 "CREATE TABLE samples(proc_id, t_ns, rss_kb, hwm_kb, kind, heap_kb, stack_id);"
                 "CREATE INDEX samples_by_proc ON samples(proc_id, t_ns);");
    exec_sql(db, "BEGIN");
    /* Runs 1 and 2: a wrapper and a worker that overlap, their samples interleaved as
     * a live sweep writes them; run 2's rows come between run 1's. */
    for (int run = 1; run <= 2; run++) {
        add_run(db, run, "ok");
        add_proc(db, 10 * run, run, 100 * run, 0, 10, 0);
        add_proc(db, 10 * run + 1, run, 100 * run + 1, 1, 9, 0);
    }
    for (int i = 0; i <= 10; i++) {
        for (int run = 1; run <= 2; run++) {
            const char *kind = i == 0 ? "start" : i == 10 ? "end" : "tick";
            add_sample(db, 10 * run, i, (run * 10 + i) * MIB, kind);
            if (i >= 1 && i <= 9)
                add_sample(db, 10 * run + 1, i + 0.5, (run * 100 + 7 * i) * MIB,
                           i == 1 ? "start" : i == 9 ? "end" : "tick");
        }
    }
    /* Run 3: overlapping, one process's samples out of time order (read again). */
    add_run(db, 3, "ok");
    add_proc(db, 30, 3, 300, 0, 10, 0);
    add_proc(db, 31, 3, 301, 1, 9, 0);
    add_sample(db, 30, 0, 5 * MIB, "start");
    add_sample(db, 30, 10, 5 * MIB, "end");
    add_sample(db, 30, 5, 6 * MIB, "tick");
    add_sample(db, 31, 1, 50 * MIB, "start");
    add_sample(db, 31, 4, 80 * MIB, "tick");
    add_sample(db, 31, 9, 20 * MIB, "end");
    /* Run 4: overlapping, with more samples than are ever held at once (read again). */
    add_run(db, 4, "ok");
    add_proc(db, 40, 4, 400, 0, 100, 0);
    add_proc(db, 41, 4, 401, 1, 99, 0);
    add_sample(db, 40, 0, 3 * MIB, "start");
    for (int i = 0; i < 70000; i++)
        add_sample(db, 41, 1 + i / 1000.0, (10 + i % 97) * MIB, i == 0 ? "start" : "tick");
    add_sample(db, 41, 99, 9 * MIB, "end");
    add_sample(db, 40, 100, 3 * MIB, "end");
    /* Run 5: overlapping, and a sample whose proc_id SQL counts but the reader refuses
     * (a REAL beyond the range it accepts): the count is never reached (read again). */
    add_run(db, 5, "ok");
    exec_sql(db, "INSERT INTO processes(proc_id, run_id, pid, ppid, started_ns, ended_ns)"
                 " VALUES (9100000000000000000, 5, 500, 1, 0, 10000000000),"
                 " (51, 5, 501, 1, 1000000000, 9000000000)");
    for (int i = 0; i <= 10; i++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind) VALUES"
                 " (9100000000000000000, %lld, %lld, NULL, '%s')",
                 i * S_NS, (40 + i) * MIB, i == 0 ? "start" : i == 10 ? "end" : "tick");
        exec_sql(db, sql);
        if (i >= 1 && i <= 9)
            add_sample(db, 51, i + 0.25, 30 * MIB, i == 1 ? "start" : i == 9 ? "end" : "tick");
    }
    exec_sql(db, "INSERT INTO samples(proc_id, t_ns, rss_kb, kind)"
                 " VALUES (9.1e18, 5000000000, 1, 'tick')");
    /* Runs 6 and 7: overlapping, each small enough to be held, their rows interleaved so
     * that together they are not: run 6 is read again, run 7 still held. */
    for (int run = 6; run <= 7; run++) {
        add_run(db, run, "ok");
        add_proc(db, 10 * run, run, 100 * run, 0, 100, 0);
        add_proc(db, 10 * run + 1, run, 100 * run + 1, 1, 99, 0);
        add_sample(db, 10 * run, 0, 2 * MIB, "start");
    }
    for (int i = 0; i < 40000; i++)
        for (int run = 6; run <= 7; run++)
            add_sample(db, 10 * run + 1, 1 + i / 1000.0, (run + i % 89) * MIB,
                       i == 0 ? "start" : "tick");
    for (int run = 6; run <= 7; run++) {
        add_sample(db, 10 * run + 1, 99, 9 * MIB, "end");
        add_sample(db, 10 * run, 100, 2 * MIB, "end");
    }
    exec_sql(db, "COMMIT");
    sqlite3_close(db);

    read_db(&held);
    /* Without the index the samples are not counted: every run is read again. */
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    exec_sql(db, "DROP INDEX samples_by_proc");
    sqlite3_close(db);
    read_db(&reread);

    assert_int_equal(held.n_runs, 7);
    assert_int_equal(reread.n_runs, 7);
    for (size_t i = 0; i < held.n_runs; i++)
        assert_same_run(&held.runs[i], &reread.runs[i]);
    /* Run 1 at 9.5 s: the wrapper's 19 MiB and the worker's 163 MiB. */
    r = run_by_id(&held, 1);
    assert_true(r->peaks.overlap);
    assert_int_equal(r->peaks.all_kb, 182 * MIB);
    assert_int_equal(r->end_kb, 182 * MIB);
    r = run_by_id(&held, 2);
    assert_int_equal(r->peaks.all_kb, 29 * MIB + 263 * MIB);
    r = run_by_id(&held, 3);
    assert_int_equal(r->peaks.all_kb, 86 * MIB); /* at 5 s: 6 + 80 */
    r = run_by_id(&held, 4);
    assert_int_equal(r->n_samples, 70003);
    assert_int_equal(r->peaks.all_kb, 109 * MIB);
    r = run_by_id(&held, 5);
    assert_int_equal(r->n_samples, 20);
    assert_int_equal(r->peaks.all_kb, 79 * MIB);
    assert_int_equal(held.report.bad[MS_BAD_SAMPLE_PROC], 1);
    r = run_by_id(&held, 7);
    assert_int_equal(r->n_samples, 40003);
    assert_int_equal(r->peaks.all_kb, (2 + 7 + 88) * MIB);
    ms_sweep_free(&held);
    ms_sweep_free(&reread);
}

static void test_stack_selection_kinds_tracking(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    const ms_run_mem_t *r;
    (void)state;

    add_stack(db, 1, "a");
    add_stack(db, 2, "b");
    add_stack(db, 3, "c");
    /* Run 3: an exec chain (same pid). The heaviest allocation-driven sample (300 MiB)
     * has no stack, a tick is heavier still but periodic, and a later sample of the next
     * image ties at 250 MiB: the earlier one of the tie wins. A kind this version does
     * not know counts as "other" and in the all-samples view only. */
    add_run(db, 3, "ok");
    add_proc(db, 4, 3, 300, 0, -1, 0);
    add_sample_ex(db, 4, 0.0, 1 * MIB, 0, "start", 0);
    add_sample_ex(db, 4, 0.2, 200 * MIB, 0, "alloc", 1);
    add_sample_ex(db, 4, 0.3, 300 * MIB, 0, "alloc", 0);
    add_sample_ex(db, 4, 0.4, 250 * MIB, 0, "release", 3);
    add_sample_ex(db, 4, 0.5, 400 * MIB, 0, "tick", 0);
    add_sample_ex(db, 4, 0.6, 500 * MIB, 0, "mystery", 1);
    add_proc(db, 5, 3, 300, 1, 2, 0);
    add_sample_ex(db, 5, 1.0, 1 * MIB, 0, "start", 0);
    add_sample_ex(db, 5, 1.5, 250 * MIB, 0, "alloc", 2);
    add_sample_ex(db, 5, 2.0, 3 * MIB, 0, "end", 0);
    set_alloc(db, 4, 0, 0, 0, 0);
    set_alloc(db, 5, 0, 1, -1, -1);

    /* Run 4: tracking recorded as NULL; no allocation data at all. */
    add_run(db, 4, "ok");
    add_proc(db, 6, 4, 400, 0, 1, 8 * MIB);
    add_sample_ex(db, 6, 0.0, 8 * MIB, 8 * MIB, "start", 0);
    add_sample_ex(db, 6, 1.0, 8 * MIB, 8 * MIB, "end", 0);
    sqlite3_close(db);

    read_db(&d);
    r = run_by_id(&d, 3);
    assert_true(r->peaks.have_stack);
    assert_int_equal(r->peaks.stack_id, 3);
    assert_int_equal(r->peaks.stack_kind, MS_SAMPLE_RELEASE);
    assert_int_equal(r->peaks.stack_rss_kb, 250 * MIB);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_ALLOC], 3);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_RELEASE], 1);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_OTHER], 1);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_START], 2);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_TICK], 1);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_END], 1);
    assert_int_equal(r->n_samples, 9);
    assert_int_equal(r->peaks.periodic_kb, 400 * MIB);
    assert_int_equal(r->peaks.all_kb, 500 * MIB);
    /* No VmHWM recorded anywhere: the view is empty and does not count processes. */
    assert_int_equal(r->peaks.hwm_sum_kb, 0);
    assert_int_equal(r->peaks.hwm_procs, 0);
    assert_int_equal(r->peaks.tracking, MS_TRACKING_OFF);
    assert_int_equal(r->peaks.dropped, 1);
    assert_int_equal(r->peaks.dropped_rate, 0);

    r = run_by_id(&d, 4);
    assert_int_equal(r->peaks.tracking, MS_TRACKING_UNKNOWN);
    assert_false(r->peaks.have_stack);
    assert_int_equal(r->peaks.dropped, 0);
    assert_int_equal(r->peaks.periodic_kb, 8 * MIB);
    assert_int_equal(r->peaks.all_kb, 8 * MIB);
    ms_sweep_free(&d);
}

/* The tables of schema version 1: no allocation columns, no stacks table. */
static const char schema_v1_sql[] =
    "CREATE TABLE sweeps(sweep_id INTEGER PRIMARY KEY, started_ns INTEGER NOT NULL,"
    " finished_ns INTEGER, hostname TEXT, mem_total_kb INTEGER, reserve_mb INTEGER NOT NULL,"
    " safety_factor REAL NOT NULL, interval_ms INTEGER NOT NULL, jobs INTEGER, argv TEXT,"
    " planned_runs INTEGER, origin TEXT NOT NULL DEFAULT 'launcher');"
    "CREATE TABLE runs(run_id INTEGER PRIMARY KEY, sweep_id INTEGER NOT NULL, seq INTEGER"
    " NOT NULL, label TEXT, command TEXT, started_ns INTEGER, finished_ns INTEGER,"
    " exit_code INTEGER, term_signal INTEGER, status TEXT NOT NULL DEFAULT 'running');"
    "CREATE TABLE processes(proc_id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL,"
    " pid INTEGER NOT NULL, ppid INTEGER, exe TEXT, cmdline TEXT, started_ns INTEGER NOT"
    " NULL, ended_ns INTEGER, hwm_kb INTEGER, end_rss_kb INTEGER);"
    "CREATE TABLE samples(proc_id INTEGER NOT NULL, t_ns INTEGER NOT NULL,"
    " rss_kb INTEGER NOT NULL, hwm_kb INTEGER, kind TEXT NOT NULL);"
    "CREATE INDEX samples_by_proc ON samples(proc_id, t_ns);";

static void test_schema_v1_database(void **state)
{
    sqlite3 *db = NULL;
    ms_sweep_data_t d;
    const ms_run_mem_t *r;
    char sql[128];
    (void)state;

    unlink(dbpath);
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    exec_sql(db, schema_v1_sql);
    snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=1;",
             MS_APPLICATION_ID);
    exec_sql(db, sql);
    exec_sql(db, "INSERT INTO sweeps(sweep_id, started_ns, mem_total_kb, reserve_mb,"
                 " safety_factor, interval_ms) VALUES (1, 0, 8388608, 1024, 0.85, 500)");
    add_run(db, 1, "ok");
    add_proc(db, 1, 1, 100, 0, 2, 120 * MIB);
    add_sample(db, 1, 0.0, 2 * MIB, "start");
    add_sample(db, 1, 1.0, 96 * MIB, "tick");
    add_sample(db, 1, 2.0, 90 * MIB, "end");
    /* Two overlapping processes take the merge path, which reads kinds too. */
    add_run(db, 2, "ok");
    add_proc(db, 2, 2, 200, 0, 4, 5 * MIB);
    add_sample(db, 2, 0.0, 5 * MIB, "start");
    add_sample(db, 2, 4.0, 5 * MIB, "end");
    add_proc(db, 3, 2, 201, 1, 3, 50 * MIB);
    add_sample(db, 3, 1.0, 40 * MIB, "start");
    add_sample(db, 3, 3.0, 40 * MIB, "end");
    sqlite3_close(db);

    read_db(&d);
    /* Before version 4: MemTotal was /proc/meminfo's, the machine's; no CPUs recorded. */
    assert_string_equal(d.info.mem_source, "/proc/meminfo");
    assert_true(d.info.have_host_mem_total);
    assert_int_equal(d.info.host_mem_total_kb, 8388608);
    assert_int_equal(d.info.cpus, 0);
    {
        ms_advise_opts_t o;
        ms_advisory_t a;
        ms_advise_opts_init(&o);
        assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
        assert_int_equal(a.machine.reserve_mb, 1024);
        assert_int_equal(a.machine.reserve_rule, MS_RESERVE_RULE_MACHINE);
        assert_int_equal(a.machine.host_mem_total_mb, 8192);
        assert_int_equal(a.machine.cpus, 0);
    }
    r = run_by_id(&d, 1);
    assert_int_equal(r->peak_kb, 120 * MIB);
    assert_int_equal(r->end_kb, 96 * MIB);
    assert_int_equal(r->peaks.periodic_kb, 96 * MIB);
    assert_int_equal(r->peaks.all_kb, 96 * MIB);
    assert_int_equal(r->peaks.hwm_sum_kb, 120 * MIB);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_TICK], 1);
    assert_int_equal(r->peaks.tracking, MS_TRACKING_UNKNOWN);
    assert_false(r->peaks.have_stack);
    assert_int_equal(r->peaks.dropped, 0);
    r = run_by_id(&d, 2);
    assert_int_equal(r->peaks.periodic_kb, 45 * MIB);
    assert_int_equal(r->peaks.all_kb, 45 * MIB);
    assert_int_equal(r->peaks.hwm_sum_kb, 55 * MIB);
    assert_int_equal(r->peaks.hwm_procs, 2);
    assert_int_equal(r->peak_kb, 50 * MIB);
    ms_sweep_free(&d);

    /* Without a stacks table, frames are simply not found. */
    {
        sqlite3 *rdb = NULL;
        ms_sweep_texts_t texts;
        char *text = (char *)"sentinel";
        char err[256] = "";
        assert_int_equal(ms_sweep_open(dbpath, &rdb, err, sizeof err), 0);
        assert_int_equal(ms_sweep_texts_open(rdb, NULL, &texts, err, sizeof err), 0);
        assert_int_equal(ms_sweep_stack_frames(&texts, 1, &text), 0);
        assert_null(text);
        ms_sweep_texts_close(&texts);
        sqlite3_close(rdb);
    }
}

/* A sweep under a 600 MiB cgroup limit on a 24105 MiB machine with 1 CPU, one 100 MiB run. */
static void create_limited_db(const char *sweep_values)
{
    sqlite3 *db = create_db(dbpath);
    char sql[512];

    snprintf(sql, sizeof sql, "UPDATE sweeps SET %s", sweep_values);
    exec_sql(db, sql);
    add_run(db, 1, "ok");
    add_proc(db, 1, 1, 100, 0, 1, 100 * MIB);
    add_sample(db, 1, 0.5, 100 * MIB, "tick");
    sqlite3_close(db);
}

static void test_machine_recorded(void **state)
{
    ms_sweep_data_t d;
    ms_advise_opts_t o;
    ms_advisory_t a;
    (void)state;

    create_limited_db("mem_total_kb = 614400, reserve_mb = 64,"
                      " mem_source = 'cgroup memory.max /sys/fs/cgroup/job',"
                      " host_mem_total_kb = 24683748, cpus = 1");
    read_db(&d);
    ms_advise_opts_init(&o);
    assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
    assert_int_equal(a.machine.mem_total_mb, 600);
    assert_int_equal(a.machine.reserve_mb, 64);
    assert_int_equal(a.machine.usable_mb, 536);
    assert_int_equal(a.machine.reserve_rule, MS_RESERVE_RULE_LIMIT);
    assert_string_equal(a.machine.mem_source, "cgroup memory.max /sys/fs/cgroup/job");
    assert_true(a.machine.have_host_mem_total);
    assert_int_equal(a.machine.host_mem_total_mb, 24105);
    assert_int_equal(a.machine.cpus, 1);
    assert_int_equal(a.conservative, 4); /* 536 / 100 * 0.85 = 4.56 */

    /* --reserve-mb is named as the rule. */
    o.reserve_mb = 100;
    assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
    assert_int_equal(a.machine.usable_mb, 500);
    assert_int_equal(a.machine.reserve_rule, MS_RESERVE_RULE_OPTION);

    /* --mem-total-mb: a whole machine of that size, the fixed reserve, the option named
     * as the source, and no MemTotal of the recorded machine, which is not that one. */
    ms_advise_opts_init(&o);
    o.mem_total_mb = 4096;
    assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
    assert_int_equal(a.machine.mem_total_mb, 4096);
    assert_int_equal(a.machine.reserve_mb, 1024);
    assert_int_equal(a.machine.reserve_rule, MS_RESERVE_RULE_MACHINE);
    assert_string_equal(a.machine.mem_source, "--mem-total-mb");
    assert_false(a.machine.have_host_mem_total);
    assert_int_equal(a.machine.cpus, 1);
    o.reserve_mb = 0;
    assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
    assert_int_equal(a.machine.usable_mb, 4096);
    assert_int_equal(a.machine.reserve_rule, MS_RESERVE_RULE_OPTION);
    ms_sweep_free(&d);

    /* A recorded reserve no rule gives is kept, and said to be the recorded one. */
    create_limited_db("mem_total_kb = 614400, reserve_mb = 200,"
                      " mem_source = 'SLURM_MEM_PER_NODE=600', host_mem_total_kb = NULL,"
                      " cpus = 2");
    read_db(&d);
    ms_advise_opts_init(&o);
    assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
    assert_int_equal(a.machine.reserve_mb, 200);
    assert_int_equal(a.machine.reserve_rule, MS_RESERVE_RULE_RECORDED);
    assert_false(a.machine.have_host_mem_total); /* NULL with a source: not known */
    assert_int_equal(a.machine.cpus, 2);
    ms_sweep_free(&d);
}

static void test_machine_values_that_are_not(void **state)
{
    ms_sweep_data_t d;
    ms_advise_opts_t o;
    ms_advisory_t a;
    (void)state;

    /* Each value unusable: ignored, counted, and the reserve follows the source's rule. */
    create_limited_db("mem_total_kb = 614400, reserve_mb = 'lots',"
                      " mem_source = 'cgroup memory.max /sys/fs/cgroup/job',"
                      " host_mem_total_kb = 'big', cpus = 0");
    read_db(&d);
    assert_int_equal(d.report.bad[MS_BAD_SWEEP_RESERVE], 1);
    assert_int_equal(d.report.bad[MS_BAD_SWEEP_HOST_MEM], 1);
    assert_int_equal(d.report.bad[MS_BAD_SWEEP_CPUS_RANGE], 1);
    ms_advise_opts_init(&o);
    assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
    assert_int_equal(a.machine.reserve_mb, 64);
    assert_int_equal(a.machine.reserve_rule, MS_RESERVE_RULE_LIMIT);
    assert_false(a.machine.have_host_mem_total);
    assert_int_equal(a.machine.cpus, 0);
    ms_sweep_free(&d);

    /* A blob: text affinity would turn a number into text. */
    create_limited_db("reserve_mb = -5, mem_source = X'2A', host_mem_total_kb = 0,"
                      " cpus = 'two'");
    read_db(&d);
    assert_int_equal(d.report.bad[MS_BAD_SWEEP_RESERVE_RANGE], 1);
    assert_int_equal(d.report.bad[MS_BAD_SWEEP_MEM_SOURCE], 1);
    assert_int_equal(d.report.bad[MS_BAD_SWEEP_HOST_MEM_RANGE], 1);
    assert_int_equal(d.report.bad[MS_BAD_SWEEP_CPUS], 1);
    assert_string_equal(d.info.mem_source, ""); /* unknown, not /proc/meminfo */
    ms_advise_opts_init(&o);
    assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
    assert_int_equal(a.machine.reserve_mb, 1024);
    assert_int_equal(a.machine.reserve_rule, MS_RESERVE_RULE_MACHINE);
    ms_sweep_free(&d);
}

static void test_advise_peak_summary(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    ms_advise_opts_t o;
    ms_advisory_t a;
    (void)state;

    /* Shortfalls against the true peak (the kernel's VmHWM here): exactly 5 %, exactly
     * 20 %, 37.5 %, none; and one run without samples, which is not compared. */
    add_run(db, 1, "ok");
    add_proc(db, 1, 1, 100, 0, 1, 100 * MIB);
    add_sample(db, 1, 0.5, 95 * MIB, "tick");
    add_run(db, 2, "ok");
    add_proc(db, 2, 2, 200, 0, 1, 100 * MIB);
    add_sample(db, 2, 0.5, 80 * MIB, "tick");
    add_run(db, 3, "failed");
    add_proc(db, 3, 3, 300, 0, 1, 160 * MIB);
    add_sample(db, 3, 0.5, 100 * MIB, "tick");
    add_run(db, 4, "ok");
    add_proc(db, 4, 4, 400, 0, 1, 0);
    add_sample(db, 4, 0.5, 70 * MIB, "tick");
    add_run(db, 5, "ok");
    add_proc(db, 5, 5, 500, 0, -1, 0);
    sqlite3_close(db);

    read_db(&d);
    ms_advise_opts_init(&o);
    assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
    assert_true(a.have_peak_summary);
    assert_int_equal(a.peaks.runs, 4);
    assert_int_equal(a.peaks.over_small, 2);  /* 20 % and 37.5 %; exactly 5 % is not more */
    assert_int_equal(a.peaks.over_large, 1);  /* 37.5 %; exactly 20 % is not more */
    assert_float_equal(a.peaks.largest_pct, 37.5, 1e-12);
    assert_true(a.peaks.have_largest_run);
    assert_int_equal(a.peaks.largest_seq, 3);
    /* The advisory's own figures still use the true peak. */
    assert_float_equal(a.peak_mb.max, 160.0, 1e-9);
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

/* ---- damaged and unusual databases ---- */

/* The samples table without types or constraints: NULL, text and blobs stay as given. */
static const char loose_samples_sql[] =
    "CREATE TABLE s2 AS SELECT * FROM samples; DROP TABLE samples;"
    "CREATE TABLE samples(proc_id, t_ns, rss_kb, hwm_kb, kind, heap_kb, stack_id,"
    " rss_anon_kb, rss_file_kb, rss_shmem_kb, pss_kb, pss_anon_kb, pss_shmem_kb);"
    "INSERT INTO samples SELECT * FROM s2; DROP TABLE s2;"
    "CREATE INDEX samples_by_proc ON samples(proc_id, t_ns);";

static const char loose_runs_sql[] =
    "CREATE TABLE r2 AS SELECT * FROM runs; DROP TABLE runs;"
    "CREATE TABLE runs(run_id, sweep_id, seq, label, command, started_ns, finished_ns,"
    " exit_code, term_signal, status, uninstrumented, maxrss_kb, maxrss_floor_kb,"
    " utime_us, stime_us, uid, host, node_mem_kb, node_mem_source, node_reserve_mb,"
    " node_cpus, batch_job, batch_state, recorder, attempt, superseded);"
    "INSERT INTO runs SELECT * FROM r2; DROP TABLE r2;";

static const char loose_processes_sql[] =
    "CREATE TABLE p2 AS SELECT * FROM processes; DROP TABLE processes;"
    "CREATE TABLE processes(proc_id, run_id, pid, ppid, exe, cmdline, started_ns, ended_ns,"
    " hwm_kb, end_rss_kb, alloc_tracking, alloc_dropped, alloc_dropped_rate,"
    " alloc_dropped_queue, unstored, note, spool_key);"
    "INSERT INTO processes SELECT * FROM p2; DROP TABLE p2;";

/* Checks every reason's count: want lists the non-zero ones, ended by MS_BAD_COUNT. */
static void expect_bad(const ms_db_report_t *r, const int *want)
{
    size_t expected[MS_BAD_COUNT] = {0};
    for (size_t i = 0; want[i] != MS_BAD_COUNT; i += 2)
        expected[want[i]] = (size_t)want[i + 1];
    for (int i = 0; i < MS_BAD_COUNT; i++)
        if (r->bad[i] != expected[i])
            fail_msg("'%s': expected %zu, got %zu", ms_bad_text((ms_bad_t)i), expected[i],
                     r->bad[i]);
}

static void test_bad_samples_are_skipped(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    const ms_run_mem_t *r;
    char sql[2048];
    const int want[] = {MS_BAD_SAMPLE_PROC, 2, MS_BAD_SAMPLE_NO_PROC, 1,
                        MS_BAD_SAMPLE_T_NULL, 1, MS_BAD_SAMPLE_T, 1,
                        MS_BAD_SAMPLE_T_EARLY, 1, MS_BAD_SAMPLE_T_LATE, 1,
                        MS_BAD_SAMPLE_RSS_NULL, 1, MS_BAD_SAMPLE_RSS, 3,
                        MS_BAD_SAMPLE_RSS_NEGATIVE, 1, MS_BAD_SAMPLE_RSS_HUGE, 1,
                        MS_BAD_SAMPLE_HWM, 1, MS_BAD_SAMPLE_HWM_RANGE, 1,
                        MS_BAD_SAMPLE_STACK, 1, MS_BAD_COUNT};
    (void)state;

    add_run(db, 1, "ok");
    add_proc(db, 1, 1, 100, 0, 3, 0);
    add_sample(db, 1, 0.0, 10 * MIB, "start");
    add_sample(db, 1, 1.0, 50 * MIB, "tick");
    add_sample(db, 1, 3.0, 20 * MIB, "end");
    add_stack(db, 1, "/bin/w+0x1 f");
    exec_sql(db, loose_samples_sql);
    snprintf(sql, sizeof sql,
             "INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind, stack_id) VALUES"
             " (1, 1500000000, NULL, NULL, 'tick', NULL), (1, 1600000000, 'big', NULL, 'tick', NULL),"
             " (1, 1700000000, x'01', NULL, 'tick', NULL), (1, 1800000000, 61440.5, NULL, 'tick', NULL),"
             " (1, 1900000000, -1, NULL, 'tick', NULL), (1, 2000000000, %lld, NULL, 'release', NULL),"
             " (1, NULL, 5, NULL, 'tick', NULL), (1, 'now', 5, NULL, 'tick', NULL),"
             " (1, -1, 5, NULL, 'tick', NULL), (1, %lld, 5, NULL, 'tick', NULL),"
             " ('1', 2200000000, 5, NULL, 'tick', NULL), (NULL, 2200000000, 5, NULL, 'tick', NULL),"
             " (42, 2300000000, 5, NULL, 'tick', NULL),"
             /* Kept, with their bad VmHWM or stack ignored: */
             " (1, 2400000000, %lld, '99999999', 'tick', NULL),"
             " (1, 2500000000, %lld, %lld, 'tick', NULL),"
             " (1, 2600000000, %lld, %lld, 'alloc', 'abc')",
             MS_KB_LIMIT + 1, MS_NS_LIMIT, 30 * MIB, 25 * MIB, MS_KB_LIMIT + 1, 40 * MIB,
             40 * MIB);
    exec_sql(db, sql);
    sqlite3_close(db);

    read_db(&d);
    expect_bad(&d.report, want);
    assert_int_equal(ms_db_report_count(&d.report, MS_BAD_SAMPLES), 13);
    assert_int_equal(ms_db_report_count(&d.report, MS_BAD_VALUES), 3);
    r = run_by_id(&d, 1);
    assert_int_equal(r->n_samples, 6);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_TICK], 3);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_ALLOC], 1);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_RELEASE], 0);
    assert_int_equal(r->peak_kb, 50 * MIB);
    /* The last tick (25 MiB at 2.5 s) outweighs the end sample. */
    assert_int_equal(r->end_kb, 25 * MIB);
    /* VmHWM from the usable values only (the tick's 50 MiB): text that spells a number and
     * a value over the limit are ignored. The alloc sample's stack_id names no stack. */
    assert_int_equal(r->peaks.hwm_sum_kb, 50 * MIB);
    assert_false(r->peaks.have_stack);
    ms_sweep_free(&d);
}

static void test_bad_values_read_as_absent(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    const ms_run_mem_t *r;
    const int want[] = {MS_BAD_SWEEP_MEM_TOTAL, 1, MS_BAD_SWEEP_INTERVAL_RANGE, 1,
                        MS_BAD_PROC_END, 1, MS_BAD_PROC_END_BEFORE_START, 1,
                        MS_BAD_PROC_HWM_RANGE, 1, MS_BAD_PROC_TRACKING, 1,
                        MS_BAD_PROC_DROPPED, 2, MS_BAD_PROC_UNSTORED, 1, MS_BAD_COUNT};
    (void)state;

    exec_sql(db, "UPDATE sweeps SET mem_total_kb = 'lots', interval_ms = 0");
    add_run(db, 1, "ok");
    add_proc(db, 1, 1, 100, 1, 9, 0);
    exec_sql(db, "UPDATE processes SET ended_ns = 'later', hwm_kb = -5, alloc_tracking = 'yes',"
                 " alloc_dropped = -1, alloc_dropped_rate = 3, alloc_dropped_queue = 'q',"
                 " unstored = -2 WHERE proc_id = 1");
    add_sample(db, 1, 1.0, 10 * MIB, "start");
    add_sample(db, 1, 2.0, 30 * MIB, "tick");
    /* Ended before it started: the exit time is ignored, the end sample stands. */
    add_proc(db, 2, 1, 101, 5, 4, 5 * MIB);
    add_sample(db, 2, 5.0, 5 * MIB, "start");
    add_sample(db, 2, 6.0, 5 * MIB, "end");
    sqlite3_close(db);

    read_db(&d);
    expect_bad(&d.report, want);
    assert_false(d.info.have_mem_total);
    assert_int_equal(d.info.interval_ms, 500);
    r = run_by_id(&d, 1);
    assert_int_equal(r->peaks.hwm_sum_kb, 35 * MIB); /* 30 from a sample, 5 from the row */
    assert_int_equal(r->peaks.hwm_procs, 2);
    assert_int_equal(r->peaks.tracking, MS_TRACKING_UNKNOWN);
    /* The total is ignored, so the causes add up to it; the bad queue count reads 0. */
    assert_int_equal(r->peaks.dropped, 3);
    assert_int_equal(r->peaks.dropped_rate, 3);
    assert_int_equal(r->peaks.dropped_queue, 0);
    assert_int_equal(r->unstored, 0);
    /* Without a usable exit time or an end sample the first process ended abnormally. */
    assert_int_equal(r->ended_abnormally, 1);
    assert_int_equal(r->peak_kb, 30 * MIB);
    assert_int_equal(r->end_kb, 30 * MIB);
    ms_sweep_free(&d);
}

static void test_extreme_values_are_exact(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    const ms_run_mem_t *r;
    ms_advise_opts_t o;
    ms_advisory_t a;
    char sql[1024];
    const long long t0 = MS_NS_LIMIT - 10 * S_NS;
    (void)state;

    /* The largest accepted figures everywhere: sums and differences must stay exact. */
    snprintf(sql, sizeof sql, "UPDATE sweeps SET mem_total_kb = %lld, interval_ms = %d",
             MS_KB_LIMIT, MS_MAX_INTERVAL_MS);
    exec_sql(db, sql);
    add_run(db, 1, "killed");
    for (int i = 1; i <= 3; i++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO processes(proc_id, run_id, pid, started_ns, ended_ns, hwm_kb,"
                 " alloc_dropped, alloc_dropped_rate, alloc_dropped_queue, unstored) VALUES"
                 " (%d, 1, %d, %lld, %lld, %lld, %lld, %lld, 0, %lld);"
                 "INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind) VALUES"
                 " (%d, %lld, 1024, 1024, 'start'), (%d, %lld, %lld, %lld, 'tick'),"
                 " (%d, %lld, %lld, %lld, 'end')",
                 i, i, t0 + i * S_NS / 10, t0 + 9 * S_NS, MS_KB_LIMIT, MS_COUNT_LIMIT,
                 MS_COUNT_LIMIT, MS_COUNT_LIMIT, i, t0 + i * S_NS / 10, i, t0 + 5 * S_NS,
                 MS_KB_LIMIT, MS_KB_LIMIT, i, t0 + 9 * S_NS, MS_KB_LIMIT / 2, MS_KB_LIMIT);
        exec_sql(db, sql);
    }
    /* Killed at the last nanosecond accepted. */
    snprintf(sql, sizeof sql,
             "INSERT INTO processes(proc_id, run_id, pid, started_ns) VALUES (4, 1, 4, %lld);"
             "INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind) VALUES"
             " (4, %lld, 0, 0, 'start'), (4, %lld, %lld, %lld, 'tick')",
             t0 + S_NS, t0 + S_NS, MS_NS_LIMIT - 1, MS_KB_LIMIT, MS_KB_LIMIT);
    exec_sql(db, sql);
    sqlite3_close(db);

    read_db(&d);
    assert_int_equal(ms_db_report_count(&d.report, MS_BAD_SAMPLES), 0);
    assert_int_equal(ms_db_report_count(&d.report, MS_BAD_VALUES), 0);
    r = run_by_id(&d, 1);
    assert_int_equal(r->n_samples, 11);
    assert_int_equal(r->peaks.all_kb, 3ULL << 42);
    assert_int_equal(r->peak_kb, 3ULL << 42);
    assert_int_equal(r->peaks.hwm_sum_kb, 4ULL << 42);
    assert_int_equal(r->peaks.hwm_procs, 4);
    /* At the first exit: its exit RSS (the last tick, 4 PiB) and two others' end samples. */
    assert_int_equal(r->end_kb, 1ULL << 43);
    assert_int_equal(r->peaks.dropped, 3ULL << 48);
    assert_int_equal(r->peaks.dropped_rate, 3ULL << 48);
    assert_int_equal(r->unstored, 3ULL << 48);
    assert_int_equal(d.report.unstored, 3ULL << 48);
    assert_int_equal(r->ended_abnormally, 1);
    ms_advise_opts_init(&o);
    assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
    assert_int_equal(a.machine.mem_total_mb, 1LL << 32);
    assert_float_equal(a.peak_mb.max, 12884901888.0, 0.0);
    assert_float_equal(a.end_mb.max, 8589934592.0, 0.0);
    assert_int_equal(a.aggressive, 0);
    assert_true(a.warn_no_fit);
    ms_sweep_free(&d);
}

static void test_out_of_order_and_duplicates(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    const ms_run_mem_t *r;
    (void)state;

    /* Run 1: one process, its samples stored backwards, four exact copies; a reading at
     * the same time with another RSS, and one of another kind, are not copies. */
    add_run(db, 1, "ok");
    add_proc(db, 1, 1, 100, 0, 3, 0);
    add_sample(db, 1, 3.0, 20 * MIB, "end");
    add_sample(db, 1, 2.0, 60 * MIB, "tick");
    add_sample(db, 1, 1.0, 80 * MIB, "tick");
    add_sample(db, 1, 0.0, 5 * MIB, "start");
    add_sample(db, 1, 1.0, 80 * MIB, "tick");
    add_sample(db, 1, 2.0, 60 * MIB, "tick");
    add_sample(db, 1, 2.0, 60 * MIB, "tick");
    add_sample(db, 1, 0.0, 5 * MIB, "start");
    add_sample(db, 1, 1.0, 81 * MIB, "tick");
    add_sample(db, 1, 1.0, 80 * MIB, "alloc");
    /* Run 2: a wrapper and a child that overlap (the merge path), the child's samples
     * backwards with one copy. */
    add_run(db, 2, "ok");
    add_proc(db, 2, 2, 200, 0, 10, 0);
    add_sample(db, 2, 0.0, 1 * MIB, "start");
    add_sample(db, 2, 10.0, 1 * MIB, "end");
    add_proc(db, 3, 2, 201, 1, 5, 0);
    add_sample(db, 3, 5.0, 40 * MIB, "end");
    add_sample(db, 3, 3.0, 50 * MIB, "tick");
    add_sample(db, 3, 1.0, 10 * MIB, "start");
    add_sample(db, 3, 3.0, 50 * MIB, "tick");
    sqlite3_close(db);

    read_db(&d);
    assert_int_equal(d.report.bad[MS_BAD_SAMPLE_DUP], 5);
    assert_int_equal(ms_db_report_count(&d.report, MS_BAD_SAMPLES), 5);
    r = run_by_id(&d, 1);
    assert_int_equal(r->n_samples, 6);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_START], 1);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_TICK], 3);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_END], 1);
    assert_int_equal(r->peaks.kinds[MS_SAMPLE_ALLOC], 1);
    assert_int_equal(r->peak_kb, 81 * MIB);
    assert_int_equal(r->peaks.periodic_kb, 81 * MIB);
    assert_int_equal(r->end_kb, 60 * MIB); /* the last tick in time, not in storage */
    r = run_by_id(&d, 2);
    assert_int_equal(r->n_samples, 5);
    assert_int_equal(r->peak_kb, 51 * MIB);
    assert_int_equal(r->end_kb, 51 * MIB);
    ms_sweep_free(&d);
}

static void test_orphans_and_skipped_parents(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    const ms_run_mem_t *r;
    const int want[] = {MS_BAD_RUN_ID_DUP, 1, MS_BAD_RUN_SEQ_NULL, 1, MS_BAD_RUN_SEQ, 1,
                        MS_BAD_PROC_RUN, 1, MS_BAD_PROC_NO_RUN, 1, MS_BAD_PROC_RUN_SKIPPED, 2,
                        MS_BAD_PROC_ID_DUP, 1, MS_BAD_SAMPLE_NO_PROC, 1,
                        MS_BAD_SAMPLE_PROC_SKIPPED, 4, MS_BAD_COUNT};
    (void)state;

    add_run(db, 1, "ok");
    add_proc(db, 1, 1, 100, 0, 2, 0);
    add_sample(db, 1, 0.0, 10 * MIB, "start");
    add_sample(db, 1, 2.0, 10 * MIB, "end");
    add_proc(db, 4, 1, 104, 1, -1, 0); /* no sample, no exit record */
    add_run(db, 2, "ok");              /* no process at all */
    exec_sql(db, loose_runs_sql);
    exec_sql(db, loose_processes_sql);
    exec_sql(db, "INSERT INTO runs(run_id, sweep_id, seq, status) VALUES"
                 " (3, 1, NULL, 'ok'), (4, 1, 'x', 'ok'), (5, 1, 5, 'ok'), (5, 1, 5, 'ok');"
                 "INSERT INTO processes(proc_id, run_id, pid, started_ns) VALUES"
                 " (2, 3, 102, 0), (3, 99, 103, 0), (5, 'r', 105, 0), (6, 4, 106, 0),"
                 " (4, 1, 107, 1000000000);");
    add_sample(db, 2, 0.5, 1 * MIB, "tick");
    add_sample(db, 2, 0.6, 1 * MIB, "tick");
    add_sample(db, 3, 0.5, 1 * MIB, "tick");
    add_sample(db, 6, 0.5, 1 * MIB, "tick");
    add_sample(db, 77, 0.5, 1 * MIB, "tick");
    sqlite3_close(db);

    read_db(&d);
    expect_bad(&d.report, want);
    assert_int_equal(d.n_runs, 3);
    r = run_by_id(&d, 1);
    assert_int_equal(r->n_processes, 2);
    assert_int_equal(r->ended_abnormally, 1);
    assert_int_equal(r->end_kb, 10 * MIB);
    assert_true(ms_run_measured(r));
    assert_false(ms_run_measured(run_by_id(&d, 2)));
    assert_int_equal(run_by_id(&d, 5)->n_processes, 0);
    assert_int_equal(d.report.excluded.total, 2);
    assert_int_equal(d.report.excluded.n, 1);
    assert_string_equal(d.report.excluded.text[0], "no memory sample");
    assert_int_equal(d.report.ended_abnormally, 1);
    ms_sweep_free(&d);
}

static void test_sweeps_rows(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    char note[256];
    (void)state;

    /* No sweeps row: the machine and the interval are unknown; the runs are read. */
    exec_sql(db, "DELETE FROM sweeps");
    add_run(db, 1, "ok");
    add_proc(db, 1, 1, 100, 0, 1, 0);
    add_sample(db, 1, 0.5, 7 * MIB, "tick");
    sqlite3_close(db);
    read_db(&d);
    assert_int_equal(d.info.n_sweeps, 0);
    assert_true(d.report.no_sweep_row);
    assert_false(d.info.have_mem_total);
    assert_int_equal(d.info.interval_ms, 500);
    assert_int_equal(run_by_id(&d, 1)->peak_kb, 7 * MIB);
    assert_int_equal(ms_db_report_note(&d.report, 0, note, sizeof note), 0);
    assert_string_equal(note, "the database has no sweeps row; the machine's MemTotal and the "
                              "sampling interval are unknown.");
    assert_int_equal(ms_db_report_note(&d.report, 1, note, sizeof note), -1);
    ms_sweep_free(&d);

    /* Two sweeps rows: the first one's machine and runs; the other's runs are skipped,
     * and with them their processes and samples. */
    db = create_db(dbpath);
    exec_sql(db, "INSERT INTO sweeps(sweep_id, started_ns, mem_total_kb, reserve_mb,"
                 " safety_factor, interval_ms) VALUES (2, 0, 1024, 1024, 0.85, 500)");
    add_run(db, 1, "ok");
    add_proc(db, 1, 1, 100, 0, 1, 0);
    add_sample(db, 1, 0.5, 7 * MIB, "tick");
    exec_sql(db, "INSERT INTO runs(run_id, sweep_id, seq, status) VALUES (2, 2, 1, 'ok')");
    add_proc(db, 2, 2, 200, 0, 1, 0);
    add_sample(db, 2, 0.5, 900 * MIB, "tick");
    sqlite3_close(db);
    read_db(&d);
    assert_int_equal(d.info.n_sweeps, 2);
    assert_int_equal(d.info.mem_total_kb, 12226560ULL);
    assert_int_equal(d.n_runs, 1);
    assert_int_equal(d.report.bad[MS_BAD_RUN_OTHER_SWEEP], 1);
    assert_int_equal(d.report.bad[MS_BAD_PROC_RUN_SKIPPED], 1);
    assert_int_equal(d.report.bad[MS_BAD_SAMPLE_PROC_SKIPPED], 1);
    assert_int_equal(run_by_id(&d, 1)->peak_kb, 7 * MIB);
    ms_sweep_free(&d);
}

static void test_abnormal_ends(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    const ms_run_mem_t *r;
    (void)state;

    /* Run 1: a wrapper and a child killed at 3 s: no end sample, no exit time. Its
     * samples count up to its last one, which is its exit RSS. */
    add_run(db, 1, "killed");
    add_proc(db, 1, 1, 10, 0, 10, 0);
    add_sample(db, 1, 0.0, 2 * MIB, "start");
    add_sample(db, 1, 10.0, 2 * MIB, "end");
    add_proc(db, 2, 1, 11, 1, -1, 0);
    add_sample(db, 2, 1.0, 5 * MIB, "start");
    add_sample(db, 2, 2.0, 100 * MIB, "tick");
    add_sample(db, 2, 3.0, 90 * MIB, "tick");
    /* Run 2: an image replaced by exec is not an abnormal end. */
    add_run(db, 2, "ok");
    add_proc(db, 3, 2, 12, 0, -1, 0);
    add_sample(db, 3, 0.0, 1 * MIB, "start");
    add_proc(db, 4, 2, 12, 0.2, 5, 0);
    add_sample(db, 4, 0.2, 3 * MIB, "start");
    add_sample(db, 4, 5.0, 3 * MIB, "end");
    /* Run 3: an exit time without an end sample, an end sample without an exit time. */
    add_run(db, 3, "ok");
    add_proc(db, 5, 3, 13, 0, 2, 0);
    add_sample(db, 5, 1.0, 4 * MIB, "tick");
    add_proc(db, 6, 3, 14, 3, -1, 0);
    add_sample(db, 6, 4.0, 4 * MIB, "end");
    /* Run 4: still running; its process may be alive. */
    add_run(db, 4, "running");
    add_proc(db, 7, 4, 15, 0, -1, 0);
    add_sample(db, 7, 1.0, 6 * MIB, "tick");
    sqlite3_close(db);

    read_db(&d);
    r = run_by_id(&d, 1);
    assert_int_equal(r->ended_abnormally, 1);
    assert_int_equal(r->peak_kb, 102 * MIB);
    assert_int_equal(r->end_kb, 92 * MIB); /* the wrapper's 2 and the child's last 90 */
    assert_int_equal(run_by_id(&d, 2)->ended_abnormally, 0);
    assert_int_equal(run_by_id(&d, 3)->ended_abnormally, 0);
    assert_int_equal(run_by_id(&d, 4)->ended_abnormally, 1);
    assert_int_equal(d.report.ended_abnormally, 2);
    assert_int_equal(d.report.ended_abnormally_running, 1);
    ms_sweep_free(&d);
}

/* ms_sweep_main_end for run_id of the database at dbpath, read again. */
static int main_end_of(const ms_sweep_data_t *d, long long run_id, ms_main_end_t *m)
{
    sqlite3 *rdb = NULL;
    ms_sweep_texts_t texts;
    char err[256] = "";
    int known = -1;

    assert_int_equal(ms_sweep_open(dbpath, &rdb, err, sizeof err), 0);
    assert_int_equal(ms_sweep_texts_open(rdb, NULL, &texts, err, sizeof err), 0);
    assert_int_equal(ms_sweep_main_end(&texts, run_by_id(d, run_id), m, &known), 0);
    ms_sweep_texts_close(&texts);
    sqlite3_close(rdb);
    return known;
}

static void test_hwm_bound_over_time(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    const ms_run_mem_t *r;
    (void)state;

    /* Run 1: a shell loop: the shell (2 MiB) for 10 s, five programs of 300 MiB one after
     * another. The bound is the shell and one program, not all six. */
    add_run(db, 1, "ok");
    add_proc(db, 1, 1, 100, 0, 10, 0);
    add_sample_ex(db, 1, 0.0, 2 * MIB, 2 * MIB, "start", 0);
    add_sample_ex(db, 1, 10.0, 2 * MIB, 2 * MIB, "end", 0);
    for (int k = 1; k <= 5; k++) {
        add_proc(db, 1 + k, 1, 100 + k, k + 0.1, k + 0.5, 300 * MIB);
        add_sample_ex(db, 1 + k, k + 0.2, 300 * MIB, 300 * MIB, "tick", 0);
        add_sample_ex(db, 1 + k, k + 0.5, 1 * MIB, 300 * MIB, "end", 0);
    }
    /* Run 2: a child without an exit record (last seen at 1.5 s) may have lived on; it
     * counts as alive until the run was last seen, so with the later child too. */
    add_run(db, 2, "ok");
    add_proc(db, 10, 2, 200, 0, 10, 0);
    add_sample_ex(db, 10, 0.0, 2 * MIB, 2 * MIB, "start", 0);
    add_sample_ex(db, 10, 10.0, 2 * MIB, 2 * MIB, "end", 0);
    add_proc(db, 11, 2, 201, 1, -1, 0);
    add_sample_ex(db, 11, 1.5, 100 * MIB, 100 * MIB, "tick", 0);
    add_proc(db, 12, 2, 202, 5, 6, 100 * MIB);
    add_sample_ex(db, 12, 5.5, 100 * MIB, 100 * MIB, "tick", 0);
    /* Run 3: an image replaced by exec ends where its successor starts. */
    add_run(db, 3, "ok");
    add_proc(db, 20, 3, 300, 0, -1, 0);
    add_sample_ex(db, 20, 0.5, 50 * MIB, 50 * MIB, "tick", 0);
    add_proc(db, 21, 3, 300, 1, 3, 80 * MIB);
    add_sample_ex(db, 21, 2.0, 80 * MIB, 80 * MIB, "tick", 0);
    sqlite3_close(db);

    read_db(&d);
    r = run_by_id(&d, 1);
    assert_int_equal(r->peaks.hwm_sum_kb, 302 * MIB);
    assert_int_equal(r->peaks.hwm_alive, 2);
    assert_int_equal(r->peaks.hwm_procs, 6);
    assert_int_equal(r->peak_kb, 302 * MIB); /* the samples' sum agrees */
    r = run_by_id(&d, 2);
    assert_int_equal(r->peaks.hwm_sum_kb, 202 * MIB);
    assert_int_equal(r->peaks.hwm_alive, 3);
    r = run_by_id(&d, 3);
    assert_int_equal(r->peaks.hwm_sum_kb, 80 * MIB);
    assert_int_equal(r->peaks.hwm_alive, 1);
    assert_int_equal(r->peaks.hwm_procs, 2);
    ms_sweep_free(&d);
}

static void test_main_process_end(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    ms_main_end_t m;
    const ms_run_mem_t *r;
    (void)state;

    /* Run 1: the program the launcher started was killed by SIGABRT; its row has no exit
     * record. A child of it also left none. */
    add_run(db, 1, "killed");
    add_proc(db, 1, 1, 20, 0, -1, 0);
    add_sample(db, 1, 0.5, 8 * MIB, "tick");
    add_proc(db, 2, 1, 21, 0.2, -1, 0);
    add_sample(db, 2, 0.6, 1 * MIB, "tick");
    /* Run 2: "sh -c LINE" exec'd into the line's program, which exited 0 through a raw
     * exit system call: the exec successor is the main process. */
    add_run(db, 2, "ok");
    add_proc(db, 3, 2, 30, 0, -1, 0);
    add_sample(db, 3, 0.1, 1 * MIB, "start");
    add_proc(db, 4, 2, 30, 0.2, -1, 0);
    add_sample(db, 4, 0.5, 4 * MIB, "tick");
    /* Run 3: a script run by its interpreter, killed by a signal no name is kept for. */
    add_run(db, 3, "killed");
    add_proc(db, 5, 3, 40, 0, -1, 0);
    add_sample(db, 5, 0.5, 4 * MIB, "tick");
    /* Run 4: the first row is not the program the launcher started (a static wrapper left
     * none), though its command line ends with the run's command: the run's status is not
     * lent to it. */
    add_run(db, 4, "killed");
    add_proc(db, 6, 4, 50, 0, -1, 0);
    add_sample(db, 6, 0.5, 4 * MIB, "tick");
    /* Run 5: the main process has an exit record; only its child left none. */
    add_run(db, 5, "ok");
    add_proc(db, 7, 5, 60, 0, 2, 0);
    add_sample(db, 7, 0.5, 4 * MIB, "end");
    add_proc(db, 8, 5, 61, 0.2, -1, 0);
    add_sample(db, 8, 0.5, 4 * MIB, "tick");
    /* Run 6: still running, without an exit status. */
    add_run(db, 6, "running");
    add_proc(db, 9, 6, 70, 0, -1, 0);
    add_sample(db, 9, 0.5, 4 * MIB, "tick");
    /* Runs 7 and 8: "#!/usr/bin/env python3" is an interpreter and one argument; three
     * words before the command are not an interpreter line. */
    add_run(db, 7, "killed");
    add_proc(db, 10, 7, 80, 0, -1, 0);
    add_sample(db, 10, 0.5, 4 * MIB, "tick");
    add_run(db, 8, "killed");
    add_proc(db, 11, 8, 90, 0, -1, 0);
    add_sample(db, 11, 0.5, 4 * MIB, "tick");
    exec_sql(db, "UPDATE runs SET command = './prog --x 1', term_signal = 6 WHERE run_id = 1;"
                 "UPDATE processes SET cmdline = './prog --x 1' WHERE proc_id = 1;"
                 "UPDATE processes SET cmdline = 'sort -n' WHERE proc_id = 2;"
                 "UPDATE runs SET command = 'exec ./goprog', exit_code = 0 WHERE run_id = 2;"
                 "UPDATE processes SET cmdline = 'sh -c exec ./goprog' WHERE proc_id = 3;"
                 "UPDATE processes SET cmdline = './goprog' WHERE proc_id = 4;"
                 "UPDATE runs SET command = './train.py', term_signal = 33 WHERE run_id = 3;"
                 "UPDATE processes SET cmdline = '/usr/bin/python3 ./train.py' WHERE proc_id = 5;"
                 "UPDATE runs SET command = './wrapper', term_signal = 9 WHERE run_id = 4;"
                 "UPDATE processes SET cmdline = './child --of ./wrapper' WHERE proc_id = 6;"
                 "UPDATE runs SET command = './prog', exit_code = 0 WHERE run_id = 5;"
                 "UPDATE processes SET cmdline = './prog' WHERE proc_id IN (7, 8);"
                 "UPDATE runs SET command = './prog' WHERE run_id = 6;"
                 "UPDATE processes SET cmdline = './prog' WHERE proc_id = 9;"
                 "UPDATE runs SET command = './t.py', term_signal = 15 WHERE run_id IN (7, 8);"
                 "UPDATE processes SET cmdline = '/usr/bin/env python3 ./t.py' WHERE proc_id = 10;"
                 "UPDATE processes SET cmdline = '/opt/run a b ./t.py' WHERE proc_id = 11;");
    sqlite3_close(db);

    read_db(&d);
    r = run_by_id(&d, 1);
    assert_int_equal(r->ended_abnormally, 2);
    assert_int_equal(r->main_no_exit, 1);
    assert_int_equal(main_end_of(&d, 1, &m), 1);
    assert_int_equal(m.pid, 20);
    assert_true(m.have_signal);
    assert_int_equal(m.signal, 6);
    r = run_by_id(&d, 2);
    assert_int_equal(r->ended_abnormally, 1); /* the shell's image was replaced by exec */
    assert_int_equal(r->main_no_exit, 4);
    assert_int_equal(main_end_of(&d, 2, &m), 1);
    assert_int_equal(m.pid, 30);
    assert_false(m.have_signal);
    assert_int_equal(m.exit_code, 0);
    assert_int_equal(main_end_of(&d, 3, &m), 1);
    assert_int_equal(m.signal, 33);
    assert_int_equal(m.pid, 40);
    assert_int_equal(run_by_id(&d, 4)->main_no_exit, 6);
    assert_int_equal(main_end_of(&d, 4, &m), 0);
    r = run_by_id(&d, 5);
    assert_int_equal(r->ended_abnormally, 1);
    assert_int_equal(r->main_no_exit, 0);
    assert_int_equal(main_end_of(&d, 5, &m), 0);
    assert_int_equal(main_end_of(&d, 6, &m), 0);
    assert_int_equal(main_end_of(&d, 7, &m), 1);
    assert_int_equal(m.signal, 15);
    assert_int_equal(main_end_of(&d, 8, &m), 0);
    ms_sweep_free(&d);
}

static void test_schema_v3_columns(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    const ms_run_mem_t *r;
    ms_sweep_texts_t texts;
    ms_proc_note_t notes[8];
    size_t n = 0, more = 0;
    ms_advise_opts_t o;
    ms_advisory_t a;
    char err[256] = "";
    (void)state;

    add_run(db, 1, "ok");
    add_proc(db, 1, 1, 100, 0, 2, 0);
    add_sample(db, 1, 0.5, 10 * MIB, "tick");
    add_proc(db, 2, 1, 101, 0, 2, 0);
    add_sample(db, 2, 0.5, 10 * MIB, "tick");
    add_proc(db, 3, 1, 102, 0, 2, 0);
    add_sample(db, 3, 0.5, 10 * MIB, "tick");
    exec_sql(db, "UPDATE processes SET unstored = 4, note = 'database is full' WHERE proc_id = 1;"
                 "UPDATE processes SET note = 'database is full' WHERE proc_id = 2;"
                 "UPDATE processes SET unstored = 0, note = 'busy' WHERE proc_id = 3;");
    /* Not measured: without processes, with a sample nonetheless, with no reason given;
     * run 5 has no sample and no reason recorded. */
    exec_sql(db, "INSERT INTO runs(run_id, sweep_id, seq, status, uninstrumented) VALUES"
                 " (2, 1, 2, 'ok', 'statically linked: /opt/a'),"
                 " (3, 1, 3, 'ok', 'setuid: /usr/local/libexec/a-rather-long-directory/tool"
                 " (owned by uid 65534)'),"
                 " (4, 1, 4, 'ok', ''), (5, 1, 5, 'failed', NULL),"
                 " (6, 1, 6, 'ok', 'statically linked: /opt/b'),"
                 " (7, 1, 7, 'ok', 'no process reported by /usr/bin/python3, which is"
                 " dynamically linked (see the run''s log)'),"
                 " (8, 1, 8, 'ok', 'the program left before the shim could write anything"
                 " at all, for reasons unknown')");
    add_proc(db, 4, 3, 103, 0, 1, 0);
    add_sample(db, 4, 0.5, 999 * MIB, "tick");
    /* Readings lost without a failed write (no note): a sampler held up. */
    exec_sql(db, "UPDATE processes SET unstored = 3 WHERE proc_id = 4");
    sqlite3_close(db);

    read_db(&d);
    r = run_by_id(&d, 1);
    assert_int_equal(r->unstored, 4);
    /* A process with a note had a write fail: its readings are told by that cause. */
    assert_int_equal(r->unstored_failed, 4);
    assert_int_equal(run_by_id(&d, 3)->unstored, 3);
    assert_int_equal(run_by_id(&d, 3)->unstored_failed, 0);
    assert_false(r->not_measured);
    /* The kind of reason: the text before its first ": ", or before its first path. */
    assert_string_equal(run_by_id(&d, 2)->not_measured_kind, "statically linked");
    r = run_by_id(&d, 3);
    assert_true(r->not_measured);
    assert_string_equal(r->not_measured_kind, "setuid");
    assert_int_equal(r->n_samples, 1);
    assert_false(ms_run_measured(r));
    assert_string_equal(run_by_id(&d, 4)->not_measured_kind, "no reason recorded");
    assert_string_equal(run_by_id(&d, 7)->not_measured_kind, "no process reported by");
    /* A kind too long for its buffer is cut where a word ends, never inside one. */
    assert_string_equal(run_by_id(&d, 8)->not_measured_kind,
                        "the program left before the shim could write anything at...");
    assert_int_equal(d.report.unstored, 7);
    assert_int_equal(d.report.unstored_failed, 4);
    /* The first noted process that lost readings; proc 2's note lost none. */
    assert_string_equal(d.report.unstored_note, "database is full");
    assert_int_equal(d.report.excluded.total, 7);
    assert_int_equal(d.report.excluded.n, 6);
    assert_string_equal(d.report.excluded.text[0], "statically linked");
    assert_int_equal(d.report.excluded.count[0], 2);
    assert_string_equal(d.report.excluded.text[1], "setuid");
    assert_string_equal(d.report.excluded.text[2], "no reason recorded");
    assert_string_equal(d.report.excluded.text[3], "no memory sample");
    assert_string_equal(d.report.excluded.text[4], "no process reported by");
    assert_string_equal(d.report.excluded.text[5],
                        "the program left before the shim could write anything at...");
    ms_advise_opts_init(&o);
    assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
    assert_int_equal(a.counts.included, 1);
    assert_int_equal(a.counts.excluded, 7);
    assert_float_equal(a.peak_mb.max, 30.0, 0.0); /* run 3's 999 MiB does not count */
    assert_int_equal(a.peaks.runs, 1);
    assert_true(a.have_report);
    assert_int_equal(a.report.unstored, 7);
    assert_int_equal(a.report.unstored_failed, 4);

    {
        sqlite3 *rdb = NULL;
        assert_int_equal(ms_sweep_open(dbpath, &rdb, err, sizeof err), 0);
        assert_int_equal(ms_sweep_texts_open(rdb, NULL, &texts, err, sizeof err), 0);
        assert_int_equal(ms_sweep_run_notes(&texts, 1, notes, 1, &n, &more), 0);
        assert_int_equal(n, 1);
        assert_int_equal(more, 1);
        assert_string_equal(notes[0].text, "database is full");
        assert_int_equal(notes[0].processes, 2);
        assert_int_equal(notes[0].pid, 100);
        ms_sweep_notes_free(notes, n);
        assert_int_equal(ms_sweep_run_notes(&texts, 1, notes, 8, &n, &more), 0);
        assert_int_equal(n, 2);
        assert_int_equal(more, 0);
        assert_string_equal(notes[1].text, "busy");
        assert_int_equal(notes[1].pid, 102);
        ms_sweep_notes_free(notes, n);
        assert_int_equal(ms_sweep_run_notes(&texts, 2, notes, 8, &n, &more), 0);
        assert_int_equal(n, 0);
        {
            char *reason = NULL;
            assert_int_equal(ms_sweep_run_reason(&texts, 3, &reason), 0);
            assert_string_equal(reason, "setuid: /usr/local/libexec/a-rather-long-directory/"
                                        "tool (owned by uid 65534)");
            free(reason);
            assert_int_equal(ms_sweep_run_reason(&texts, 1, &reason), 0);
            assert_null(reason);
        }
        ms_sweep_texts_close(&texts);
        sqlite3_close(rdb);
    }
    ms_sweep_free(&d);
}

static void test_schema_v2_database(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    ms_sweep_texts_t texts;
    ms_proc_note_t notes[2];
    size_t n = 1, more = 1;
    char err[256] = "";
    (void)state;

    /* Version 2: no uninstrumented, unstored or note columns. */
    exec_sql(db, "ALTER TABLE runs DROP COLUMN uninstrumented;"
                 "ALTER TABLE processes DROP COLUMN unstored;"
                 "ALTER TABLE processes DROP COLUMN note; PRAGMA user_version = 2;");
    add_run(db, 1, "ok");
    add_proc(db, 1, 1, 100, 0, 2, 0);
    add_sample(db, 1, 0.5, 12 * MIB, "tick");
    sqlite3_close(db);
    read_db(&d);
    assert_int_equal(run_by_id(&d, 1)->peak_kb, 12 * MIB);
    assert_false(run_by_id(&d, 1)->not_measured);
    assert_int_equal(d.report.unstored, 0);
    assert_int_equal(d.report.excluded.total, 0);
    ms_sweep_free(&d);
    {
        sqlite3 *rdb = NULL;
        assert_int_equal(ms_sweep_open(dbpath, &rdb, err, sizeof err), 0);
        assert_int_equal(ms_sweep_texts_open(rdb, NULL, &texts, err, sizeof err), 0);
        assert_null(texts.notes);
        assert_int_equal(ms_sweep_run_notes(&texts, 1, notes, 2, &n, &more), 0);
        assert_int_equal(n, 0);
        assert_int_equal(more, 0);
        ms_sweep_texts_close(&texts);
        sqlite3_close(rdb);
    }
}

static void test_unknown_status(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    ms_advise_opts_t o;
    ms_advisory_t a;
    char note[256];
    (void)state;

    for (int i = 1; i <= 4; i++) {
        add_run(db, i, "ok");
        add_proc(db, i, i, 100 + i, 0, 1, 0);
        add_sample(db, i, 0.5, 10 * MIB, "tick");
    }
    exec_sql(db, loose_runs_sql);
    exec_sql(db, "UPDATE runs SET status = 'exploded' WHERE run_id = 1;"
                 "UPDATE runs SET status = NULL WHERE run_id = 2;"
                 "UPDATE runs SET status = 7 WHERE run_id = 3;");
    sqlite3_close(db);
    read_db(&d);
    assert_string_equal(run_by_id(&d, 1)->status, "exploded");
    assert_false(run_by_id(&d, 1)->status_known);
    assert_string_equal(run_by_id(&d, 2)->status, "NULL");
    assert_false(run_by_id(&d, 2)->status_known);
    assert_string_equal(run_by_id(&d, 3)->status, "7");
    assert_true(run_by_id(&d, 4)->status_known);
    assert_int_equal(d.report.unknown_status.total, 3);
    assert_int_equal(ms_db_report_note(&d.report, 0, note, sizeof note), 0);
    assert_string_equal(note, "3 runs have a status this version does not know (exploded: 1, "
                              "NULL: 1, 7: 1); counted as failed.");
    ms_advise_opts_init(&o);
    assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
    assert_int_equal(a.counts.failed, 3);
    assert_int_equal(a.counts.included, 4);
    ms_sweep_free(&d);
}

/*
 * How ms_sweep_advise counts runs: stopped ones (interrupted, timeout) and the running
 * ones of an unfinished sweep are left out with their largest peak; running ones are not
 * failed; a killed or oom run with samples stays in; wait4 above its floor raises a
 * killed run's peak, at or below it does not, and without a floor it is not used.
 */
static void test_run_counts_and_wait4(void **state)
{
    sqlite3 *db = create_db(dbpath);
    static const char *const status[] = {"ok", "oom", "interrupted", "timeout", "running",
                                         "failed"};
    ms_sweep_data_t d;
    ms_advise_opts_t o;
    ms_advisory_t a;
    (void)state;

    for (int i = 1; i <= 6; i++) {
        add_run(db, i, status[i - 1]);
        add_proc(db, i, i, 100 + i, 0, i == 1 ? 1 : -1, 0);
        add_sample(db, i, 0.5, (10 + i) * MIB, "tick");
    }
    add_run(db, 7, "failed"); /* no sample: excluded */
    /* Run 2 was killed at 300 MiB; run 1's wait4 is the launcher's copy; run 6 has none. */
    exec_sql(db, "UPDATE runs SET maxrss_kb = 300 * 1024, maxrss_floor_kb = 4096 WHERE run_id = 2;"
                 "UPDATE runs SET maxrss_kb = 3000, maxrss_floor_kb = 4096 WHERE run_id = 1;"
                 "UPDATE runs SET maxrss_kb = 900 * 1024 WHERE run_id = 6;"
                 "UPDATE runs SET maxrss_kb = 50 * 1024, maxrss_floor_kb = 4096 WHERE run_id = 4;");
    sqlite3_close(db);

    /* A finished sweep: running runs stay in (no launcher records their ends). */
    db = NULL;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    exec_sql(db, "UPDATE sweeps SET finished_ns = 5, origin = 'launcher'");
    sqlite3_close(db);
    read_db(&d);
    assert_int_equal(run_by_id(&d, 2)->peak_kb, 300 * MIB);
    assert_int_equal(run_by_id(&d, 2)->peaks.wait4, MS_WAIT4_ABOVE);
    assert_int_equal(run_by_id(&d, 1)->peak_kb, 11 * MIB);
    assert_int_equal(run_by_id(&d, 1)->peaks.wait4, MS_WAIT4_AT_FLOOR);
    assert_int_equal(run_by_id(&d, 6)->peak_kb, 16 * MIB);
    assert_int_equal(run_by_id(&d, 6)->peaks.wait4, MS_WAIT4_NONE);
    ms_advise_opts_init(&o);
    assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
    assert_int_equal(a.counts.total, 7);
    assert_int_equal(a.counts.included, 4);  /* ok, oom, running, failed */
    assert_int_equal(a.counts.stopped, 2);
    assert_int_equal(a.counts.excluded, 1);
    assert_int_equal(a.counts.running, 1);
    assert_int_equal(a.counts.unfinished_runs, 0);
    assert_int_equal(a.counts.failed, 5);    /* oom, interrupted, timeout, failed x2 */
    assert_false(a.counts.unfinished);
    assert_true(a.counts.have_left_out_peak);
    assert_int_equal(a.counts.left_out_peak_seq, 4); /* timeout run's wait4: 50 MiB */
    assert_true(a.counts.left_out_peak_mb > 49.9 && a.counts.left_out_peak_mb < 50.1);
    assert_true(a.peak_mb.max > 299.9);
    ms_sweep_free(&d);

    /* The same sweep not finished: its running run is left out, not failed. */
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    exec_sql(db, "UPDATE sweeps SET finished_ns = NULL");
    sqlite3_close(db);
    read_db(&d);
    assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
    assert_true(a.counts.unfinished);
    assert_int_equal(a.counts.included, 3);
    assert_int_equal(a.counts.unfinished_runs, 1);
    assert_int_equal(a.counts.running, 1);
    assert_int_equal(a.counts.failed, 5);
    assert_int_equal(a.counts.included + a.counts.excluded + a.counts.stopped +
                         a.counts.unfinished_runs,
                     a.counts.total);
    ms_sweep_free(&d);

    /* A database of the shim alone has no launcher to finish it: nothing is unfinished. */
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    exec_sql(db, "UPDATE sweeps SET origin = 'shim'");
    sqlite3_close(db);
    read_db(&d);
    assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
    assert_false(a.counts.unfinished);
    assert_int_equal(a.counts.included, 4);
    ms_sweep_free(&d);
}

/* ms_sweep_read on dbpath fails with want_rc and exactly want_err. */
static void expect_read_error(int want_rc, const char *want_err)
{
    sqlite3 *db = NULL;
    ms_sweep_data_t d;
    char err[512] = "";
    assert_int_equal(ms_sweep_open(dbpath, &db, err, sizeof err), 0);
    assert_int_equal(ms_sweep_read(db, "the.db", &d, err, sizeof err), want_rc);
    assert_string_equal(err, want_err);
    assert_null(d.runs);
    sqlite3_close(db);
}

static void test_missing_tables_and_columns(void **state)
{
    sqlite3 *db;
    (void)state;

    db = create_db(dbpath);
    exec_sql(db, "DROP TABLE runs");
    sqlite3_close(db);
    expect_read_error(-EINVAL, "the.db: damaged memsweep database: no table runs");

    db = create_db(dbpath);
    exec_sql(db, "ALTER TABLE processes DROP COLUMN hwm_kb");
    sqlite3_close(db);
    expect_read_error(-EINVAL, "the.db: damaged memsweep database: table processes has no "
                               "column hwm_kb");

    db = create_db(dbpath);
    exec_sql(db, "ALTER TABLE sweeps DROP COLUMN interval_ms");
    sqlite3_close(db);
    expect_read_error(-EINVAL, "the.db: damaged memsweep database: table sweeps has no "
                               "column interval_ms");
}

static void test_damaged_files(void **state)
{
    sqlite3 *db = NULL;
    char want[512], sql[256];
    long long pages = 0, root = 0;
    FILE *f;
    (void)state;

    /* An empty file, which SQLite would take for an empty database. */
    f = fopen(dbpath, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(want, sizeof want, "%s: empty file, not a memsweep database", dbpath);
    expect_open_error(dbpath, -EINVAL, want);

    /* A database of several pages, cut after its first. */
    db = create_db(dbpath);
    add_run(db, 1, "ok");
    add_proc(db, 1, 1, 100, 0, 100, 0);
    for (int i = 0; i < 400; i++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind) VALUES"
                 " (1, %d, %d, %d, 'tick')", i, i, i);
        exec_sql(db, sql);
    }
    {
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT page_count FROM pragma_page_count),"
                                                " (SELECT rootpage FROM sqlite_master"
                                                "  WHERE name = 'samples')", -1, &st, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        pages = sqlite3_column_int64(st, 0);
        root = sqlite3_column_int64(st, 1);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    assert_true(pages > 2);

    /* A damaged page: the samples table's root. */
    {
        static const unsigned char junk[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        f = fopen(dbpath, "r+");
        assert_non_null(f);
        assert_int_equal(fseek(f, (long)((root - 1) * 4096), SEEK_SET), 0);
        assert_int_equal(fwrite(junk, 1, sizeof junk, f), sizeof junk);
        fclose(f);
        expect_read_error(-EIO, "the.db: damaged database file (database disk image is "
                                "malformed)");
    }

    assert_int_equal(truncate(dbpath, 4096), 0);
    snprintf(want, sizeof want, "%s: damaged database file (truncated: 4096 of %lld bytes)",
             dbpath, pages * 4096);
    expect_open_error(dbpath, -EINVAL, want);

    /* memsweep's application_id without a schema version. */
    db = create_db(dbpath);
    exec_sql(db, "PRAGMA user_version = 0");
    sqlite3_close(db);
    snprintf(want, sizeof want, "%s: not a complete memsweep database (schema version 0)",
             dbpath);
    expect_open_error(dbpath, -EINVAL, want);
}

/* What the advisory's post-run section (json 0) or its JSON (json 1) reads for a. */
static char *advise_text(const ms_advisory_t *a, int json)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    if (json)
        ms_advisory_write_json(f, a);
    else
        ms_advisory_write_post(f, a);
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* A run of seq with its attempt and superseded columns (schema 9); < 0 stores NULL. */
static void add_attempt(sqlite3 *db, int run_id, int seq, const char *status, int attempt,
                        int superseded)
{
    char sql[320], att[16] = "NULL", sup[16] = "NULL";
    if (attempt >= 0)
        snprintf(att, sizeof att, "%d", attempt);
    if (superseded >= 0)
        snprintf(sup, sizeof sup, "%d", superseded);
    snprintf(sql, sizeof sql,
             "INSERT INTO runs(run_id, sweep_id, seq, status, attempt, superseded)"
             " VALUES (%d, 1, %d, '%s', %s, %s)",
             run_id, seq, status, att, sup);
    exec_sql(db, sql);
}

/*
 * Attempts that --retry-oom replaced (schema 9) are in no count and no statistic: the run
 * counts once, with the attempt that stands. They are paired with the attempt that
 * followed them, counted apart, and one that nothing follows stays out all the same.
 */
static void test_superseded_attempts(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    ms_advise_opts_t o;
    ms_advisory_t a;
    ms_peak_summary_t ps;
    char *text;
    (void)state;

    exec_sql(db, "UPDATE sweeps SET finished_ns = 100000000000, origin = 'launcher'");
    /* Run 1 stands alone; seq 2 was killed at 500 MiB, then ran to 120 MiB alone. */
    add_attempt(db, 1, 1, "ok", -1, -1);
    add_proc(db, 1, 1, 101, 0, 2, 0);
    add_sample(db, 1, 1.0, 100 * MIB, "tick");
    add_sample(db, 1, 2.0, 90 * MIB, "end");
    add_attempt(db, 2, 2, "oom", 1, 1);
    add_proc(db, 2, 2, 102, 0, -1, 0);
    add_sample(db, 2, 1.0, 500 * MIB, "tick");
    exec_sql(db, "UPDATE runs SET maxrss_kb = 600 * 1024, maxrss_floor_kb = 4096 WHERE run_id = 2");
    add_attempt(db, 3, 2, "ok", 2, -1);
    add_proc(db, 3, 3, 103, 3, 5, 0);
    add_sample(db, 3, 4.0, 120 * MIB, "tick");
    add_sample(db, 3, 5.0, 110 * MIB, "end");
    /* Seq 3: a superseded attempt of 700 MiB that no later attempt follows. */
    add_attempt(db, 4, 3, "oom", 1, 1);
    add_proc(db, 4, 4, 104, 6, -1, 0);
    add_sample(db, 4, 6.5, 700 * MIB, "tick");
    /* Values that cannot be an attempt or a flag: ignored, counted, and the run stands. */
    exec_sql(db, "INSERT INTO runs(run_id, sweep_id, seq, status, attempt, superseded)"
                 " VALUES (5, 1, 4, 'ok', 'two', 7)");
    add_proc(db, 5, 5, 105, 8, 9, 0);
    add_sample(db, 5, 8.5, 80 * MIB, "tick");
    add_sample(db, 5, 9.0, 70 * MIB, "end");
    sqlite3_close(db);

    read_db(&d);
    assert_int_equal(d.n_runs, 3);
    assert_int_equal(d.n_superseded, 2);
    assert_int_equal(d.runs[0].run_id, 1);
    assert_int_equal(d.runs[1].run_id, 3);
    assert_int_equal(d.runs[2].run_id, 5);
    assert_int_equal(d.runs[1].attempt, 2);
    assert_int_equal(d.runs[1].earlier_attempts, 1);
    assert_int_equal(d.runs[0].earlier_attempts, 0);
    assert_int_equal(d.runs[2].attempt, 0);
    assert_false(d.runs[2].superseded);
    assert_int_equal(d.superseded[0].run_id, 2);
    assert_int_equal(d.superseded[0].retried_as, 3);
    assert_int_equal(d.superseded[0].peak_kb, 600 * MIB);
    assert_int_equal(d.superseded[1].run_id, 4);
    assert_int_equal(d.superseded[1].retried_as, 0);
    assert_int_equal(d.report.bad[MS_BAD_RUN_ATTEMPT], 1);
    assert_int_equal(d.report.bad[MS_BAD_RUN_SUPERSEDED], 1);
    /* The killed attempts' processes, without exit records, are not the sweep's runs'. */
    assert_int_equal(d.report.ended_abnormally, 0);

    ms_advise_opts_init(&o);
    assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
    assert_int_equal(a.counts.total, 3);
    assert_int_equal(a.counts.included, 3);
    assert_int_equal(a.counts.failed, 0);
    assert_int_equal(a.counts.retried_runs, 1);
    assert_int_equal(a.counts.retried_attempts, 2);
    /* 120 MiB, the standing attempt's: not the killed one's 600 or the orphan's 700. */
    assert_float_equal(a.peak_mb.max, 120.0, 1e-9);
    assert_float_equal(a.peak_mb.mean, 100.0, 1e-9);
    assert_int_equal(a.peaks.runs, 3);
    /* The suggested factor still sees both out-of-memory kills. */
    assert_int_equal(a.safety.oom_runs, 2);
    text = advise_text(&a, 0);
    assert_non_null(strstr(text, "RunsTotal: 3\nRunsIncluded: 3\nRunsFailed: 0\nRunsExcluded: 0\n"
                                 "RunsStopped: 0\nRunsRunning: 0\nRetriedAfterOOM_Runs: 1\n"
                                 "RetriedAfterOOM_Attempts: 2\n"));
    assert_non_null(strstr(text, "MaxPeakRSS_MB: 120.0\n"));
    assert_null(strstr(text, "Admission"));
    free(text);
    text = advise_text(&a, 1);
    assert_non_null(strstr(text, "\"RunsRunning\":0,\"RetriedAfterOOM_Runs\":1,"
                                 "\"RetriedAfterOOM_Attempts\":2,\"SweepFinished\":true,"));
    free(text);
    ms_sweep_peak_summary(&d, &ps);
    assert_int_equal(ps.runs, 3);
    assert_int_equal(ps.retried_runs, 1);
    assert_int_equal(ps.retried_attempts, 2);
    ms_sweep_free(&d);
}

/* An admissions row; predicted_mib < 0 stores NULL. Times in seconds, sizes in MiB. */
static void add_admission(sqlite3 *db, int run_id, double decided_s, const char *rule,
                          int predicted_mib, int running, int running_pred_mib,
                          int available_mib, int waited_ms)
{
    char sql[512], pred[32] = "NULL";
    if (predicted_mib >= 0)
        snprintf(pred, sizeof pred, "%lld", predicted_mib * MIB);
    snprintf(sql, sizeof sql,
             "INSERT INTO admissions(run_id, decided_ns, rule, predicted_kb, basis, running,"
             " running_predicted_kb, running_rss_kb, available_kb, available_source,"
             " budget_kb, waited_ms) VALUES (%d, %lld, '%s', %s, 'same parameters', %d, %lld,"
             " 0, %lld, 'MemAvailable', %lld, %d)",
             run_id, (long long)(decided_s * S_NS), rule, pred, running, running_pred_mib * MIB,
             available_mib * MIB, 1000 * MIB, waited_ms);
    exec_sql(db, sql);
}

/*
 * What the advisory says of a scheduled sweep (schema 9), from hand-built admissions:
 * the options, the highest predicted memory in use at an admission, the highest measured
 * total (a time-aligned sum of samples of every attempt, superseded ones included, whose
 * memory was in use), the rules, the waits, and the peaks of the included runs against
 * their predictions.
 */
static void test_admissions_summary(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    ms_advise_opts_t o;
    ms_advisory_t a;
    const ms_sched_admission_t *adm;
    char *text, *block, *miss;
    (void)state;

    exec_sql(db, "UPDATE sweeps SET started_ns = 100, finished_ns = 100000000000,"
                 " origin = 'launcher', jobs = 2, jobs_auto = 1, mem_budget_kb = 1000 * 1024,"
                 " stagger_ms = -1, run_order = 'size', retry_oom = 1");
    /*
     * Runs 1 and 2 overlap: at once they read 100 + 0, 300 + 200, 100 + 200, 100 + 400,
     * 50 + 400, then 10 alone: 500 MiB at most, where their peaks sum to 700.
     */
    add_attempt(db, 1, 1, "ok", -1, -1);
    add_proc(db, 1, 1, 101, 0, 4, 0);
    add_sample(db, 1, 0.5, 100 * MIB, "tick");
    add_sample(db, 1, 1.5, 300 * MIB, "tick");
    add_sample(db, 1, 2.5, 100 * MIB, "tick");
    add_sample(db, 1, 4.0, 50 * MIB, "end");
    add_attempt(db, 2, 2, "ok", -1, -1);
    add_proc(db, 2, 2, 102, 1, 4.5, 0);
    add_sample(db, 2, 1.0, 200 * MIB, "tick");
    add_sample(db, 2, 3.0, 400 * MIB, "tick");
    add_sample(db, 2, 4.5, 10 * MIB, "end");
    /* Seq 3 was killed at 600 MiB alone, and ran again to 250 MiB. */
    add_attempt(db, 3, 3, "oom", 1, 1);
    add_proc(db, 3, 3, 103, 5, -1, 0);
    add_sample(db, 3, 5.5, 600 * MIB, "tick");
    add_attempt(db, 4, 3, "ok", 2, -1);
    add_proc(db, 4, 4, 104, 7, 8, 0);
    add_sample(db, 4, 7.5, 250 * MIB, "tick");
    add_sample(db, 4, 8.0, 200 * MIB, "end");

    add_admission(db, 1, 0.0, "first", -1, 0, 0, 8000, 0);
    add_admission(db, 2, 1.0, "fit", 350, 1, 320, 7700, 0);
    add_admission(db, 3, 5.0, "fit", 500, 0, 0, 7900, 1500);
    add_admission(db, 4, 7.0, "retry", 700, 0, 0, 7900, 500);
    /* A row of no run read describes none of these; an odd value is ignored, counted. */
    add_admission(db, 99, 9.0, "fit", 5000, 0, 0, 7900, 0);
    exec_sql(db, "UPDATE admissions SET available_kb = -5 WHERE run_id = 4");
    sqlite3_close(db);

    read_db(&d);
    assert_int_equal(d.n_runs, 3);
    assert_int_equal(d.n_superseded, 1);
    assert_int_equal(d.n_admissions, 4);
    assert_int_equal(d.info.started_ns, 100);
    assert_true(d.sched.jobs_auto);
    assert_int_equal(d.sched.jobs, 2);
    assert_int_equal(d.sched.budget_kb, 1000 * MIB);
    assert_int_equal(d.sched.stagger_ms, -1);
    assert_string_equal(d.sched.order, "size");
    assert_int_equal(d.sched.retry_oom, 1);
    assert_true(d.have_measured_total);
    assert_int_equal(d.measured_total_kb, 600 * MIB);
    assert_int_equal(d.measured_total_at_ns, 5500000000LL);
    assert_int_equal(d.report.bad[MS_BAD_ADMISSION_SIZE], 1);
    adm = ms_sweep_admission(&d, &d.runs[2]);
    assert_non_null(adm);
    assert_string_equal(adm->rule, "retry");
    assert_false(adm->have_available);
    assert_true(adm->have_budget);
    adm = ms_sweep_admission(&d, &d.superseded[0]);
    assert_non_null(adm);
    assert_int_equal(adm->predicted_kb, 500 * MIB);

    ms_advise_opts_init(&o);
    assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
    assert_true(a.have_schedule);
    text = advise_text(&a, 0);
    block = strstr(text, "Schedule: -j auto (at most 2), --mem-budget 1000 MiB, --stagger auto,"
                         " --order size, --retry-oom 1\n"
                         "Admissions: 4\n"
                         "Admission_Budget_MB: 1000.0\n"
                         "Admission_HighestPredicted_MB: 700.0\n"
                         "Admission_HighestPredicted_PctOfBudget: 70.0\n"
                         "Admission_HighestMeasured_MB: 600.0\n"
                         "Admission_HighestMeasured_PctOfBudget: 60.0\n"
                         "Admission_Rules: fit 2, first 1, retry 1\n"
                         "Admission_Waited_s: 2.0\n"
                         "Admission_PeakVsPredicted_Runs: 2\n"
                         "Admission_PeakVsPredicted_MedianPct: 75.0\n"
                         "Admission_PeakAbovePredicted_Runs: 1\n");
    if (block == NULL)
        fail_msg("no schedule block in:\n%s", text);
    /* After the machine, before the periodic-miss block. */
    miss = strstr(text, "PeriodicMissOver5Pct_Runs:");
    assert_non_null(miss);
    assert_true(block < miss);
    assert_true(strstr(text, "Usable_MB: ") < block);
    free(text);
    text = advise_text(&a, 1);
    assert_non_null(strstr(text, "\"Admission_Rules\":{\"fit\":2,\"first\":1,\"retry\":1},"));
    assert_non_null(strstr(text, "\"Admission_HighestMeasured_MB\":600.0,"));
    free(text);
    ms_sweep_free(&d);
}

/* Scheduling values that cannot be what their columns say: ignored and counted. */
static void test_schedule_values_that_are_not(void **state)
{
    sqlite3 *db = create_db(dbpath);
    ms_sweep_data_t d;
    (void)state;

    /* run_order has TEXT affinity: a number is stored as text; a blob stays a blob. */
    exec_sql(db, "UPDATE sweeps SET mem_budget_kb = 'lots', jobs_auto = 1, stagger_ms = -5,"
                 " run_order = x'73697a65', retry_oom = 2");
    add_run(db, 1, "ok");
    add_proc(db, 1, 1, 101, 0, 1, 0);
    add_sample(db, 1, 0.5, 10 * MIB, "tick");
    add_admission(db, 1, 0.0, "idle", 20, 0, 0, 100, 0);
    exec_sql(db, "UPDATE admissions SET decided_ns = 'soon', running = -3, waited_ms = 2.5");
    sqlite3_close(db);

    read_db(&d);
    /* One count for the sweeps row, whatever of it is odd; the rest is read. */
    assert_int_equal(d.report.bad[MS_BAD_SWEEP_SCHEDULE], 1);
    assert_false(d.sched.have_budget);
    assert_false(d.sched.have_stagger);
    assert_string_equal(d.sched.order, "");
    assert_true(d.sched.jobs_auto);
    assert_int_equal(d.sched.retry_oom, 2);
    assert_int_equal(d.n_admissions, 1);
    assert_false(d.admissions[0].have_decided);
    assert_int_equal(d.admissions[0].running, -1);
    assert_int_equal(d.admissions[0].waited_ms, 0);
    assert_int_equal(d.report.bad[MS_BAD_ADMISSION_TIME], 1);
    assert_int_equal(d.report.bad[MS_BAD_ADMISSION_COUNT], 2);
    ms_sweep_free(&d);
}

/*
 * A database of schema 8, without the columns and table of schema 9, reads as the same
 * data with them NULL and empty: the same advisory, text and JSON, and no line of
 * schema 9's.
 */
static void test_schema_v8_unchanged(void **state)
{
    char *text[2][2];
    (void)state;

    for (int v = 0; v < 2; v++) {
        sqlite3 *db = create_db(dbpath);
        ms_sweep_data_t d;
        ms_advise_opts_t o;
        ms_advisory_t a;
        if (v == 1)
            exec_sql(db, "ALTER TABLE runs DROP COLUMN attempt;"
                         "ALTER TABLE runs DROP COLUMN superseded;"
                         "ALTER TABLE sweeps DROP COLUMN mem_budget_kb;"
                         "ALTER TABLE sweeps DROP COLUMN jobs_auto;"
                         "ALTER TABLE sweeps DROP COLUMN stagger_ms;"
                         "ALTER TABLE sweeps DROP COLUMN run_order;"
                         "ALTER TABLE sweeps DROP COLUMN retry_oom;"
                         "DROP TABLE admissions; PRAGMA user_version = 8;");
        exec_sql(db, "UPDATE sweeps SET finished_ns = 100000000000, origin = 'launcher'");
        add_run(db, 1, "ok");
        add_proc(db, 1, 1, 101, 0, 2, 0);
        add_sample(db, 1, 1.0, 100 * MIB, "tick");
        add_sample(db, 1, 2.0, 90 * MIB, "end");
        add_run(db, 2, "oom");
        add_proc(db, 2, 2, 102, 0, -1, 0);
        add_sample(db, 2, 1.0, 300 * MIB, "tick");
        sqlite3_close(db);
        read_db(&d);
        assert_int_equal(d.n_runs, 2);
        assert_int_equal(d.n_superseded, 0);
        assert_int_equal(d.n_admissions, 0);
        ms_advise_opts_init(&o);
        assert_int_equal(ms_sweep_advise(&d, &o, &a), 0);
        assert_false(a.have_schedule);
        text[v][0] = advise_text(&a, 0);
        text[v][1] = advise_text(&a, 1);
        ms_sweep_free(&d);
        for (int j = 0; j < 2; j++) {
            assert_null(strstr(text[v][j], "Retried"));
            assert_null(strstr(text[v][j], "Schedule"));
            assert_null(strstr(text[v][j], "Admission"));
        }
        assert_non_null(strstr(text[v][0], "RunsTotal: 2\n"));
    }
    assert_string_equal(text[0][0], text[1][0]);
    assert_string_equal(text[0][1], text[1][1]);
    for (int v = 0; v < 2; v++)
        for (int j = 0; j < 2; j++)
            free(text[v][j]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_reduction),
        cmocka_unit_test(test_pid_reuse_and_teardown),
        cmocka_unit_test(test_spike_seen_only_by_alloc_samples),
        cmocka_unit_test(test_overlapping_processes_views),
        cmocka_unit_test(test_held_runs_match_reread),
        cmocka_unit_test(test_stack_selection_kinds_tracking),
        cmocka_unit_test(test_schema_v1_database),
        cmocka_unit_test(test_advise_peak_summary),
        cmocka_unit_test(test_refuses_foreign_databases),
        cmocka_unit_test(test_opens_sweep_directory),
        cmocka_unit_test(test_bad_samples_are_skipped),
        cmocka_unit_test(test_bad_values_read_as_absent),
        cmocka_unit_test(test_extreme_values_are_exact),
        cmocka_unit_test(test_out_of_order_and_duplicates),
        cmocka_unit_test(test_orphans_and_skipped_parents),
        cmocka_unit_test(test_sweeps_rows),
        cmocka_unit_test(test_abnormal_ends),
        cmocka_unit_test(test_main_process_end),
        cmocka_unit_test(test_hwm_bound_over_time),
        cmocka_unit_test(test_schema_v3_columns),
        cmocka_unit_test(test_machine_recorded),
        cmocka_unit_test(test_machine_values_that_are_not),
        cmocka_unit_test(test_schema_v2_database),
        cmocka_unit_test(test_unknown_status),
        cmocka_unit_test(test_run_counts_and_wait4),
        cmocka_unit_test(test_missing_tables_and_columns),
        cmocka_unit_test(test_damaged_files),
        cmocka_unit_test(test_superseded_attempts),
        cmocka_unit_test(test_admissions_summary),
        cmocka_unit_test(test_schedule_values_that_are_not),
        cmocka_unit_test(test_schema_v8_unchanged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
