/* The launcher's side of the sweep database (see rundb.h). */
#include "rundb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "clock.h"
#include "errbuf.h"
#include "memsweep/defaults.h"
#include "memsweep/schema.h"
#include "store.h"

/* The end of a run kept for the next commit of a batch (see ms_rundb_batch). */
typedef struct pending_end {
    long long run_id;
    ms_run_end_t end;              /* end.uninstrumented is owned here */
} pending_end_t;

struct ms_rundb {
    sqlite3 *db;
    char *path;
    long long sweep_id;
    sqlite3_stmt *insert_run;
    sqlite3_stmt *finish_run;
    sqlite3_stmt *has_process;
    sqlite3_stmt *max_rss;
    long long seen_rowid;          /* samples up to this rowid are folded into max_kb */
    unsigned long long max_kb;
    int scratch;                   /* a shard built in a private file: no syncs */
    int batching;                  /* see ms_rundb_batch */
    int in_txn;                    /* the batch's transaction is open */
    pending_end_t *pending;        /* ends of runs waiting for the batch's transaction */
    size_t n_pending;
    size_t cap_pending;
};

static int db_fail(ms_rundb_t *r, int rc, const char *what, char *err, size_t errlen)
{
    ms_set_err(err, errlen, "%s: %s: %s", r->path, what, sqlite3_errmsg(r->db));
    return ms_store_errno(rc) != 0 ? ms_store_errno(rc) : -EIO;
}

static int exec_sql(ms_rundb_t *r, const char *sql, const char *what, char *err,
                    size_t errlen)
{
    const int rc = sqlite3_exec(r->db, sql, NULL, NULL, NULL);

    return rc == SQLITE_OK ? 0 : db_fail(r, rc, what, err, errlen);
}

static int prepare(ms_rundb_t *r, const char *sql, sqlite3_stmt **st, char *err,
                   size_t errlen)
{
    const int rc = sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);

    return rc == SQLITE_OK ? 0 : db_fail(r, rc, "cannot prepare a statement", err, errlen);
}

/* Switches to WAL, which lets the shims write while the launcher and readers work. */
static int set_wal(ms_rundb_t *r, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(r->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    const unsigned char *mode;

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = db_fail(r, rc, "cannot set the journal mode", err, errlen);
        sqlite3_finalize(st);
        return rc;
    }
    mode = sqlite3_column_text(st, 0);
    if (mode == NULL || strcmp((const char *)mode, "wal") != 0) {
        /* Without shared memory (some network filesystems) the shims contend harder. */
        fprintf(stderr,
                "memsweep: warning: %s: WAL journal mode is unavailable here "
                "(journal mode %s); keep the output directory on a local filesystem\n",
                r->path, mode != NULL ? (const char *)mode : "unknown");
    }
    sqlite3_finalize(st);
    return 0;
}

static int insert_sweep(ms_rundb_t *r, const ms_sweep_row_t *row, char *err, size_t errlen)
{
    static const char sql[] =
        "INSERT INTO sweeps(started_ns, hostname, mem_total_kb, reserve_mb, safety_factor,"
        " interval_ms, jobs, argv, planned_runs, origin, mem_source, host_mem_total_kb, cpus,"
        " spool_dir)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, coalesce(?14, '" MS_ORIGIN_LAUNCHER "'), ?10,"
        " ?11, ?12, ?13)";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, row->started_ns);
        if (row->hostname != NULL)
            sqlite3_bind_text(st, 2, row->hostname, -1, SQLITE_TRANSIENT);
        if (row->have_mem_total)
            sqlite3_bind_int64(st, 3, (sqlite3_int64)row->mem_total_kb);
        sqlite3_bind_int64(st, 4, row->reserve_mb);
        sqlite3_bind_double(st, 5, row->safety_factor);
        sqlite3_bind_int64(st, 6, row->interval_ms);
        sqlite3_bind_int64(st, 7, row->jobs);
        sqlite3_bind_text(st, 8, row->argv, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 9, row->planned_runs);
        if (row->mem_source != NULL)
            sqlite3_bind_text(st, 10, row->mem_source, -1, SQLITE_TRANSIENT);
        if (row->have_host_mem_total)
            sqlite3_bind_int64(st, 11, (sqlite3_int64)row->host_mem_total_kb);
        if (row->cpus > 0)
            sqlite3_bind_int64(st, 12, row->cpus);
        if (row->spool_dir != NULL)
            sqlite3_bind_text(st, 13, row->spool_dir, -1, SQLITE_TRANSIENT);
        if (row->origin != NULL)
            sqlite3_bind_text(st, 14, row->origin, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        rc = db_fail(r, rc, "cannot record the sweep", err, errlen);
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_finalize(st);
    r->sweep_id = sqlite3_last_insert_rowid(r->db);
    return 0;
}

/* Opens r->db on file for writing (store.h), creating the file and schema when asked. */
static int open_db(ms_rundb_t *r, const char *file, int flags, char *err, size_t errlen)
{
    int rc = ms_store_open_write(file, flags, &r->db, err, errlen);

    /*
     * A shard is built in a private file that is flushed to disk whole when it is
     * published: a crash before that leaves nothing anyone reads, so no commit waits for
     * the disk.
     */
    if (rc == 0 && r->scratch)
        rc = exec_sql(r, "PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY",
                      "cannot set the journal mode", err, errlen);
    return rc;
}

/*
 * Builds the whole database, sweeps row included, in the file tmp. Closing the last
 * connection folds the WAL back into the file and removes it, so the file is complete by
 * itself; the journal mode stays WAL, which is recorded in the file.
 */
static int build(ms_rundb_t *r, const char *tmp, const ms_sweep_row_t *row, char *err,
                 size_t errlen)
{
    int rc;

    rc = open_db(r, tmp, MS_STORE_CREATE, err, errlen);
    if (rc == 0 && !row->rollback_journal)
        rc = set_wal(r, err, errlen);
    if (rc == 0)
        rc = insert_sweep(r, row, err, errlen);
    if (rc == 0 && sqlite3_close(r->db) != SQLITE_OK)
        rc = db_fail(r, SQLITE_ERROR, "cannot close the new database", err, errlen);
    else if (rc == 0)
        r->db = NULL;
    return rc;
}

int ms_rundb_create(const char *path, const ms_sweep_row_t *row, ms_rundb_t **out,
                    char *err, size_t errlen)
{
    ms_rundb_t *r = calloc(1, sizeof *r);
    char *tmp = NULL;
    int rc;

    *out = NULL;
    if (r == NULL || (r->path = strdup(path)) == NULL || asprintf(&tmp, "%s.new", path) < 0) {
        if (r != NULL)
            free(r->path);
        free(r);
        ms_set_err(err, errlen, "%s: %s", path, strerror(ENOMEM));
        return -ENOMEM;
    }
    r->scratch = row->rollback_journal;
    rc = build(r, tmp, row, err, errlen);
    if (rc != 0)
        goto fail;
    if (rename(tmp, path) != 0) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", path, strerror(-rc));
        goto fail;
    }
    rc = open_db(r, path, 0, err, errlen);
    if (rc == 0)
        rc = prepare(r,
                     "INSERT INTO runs(sweep_id, seq, label, command, started_ns, status)"
                     " VALUES(?1, ?2, ?3, ?4, ?5, '" MS_STATUS_RUNNING "')",
                     &r->insert_run, err, errlen);
    if (rc == 0)
        rc = prepare(r,
                     "UPDATE runs SET finished_ns = ?2, exit_code = ?3, term_signal = ?4,"
                     " status = ?5, uninstrumented = ?6, maxrss_kb = ?7,"
                     " maxrss_floor_kb = ?8, utime_us = ?9, stime_us = ?10 WHERE run_id = ?1",
                     &r->finish_run, err, errlen);
    if (rc == 0)
        rc = prepare(r, "SELECT EXISTS(SELECT 1 FROM processes WHERE run_id = ?1)",
                     &r->has_process, err, errlen);
    if (rc == 0)
        rc = prepare(r, "SELECT MAX(rss_kb), MAX(rowid) FROM samples WHERE rowid > ?1",
                     &r->max_rss, err, errlen);
    if (rc != 0)
        goto fail;
    free(tmp);
    *out = r;
    return 0;

fail:
    ms_rundb_close(r);
    /* Whatever of the temporary file exists belongs to no sweep. */
    unlink(tmp);
    free(tmp);
    return rc;
}

void ms_rundb_batch(ms_rundb_t *r)
{
    r->batching = 1;
}

/* Runs the UPDATE of a run's end. */
static int write_end(ms_rundb_t *r, long long run_id, const ms_run_end_t *end, char *err,
                     size_t errlen)
{
    sqlite3_stmt *st = r->finish_run;
    int rc;

    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, end->finished_ns);
    if (end->have_exit_code)
        sqlite3_bind_int(st, 3, end->exit_code);
    if (end->have_term_signal)
        sqlite3_bind_int(st, 4, end->term_signal);
    sqlite3_bind_text(st, 5, end->status, -1, SQLITE_STATIC);
    if (end->uninstrumented != NULL)
        sqlite3_bind_text(st, 6, end->uninstrumented, -1, SQLITE_STATIC);
    if (end->have_usage) {
        sqlite3_bind_int64(st, 7, (sqlite3_int64)end->maxrss_kb);
        sqlite3_bind_int64(st, 9, end->utime_us);
        sqlite3_bind_int64(st, 10, end->stime_us);
    }
    if (end->have_floor)
        sqlite3_bind_int64(st, 8, (sqlite3_int64)end->floor_kb);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_fail(r, rc, "cannot record the end of a run", err, errlen);
    return 0;
}

static void drop_pending(ms_rundb_t *r)
{
    for (size_t i = 0; i < r->n_pending; i++)
        free((char *)r->pending[i].end.uninstrumented);
    r->n_pending = 0;
}

/*
 * Opens the batch's transaction, if it is not open, and writes the ends waiting for it.
 * The write lock is taken only here, just before the writes, so that it is held briefly.
 */
static int enter_batch(ms_rundb_t *r, char *err, size_t errlen)
{
    int rc = 0;

    if (!r->in_txn) {
        rc = exec_sql(r, "BEGIN IMMEDIATE", "cannot start a transaction", err, errlen);
        if (rc != 0)
            return rc;
        r->in_txn = 1;
    }
    for (size_t i = 0; rc == 0 && i < r->n_pending; i++)
        rc = write_end(r, r->pending[i].run_id, &r->pending[i].end, err, errlen);
    drop_pending(r);
    return rc;
}

int ms_rundb_flush(ms_rundb_t *r, char *err, size_t errlen)
{
    int rc = 0;

    if (r->n_pending > 0)
        rc = enter_batch(r, err, errlen);
    if (!r->in_txn)
        return rc;
    r->in_txn = 0;
    if (rc == 0)
        rc = exec_sql(r, "COMMIT", "cannot record runs", err, errlen);
    if (rc != 0 && !sqlite3_get_autocommit(r->db))
        (void)sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int ms_rundb_start_run(ms_rundb_t *r, size_t seq, const char *label, const char *command,
                       int64_t started_ns, long long *run_id, char *err, size_t errlen)
{
    sqlite3_stmt *st = r->insert_run;
    int rc;

    if (r->batching) {
        rc = enter_batch(r, err, errlen);
        if (rc != 0)
            return rc;
    }
    sqlite3_bind_int64(st, 1, r->sweep_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
    sqlite3_bind_text(st, 3, label, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, command, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, started_ns);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_fail(r, rc, "cannot record a run", err, errlen);
    *run_id = sqlite3_last_insert_rowid(r->db);
    return 0;
}

int ms_rundb_set_schedule(ms_rundb_t *r, const ms_schedule_row_t *s, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(r->db,
                                "UPDATE sweeps SET mem_budget_kb = ?1, jobs_auto = ?2,"
                                " stagger_ms = ?3, run_order = ?4, retry_oom = ?5"
                                " WHERE sweep_id = ?6",
                                -1, &st, NULL);

    if (rc == SQLITE_OK) {
        if (s->mem_budget_kb > 0)
            sqlite3_bind_int64(st, 1, (sqlite3_int64)s->mem_budget_kb);
        if (s->jobs_auto)
            sqlite3_bind_int(st, 2, 1);
        if (s->stagger_ms != 0)
            sqlite3_bind_int64(st, 3, s->stagger_ms);
        if (s->run_order != NULL)
            sqlite3_bind_text(st, 4, s->run_order, -1, SQLITE_STATIC);
        if (s->retry_oom > 0)
            sqlite3_bind_int64(st, 5, s->retry_oom);
        sqlite3_bind_int64(st, 6, r->sweep_id);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail(r, rc, "cannot record the schedule", err, errlen);
}

int ms_rundb_admit_run(ms_rundb_t *r, long long run_id, const ms_admission_t *a, long long attempt,
                       long long superseded_run_id, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (r->batching) {
        rc = enter_batch(r, err, errlen);
        if (rc != 0)
            return rc;
    }
    rc = sqlite3_prepare_v2(r->db,
                            "INSERT INTO admissions(run_id, decided_ns, rule, predicted_kb, basis,"
                            " running, running_predicted_kb, running_rss_kb, available_kb,"
                            " available_source, budget_kb, waited_ms)"
                            " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int64(st, 2, a->decided_ns);
        sqlite3_bind_text(st, 3, a->rule, -1, SQLITE_STATIC);
        if (a->have_prediction) {
            sqlite3_bind_int64(st, 4, (sqlite3_int64)a->predicted_kb);
            sqlite3_bind_text(st, 5, a->basis, -1, SQLITE_STATIC);
        }
        sqlite3_bind_int64(st, 6, a->running);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)a->running_predicted_kb);
        sqlite3_bind_int64(st, 8, (sqlite3_int64)a->running_rss_kb);
        if (a->have_available) {
            sqlite3_bind_int64(st, 9, (sqlite3_int64)a->available_kb);
            sqlite3_bind_text(st, 10, a->available_source, -1, SQLITE_STATIC);
        }
        if (a->budget_kb > 0)
            sqlite3_bind_int64(st, 11, (sqlite3_int64)a->budget_kb);
        sqlite3_bind_int64(st, 12, a->waited_ms);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE)
        return db_fail(r, rc, "cannot record an admission", err, errlen);
    if (attempt <= 1)
        return 0;
    rc = sqlite3_prepare_v2(r->db,
                            "UPDATE runs SET"
                            " attempt = CASE run_id WHEN ?1 THEN ?2 ELSE coalesce(attempt, 1) END,"
                            " superseded = CASE run_id WHEN ?3 THEN 1 ELSE superseded END"
                            " WHERE run_id IN (?1, ?3)",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int64(st, 2, attempt);
        sqlite3_bind_int64(st, 3, superseded_run_id);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail(r, rc, "cannot record a retry", err, errlen);
}

int ms_rundb_run_has_process(ms_rundb_t *r, long long run_id)
{
    sqlite3_stmt *st = r->has_process;
    int rc;
    int has = 0;

    sqlite3_bind_int64(st, 1, run_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        has = sqlite3_column_int(st, 0) != 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? has : ms_store_errno(rc);
}

int ms_rundb_finish_run(ms_rundb_t *r, long long run_id, const ms_run_end_t *end,
                        char *err, size_t errlen)
{
    pending_end_t *p;

    if (!r->batching)
        return write_end(r, run_id, end, err, errlen);
    if (r->n_pending == r->cap_pending) {
        const size_t ncap = r->cap_pending != 0 ? r->cap_pending * 2 : 8;
        pending_end_t *np = realloc(r->pending, ncap * sizeof *np);
        if (np == NULL)
            goto nomem;
        r->pending = np;
        r->cap_pending = ncap;
    }
    p = &r->pending[r->n_pending];
    p->run_id = run_id;
    p->end = *end;
    if (end->uninstrumented != NULL) {
        p->end.uninstrumented = strdup(end->uninstrumented);
        if (p->end.uninstrumented == NULL)
            goto nomem;
    }
    r->n_pending++;
    return 0;

nomem:
    ms_set_err(err, errlen, "%s: %s", r->path, strerror(ENOMEM));
    return -ENOMEM;
}

void ms_unmeasured_free(ms_unmeasured_t *u, size_t n)
{
    for (size_t i = 0; u != NULL && i < n; i++)
        free(u[i].reason);
    free(u);
}

int ms_rundb_unmeasured(ms_rundb_t *r, ms_unmeasured_t **out, size_t *n, char *err,
                        size_t errlen)
{
    static const char unmark[] =
        "UPDATE runs SET uninstrumented = NULL WHERE sweep_id = ?1"
        " AND uninstrumented IS NOT NULL"
        " AND EXISTS(SELECT 1 FROM processes p WHERE p.run_id = runs.run_id)";
    static const char list[] =
        "SELECT uninstrumented, count(*) FROM runs WHERE sweep_id = ?1"
        " AND uninstrumented IS NOT NULL AND coalesce(superseded, 0) = 0"
        " GROUP BY uninstrumented ORDER BY min(seq)";
    ms_unmeasured_t *u = NULL;
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    size_t k = 0;
    int rc;

    *out = NULL;
    *n = 0;
    rc = ms_rundb_flush(r, err, errlen);
    if (rc != 0)
        return rc;
    rc = sqlite3_prepare_v2(r->db, unmark, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, r->sweep_id);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE)
        return db_fail(r, rc, "cannot read the runs", err, errlen);
    rc = sqlite3_prepare_v2(r->db, list, -1, &st, NULL);
    if (rc == SQLITE_OK)
        sqlite3_bind_int64(st, 1, r->sweep_id);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(st, 0);
        if (k == cap) {
            const size_t ncap = cap != 0 ? cap * 2 : 4;
            ms_unmeasured_t *nu = realloc(u, ncap * sizeof *nu);
            if (nu == NULL)
                goto nomem;
            u = nu;
            cap = ncap;
        }
        u[k].reason = strdup(text != NULL ? (const char *)text : "");
        if (u[k].reason == NULL)
            goto nomem;
        u[k].runs = (size_t)sqlite3_column_int64(st, 1);
        k++;
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_DONE) {
        rc = db_fail(r, rc, "cannot read the runs", err, errlen);
        sqlite3_finalize(st);
        ms_unmeasured_free(u, k);
        return rc;
    }
    sqlite3_finalize(st);
    *out = u;
    *n = k;
    return 0;

nomem:
    sqlite3_finalize(st);
    ms_unmeasured_free(u, k);
    ms_set_err(err, errlen, "%s", strerror(ENOMEM));
    return -ENOMEM;
}

int ms_rundb_finish_sweep(ms_rundb_t *r, int64_t finished_ns, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = ms_rundb_flush(r, err, errlen);

    if (rc != 0)
        return rc;
    r->batching = 0;
    rc = sqlite3_prepare_v2(r->db, "UPDATE sweeps SET finished_ns = ?1 WHERE sweep_id = ?2",
                            -1, &st, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, finished_ns);
        sqlite3_bind_int64(st, 2, r->sweep_id);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        rc = db_fail(r, rc, "cannot record the end of the sweep", err, errlen);
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_finalize(st);
    /*
     * A finished sweep becomes one self-contained file, easy to copy to another machine and
     * readable without a -shm file. This needs the database to itself: while a straggling
     * worker still has it open the switch is simply skipped, without waiting.
     */
    (void)ms_store_self_contained(r->db);
    return 0;
}

int ms_rundb_max_rss(ms_rundb_t *r, unsigned long long *kb)
{
    sqlite3_stmt *st = r->max_rss;
    int rc;

    sqlite3_bind_int64(st, 1, r->seen_rowid);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 1) != SQLITE_NULL) {
        const sqlite3_int64 max = sqlite3_column_int64(st, 0);
        /*
         * Writers are serialized and rowids only grow, so no sample at or below the
         * largest rowid seen can still appear.
         */
        r->seen_rowid = sqlite3_column_int64(st, 1);
        if (max > 0 && (unsigned long long)max > r->max_kb)
            r->max_kb = (unsigned long long)max;
    }
    sqlite3_reset(st);
    *kb = r->max_kb;
    return rc == SQLITE_ROW ? 0 : ms_store_errno(rc);
}

void ms_rundb_close(ms_rundb_t *r)
{
    if (r == NULL)
        return;
    /* Writes still waiting in a batch are kept, as if each had been committed alone. */
    (void)ms_rundb_flush(r, NULL, 0);
    drop_pending(r);
    free(r->pending);
    sqlite3_finalize(r->insert_run);
    sqlite3_finalize(r->finish_run);
    sqlite3_finalize(r->has_process);
    sqlite3_finalize(r->max_rss);
    sqlite3_close(r->db);
    free(r->path);
    free(r);
}

int ms_rundb_set_identity(ms_rundb_t *r, long long run_id, const ms_run_identity_t *id,
                          char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(r->db,
                                "UPDATE runs SET uid = ?2, host = ?3, node_mem_kb = ?4,"
                                " node_mem_source = ?5, node_reserve_mb = ?6, node_cpus = ?7,"
                                " batch_job = ?8, recorder = ?9 WHERE run_id = ?1",
                                -1, &st, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_text(st, 2, id->uid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, id->host, -1, SQLITE_TRANSIENT);
        if (id->have_node_mem)
            sqlite3_bind_int64(st, 4, (sqlite3_int64)id->node_mem_kb);
        sqlite3_bind_text(st, 5, id->node_mem_source, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, id->node_reserve_mb);
        if (id->node_cpus > 0)
            sqlite3_bind_int64(st, 7, id->node_cpus);
        sqlite3_bind_text(st, 8, id->batch_job, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 9, id->recorder, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_DONE && id->pool != NULL) {
        rc = sqlite3_prepare_v2(r->db,
                                "INSERT INTO spool_pools(pool, run_id, host) VALUES(?1, ?2, ?3)",
                                -1, &st, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_text(st, 1, id->pool, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, run_id);
            sqlite3_bind_text(st, 3, id->host, -1, SQLITE_TRANSIENT);
            rc = sqlite3_step(st);
        }
        sqlite3_finalize(st);
    }
    return rc == SQLITE_DONE ? 0 : db_fail(r, rc, "cannot record the run", err, errlen);
}

struct sqlite3 *ms_rundb_conn(ms_rundb_t *r)
{
    return r->db;
}

int ms_rundb_set_batch_state(ms_rundb_t *r, long long run_id, const char *state, char *err,
                             size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(r->db, "UPDATE runs SET batch_state = ?2 WHERE run_id = ?1", -1,
                                &st, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_text(st, 2, state, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail(r, rc, "cannot record the run", err, errlen);
}
