/*
 * Writes a synthetic sweep database for the analyzer benchmark: RUNS runs of SAMPLES
 * samples each. Every tenth run is a wrapper shell with a worker child alive beside it,
 * so the benchmark exercises the time-ordered merge as well as the single-process path.
 *
 * Usage: gen_sweepdb PATH RUNS SAMPLES_PER_RUN
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "memsweep/schema.h"

static int exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "gen_sweepdb: %s\n", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* A deterministic pseudo-random sequence, so every generated database is identical. */
static unsigned long long next_rand(unsigned long long *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

int main(int argc, char **argv)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *ins_run = NULL, *ins_proc = NULL, *ins_sample = NULL;
    char sql[256];
    long runs, per_run;
    unsigned long long seed = 42;
    const long long t0 = 1700000000LL * 1000000000LL;
    const long long step = 500LL * 1000000LL;
    long long proc_id = 0;
    int rc = 1;

    if (argc != 4 || (runs = atol(argv[2])) <= 0 || (per_run = atol(argv[3])) < 2) {
        fprintf(stderr, "usage: gen_sweepdb PATH RUNS SAMPLES_PER_RUN (>= 2)\n");
        return 2;
    }
    unlink(argv[1]);
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
        fprintf(stderr, "gen_sweepdb: %s: %s\n", argv[1], sqlite3_errmsg(db));
        goto out;
    }
    snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d;",
             MS_APPLICATION_ID, MS_SCHEMA_VERSION);
    if (exec_sql(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;") ||
        exec_sql(db, "BEGIN") || exec_sql(db, MS_SCHEMA_SQL) || exec_sql(db, sql) ||
        exec_sql(db, "INSERT INTO sweeps(sweep_id, started_ns, hostname, mem_total_kb,"
                     " reserve_mb, safety_factor, interval_ms, jobs, origin)"
                     " VALUES (1, 0, 'bench', 24594048, 1024, 0.85, 500, 2, 'launcher')"))
        goto out;
    if (sqlite3_prepare_v2(db, "INSERT INTO runs(run_id, sweep_id, seq, label, command,"
                               " started_ns, finished_ns, exit_code, status)"
                               " VALUES (?1, 1, ?1, 'gen', 'gen', ?2, ?3, 0, 'ok')",
                           -1, &ins_run, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO processes(proc_id, run_id, pid, ppid, exe,"
                               " started_ns, ended_ns, hwm_kb, end_rss_kb)"
                               " VALUES (?, ?, ?, 1, '/bin/gen', ?, ?, ?, ?)",
                           -1, &ins_proc, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO samples(proc_id, t_ns, rss_kb, hwm_kb, kind)"
                           " VALUES (?, ?, ?, ?, ?)",
                           -1, &ins_sample, NULL) != SQLITE_OK) {
        fprintf(stderr, "gen_sweepdb: %s\n", sqlite3_errmsg(db));
        goto out;
    }
    for (long r = 1; r <= runs; r++) {
        const long long start = t0 + (long long)r * per_run * step;
        const int wrapped = (r % 10) == 0;
        const int nproc = wrapped ? 2 : 1;
        sqlite3_bind_int64(ins_run, 1, r);
        sqlite3_bind_int64(ins_run, 2, start);
        sqlite3_bind_int64(ins_run, 3, start + per_run * step);
        if (sqlite3_step(ins_run) != SQLITE_DONE)
            goto step_error;
        sqlite3_reset(ins_run);
        for (int p = 0; p < nproc; p++) {
            /* The wrapper (p == 0 of a wrapped run) is small and takes a share of samples. */
            const long n = wrapped ? (p == 0 ? per_run / 2 : per_run - per_run / 2) : per_run;
            const long long base = wrapped && p == 0 ? 1500 : 100000 + (long long)(next_rand(&seed) % 400000);
            const long long pstart = start + (p == 0 ? 0 : step / 2);
            long long hwm = 0, rss = base;
            proc_id++;
            for (long i = 0; i < n; i++) {
                const char *kind = i == 0 ? "start" : (i == n - 1 ? "end" : "tick");
                rss = base + (long long)(next_rand(&seed) % 20000);
                if (rss > hwm)
                    hwm = rss;
                sqlite3_bind_int64(ins_sample, 1, proc_id);
                sqlite3_bind_int64(ins_sample, 2, pstart + i * step);
                sqlite3_bind_int64(ins_sample, 3, rss);
                sqlite3_bind_int64(ins_sample, 4, hwm);
                sqlite3_bind_text(ins_sample, 5, kind, -1, SQLITE_STATIC);
                if (sqlite3_step(ins_sample) != SQLITE_DONE)
                    goto step_error;
                sqlite3_reset(ins_sample);
            }
            sqlite3_bind_int64(ins_proc, 1, proc_id);
            sqlite3_bind_int64(ins_proc, 2, r);
            sqlite3_bind_int64(ins_proc, 3, 1000 + proc_id);
            sqlite3_bind_int64(ins_proc, 4, pstart);
            sqlite3_bind_int64(ins_proc, 5, pstart + (n - 1) * step);
            sqlite3_bind_int64(ins_proc, 6, hwm);
            sqlite3_bind_int64(ins_proc, 7, rss);
            if (sqlite3_step(ins_proc) != SQLITE_DONE)
                goto step_error;
            sqlite3_reset(ins_proc);
        }
    }
    if (exec_sql(db, "COMMIT") || exec_sql(db, "PRAGMA wal_checkpoint(TRUNCATE)"))
        goto out;
    rc = 0;
    goto out;
step_error:
    fprintf(stderr, "gen_sweepdb: %s\n", sqlite3_errmsg(db));
out:
    sqlite3_finalize(ins_run);
    sqlite3_finalize(ins_proc);
    sqlite3_finalize(ins_sample);
    sqlite3_close(db);
    return rc;
}
