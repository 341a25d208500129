/*
 * Unit tests for analyzer/sweepread.c on databases built here: run reduction (single
 * process, exec chain, wrapper shell, overlapping children, SIGKILLed process), the peak
 * views of `memsweep peaks` (periodic, all-samples, VmHWM; kinds, drops, tracking,
 * stacks), schema version 1 databases, and the checks that refuse databases that are
 * not memsweep's.
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
    sqlite3_close(db);

    read_db(&d);
    r = run_by_id(&d, 1);
    assert_int_equal(r->peak_kb, 70 * MIB);
    assert_int_equal(r->end_kb, 70 * MIB);
    r = run_by_id(&d, 2);
    assert_int_equal(r->end_kb, 200 * MIB);
    assert_int_equal(r->peak_kb, 200 * MIB);
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
    assert_int_equal(ms_run_peaks_true_kb(&r->peaks), 360 * MIB);
    /* (356 - 100) / 356 and (360 - 100) / 360 */
    assert_float_equal(ms_peak_miss_pct(r->peaks.all_kb, r->peaks.periodic_kb),
                       256.0 * 100.0 / 356.0, 1e-12);
    assert_float_equal(ms_peak_miss_pct(ms_run_peaks_true_kb(&r->peaks), r->peaks.periodic_kb),
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
    assert_float_equal(ms_peak_miss_pct(ms_run_peaks_true_kb(&r->peaks), r->peaks.periodic_kb),
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
        assert_int_equal(ms_sweep_texts_open(rdb, &texts, err, sizeof err), 0);
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
        assert_int_equal(ms_sweep_texts_open(rdb, &texts, err, sizeof err), 0);
        assert_int_equal(ms_sweep_stack_frames(&texts, 1, &text), 0);
        assert_null(text);
        ms_sweep_texts_close(&texts);
        sqlite3_close(rdb);
    }
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_reduction),
        cmocka_unit_test(test_pid_reuse_and_teardown),
        cmocka_unit_test(test_spike_seen_only_by_alloc_samples),
        cmocka_unit_test(test_overlapping_processes_views),
        cmocka_unit_test(test_stack_selection_kinds_tracking),
        cmocka_unit_test(test_schema_v1_database),
        cmocka_unit_test(test_advise_peak_summary),
        cmocka_unit_test(test_refuses_foreign_databases),
        cmocka_unit_test(test_opens_sweep_directory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
