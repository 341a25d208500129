/* The launcher's side of the sweep database (see rundb.h). */
#include "rundb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cli_util.h"
#include "memsweep/defaults.h"
#include "memsweep/schema.h"

struct ms_rundb {
    sqlite3 *db;
    char *path;
    long long sweep_id;
    sqlite3_stmt *insert_run;
    sqlite3_stmt *finish_run;
    sqlite3_stmt *max_rss;
    long long seen_rowid;          /* samples up to this rowid are folded into max_kb */
    unsigned long long max_kb;
};

/* Maps an SQLite result code to an errno-style code for callers that only branch on it. */
static int sqlite_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    default:
        return -EIO;
    }
}

static int db_fail(ms_rundb_t *r, int rc, const char *what, char *err, size_t errlen)
{
    ms_set_err(err, errlen, "%s: %s: %s", r->path, what, sqlite3_errmsg(r->db));
    return sqlite_errno(rc);
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
        " interval_ms, jobs, argv, planned_runs, origin)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, '" MS_ORIGIN_LAUNCHER "')";
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

int ms_rundb_create(const char *path, const ms_sweep_row_t *row, ms_rundb_t **out,
                    char *err, size_t errlen)
{
    ms_rundb_t *r = calloc(1, sizeof *r);
    char ids[128];
    int rc;

    *out = NULL;
    if (r == NULL || (r->path = strdup(path)) == NULL) {
        free(r);
        ms_set_err(err, errlen, "%s: %s", path, strerror(ENOMEM));
        return -ENOMEM;
    }
    rc = sqlite3_open_v2(path, &r->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                         NULL);
    if (rc != SQLITE_OK) {
        if (r->db == NULL) {
            ms_set_err(err, errlen, "%s: %s", path, sqlite3_errstr(rc));
            rc = sqlite_errno(rc);
        } else {
            rc = db_fail(r, rc, "cannot create the database", err, errlen);
        }
        goto fail;
    }
    sqlite3_extended_result_codes(r->db, 1);
    rc = sqlite3_busy_timeout(r->db, MS_BUSY_TIMEOUT_MS);
    if (rc != SQLITE_OK) {
        rc = db_fail(r, rc, "cannot set the busy timeout", err, errlen);
        goto fail;
    }
    rc = set_wal(r, err, errlen);
    if (rc != 0)
        goto fail;
    rc = exec_sql(r, "PRAGMA synchronous=NORMAL", "cannot set synchronous mode", err, errlen);
    if (rc != 0)
        goto fail;
    snprintf(ids, sizeof ids, "PRAGMA application_id=%ld;PRAGMA user_version=%ld;COMMIT;",
             (long)MS_APPLICATION_ID, (long)MS_SCHEMA_VERSION);
    rc = exec_sql(r, "BEGIN IMMEDIATE;" MS_SCHEMA_SQL, "cannot create the schema", err,
                  errlen);
    if (rc == 0)
        rc = exec_sql(r, ids, "cannot create the schema", err, errlen);
    if (rc != 0)
        goto fail;
    rc = insert_sweep(r, row, err, errlen);
    if (rc != 0)
        goto fail;
    rc = prepare(r,
                 "INSERT INTO runs(sweep_id, seq, label, command, started_ns, status)"
                 " VALUES(?1, ?2, ?3, ?4, ?5, '" MS_STATUS_RUNNING "')",
                 &r->insert_run, err, errlen);
    if (rc == 0)
        rc = prepare(r,
                     "UPDATE runs SET finished_ns = ?2, exit_code = ?3, term_signal = ?4,"
                     " status = ?5 WHERE run_id = ?1",
                     &r->finish_run, err, errlen);
    if (rc == 0)
        rc = prepare(r, "SELECT MAX(rss_kb), MAX(rowid) FROM samples WHERE rowid > ?1",
                     &r->max_rss, err, errlen);
    if (rc != 0)
        goto fail;
    *out = r;
    return 0;

fail:
    ms_rundb_close(r);
    return rc;
}

int ms_rundb_start_run(ms_rundb_t *r, size_t seq, const char *label, const char *command,
                       int64_t started_ns, long long *run_id, char *err, size_t errlen)
{
    sqlite3_stmt *st = r->insert_run;
    int rc;

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

int ms_rundb_finish_run(ms_rundb_t *r, long long run_id, const ms_run_end_t *end,
                        char *err, size_t errlen)
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
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_fail(r, rc, "cannot record the end of a run", err, errlen);
    return 0;
}

int ms_rundb_finish_sweep(ms_rundb_t *r, int64_t finished_ns, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(r->db, "UPDATE sweeps SET finished_ns = ?1 WHERE sweep_id = ?2",
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
    sqlite3_busy_timeout(r->db, 0);
    (void)sqlite3_exec(r->db, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
    sqlite3_busy_timeout(r->db, MS_BUSY_TIMEOUT_MS);
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
    return rc == SQLITE_ROW ? 0 : sqlite_errno(rc);
}

void ms_rundb_close(ms_rundb_t *r)
{
    if (r == NULL)
        return;
    sqlite3_finalize(r->insert_run);
    sqlite3_finalize(r->finish_run);
    sqlite3_finalize(r->max_rss);
    sqlite3_close(r->db);
    free(r->path);
    free(r);
}
