/*
 * Opening a sweep database and finding out what its schema holds: the file is resolved,
 * opened read-only and checked to be memsweep's (application_id, user_version); the
 * tables and columns the figures need are required, and the columns of later schema
 * versions are looked up, not assumed. Databases of schema version 1 have no allocation
 * columns and no stacks table, version 2 has no uninstrumented, unstored and note
 * columns, version 3 no mem_source, host_mem_total_kb and cpus; missing ones read as NULL.
 * Errors are told in one line: a damaged file as such, anything else in SQLite's words.
 */
#include "sweepread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"
#include "memsweep/defaults.h"
#include "memsweep/schema.h"
#include "spool_pending.h"
#include "store.h"
#include "sweepread_internal.h"

/* Says why opening or reading failed, in one line (store.h). */
void ms__sweep_db_error(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    ms_store_db_error(db, path, err, errlen);
}

int ms_sweep_open(const char *path, sqlite3 **out, char *err, size_t errlen)
{
    struct stat st;
    char *dbpath = NULL;
    int rc = 0;

    *out = NULL;
    if (stat(path, &st) != 0) {
        rc = -errno;
        /* A program measured alone whose spools were never collected has no file yet. */
        if (rc == -ENOENT)
            return ms_store_open_reader(path, out, err, errlen);
        ms_set_err(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        size_t n = strlen(path) + sizeof(MS_DB_FILE) + 2;
        dbpath = malloc(n);
        if (dbpath == NULL) {
            rc = -ENOMEM;
            ms_set_err(err, errlen, "%s: %s", path, strerror(ENOMEM));
            goto out;
        }
        snprintf(dbpath, n, "%s/%s", path, MS_DB_FILE);
        if (stat(dbpath, &st) != 0) {
            rc = -ENOENT;
            ms_set_err(err, errlen, "%s: no %s in this directory", path, MS_DB_FILE);
            goto out;
        }
    } else {
        dbpath = strdup(path);
        if (dbpath == NULL) {
            rc = -ENOMEM;
            ms_set_err(err, errlen, "%s: %s", path, strerror(ENOMEM));
            goto out;
        }
    }
    /* Read-only, with the records of pools not yet folded (spool_pending.h). */
    rc = ms_store_open_reader(dbpath, out, err, errlen);
out:
    free(dbpath);
    return rc;
}

/*
 * Sets *found to whether table is a stored table (not a view) with column; 0, or -EIO on
 * a database error.
 */
int ms__sweep_has_column(sqlite3 *db, const char *table, const char *column, int *found)
{
    sqlite3_stmt *st = NULL;
    int s;

    *found = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM sqlite_master m, pragma_table_info(m.name) c"
                           " WHERE m.type = 'table' AND m.name = ?1 COLLATE NOCASE"
                           " AND c.name = ?2 COLLATE NOCASE",
                           -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
    s = sqlite3_step(st);
    sqlite3_finalize(st);
    if (s == SQLITE_ROW)
        *found = 1;
    else if (s != SQLITE_DONE)
        return -EIO;
    return 0;
}

/*
 * The columns the reader needs since schema version 1: without any of them the figures
 * cannot be computed, so the database is refused with the first one missing named.
 */
static const struct {
    const char *table;
    const char *column;
} required_cols[] = {
    {"sweeps", "sweep_id"},     {"sweeps", "mem_total_kb"},   {"sweeps", "interval_ms"},
    {"runs", "run_id"},         {"runs", "sweep_id"},         {"runs", "seq"},
    {"runs", "label"},          {"runs", "status"},           {"processes", "proc_id"},
    {"processes", "run_id"},    {"processes", "pid"},         {"processes", "started_ns"},
    {"processes", "ended_ns"},  {"processes", "hwm_kb"},      {"samples", "proc_id"},
    {"samples", "t_ns"},        {"samples", "rss_kb"},        {"samples", "hwm_kb"},
    {"samples", "kind"},
};

/* Fails with a message naming the first missing table or required column. */
int ms__sweep_check_required(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    const char *table = NULL;
    int table_ok = 0;

    for (size_t i = 0; i < sizeof required_cols / sizeof required_cols[0]; i++) {
        int found = 0;
        if (table == NULL || strcmp(table, required_cols[i].table) != 0) {
            sqlite3_stmt *st = NULL;
            int s;
            table = required_cols[i].table;
            /* A view could compute rows without end; only stored tables are read. */
            if (sqlite3_prepare_v2(db,
                                   "SELECT 1 FROM sqlite_master"
                                   " WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
                                   -1, &st, NULL) != SQLITE_OK)
                return -EIO;
            sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
            s = sqlite3_step(st);
            sqlite3_finalize(st);
            if (s != SQLITE_ROW && s != SQLITE_DONE)
                return -EIO;
            table_ok = s == SQLITE_ROW;
            if (!table_ok) {
                ms_set_err(err, errlen, "%s: damaged memsweep database: no table %s", path,
                           table);
                return -EINVAL;
            }
        }
        if (ms__sweep_has_column(db, table, required_cols[i].column, &found) != 0)
            return -EIO;
        if (!found) {
            ms_set_err(err, errlen, "%s: damaged memsweep database: table %s has no column %s",
                       path, table, required_cols[i].column);
            return -EINVAL;
        }
    }
    return 0;
}

int ms__sweep_find_optional(sqlite3 *db, ms__optional_cols_t *c)
{
    if (ms__sweep_has_column(db, "processes", "alloc_tracking", &c->tracking) != 0 ||
        ms__sweep_has_column(db, "processes", "alloc_dropped", &c->dropped) != 0 ||
        ms__sweep_has_column(db, "processes", "alloc_dropped_rate", &c->dropped_rate) != 0 ||
        ms__sweep_has_column(db, "processes", "alloc_dropped_queue", &c->dropped_queue) != 0 ||
        ms__sweep_has_column(db, "samples", "stack_id", &c->stack_id) != 0 ||
        ms__sweep_has_column(db, "samples", "pss_kb", &c->pss) != 0 ||
        ms__sweep_has_column(db, "stacks", "frames", &c->stacks) != 0 ||
        ms__sweep_has_column(db, "runs", "uninstrumented", &c->uninstrumented) != 0 ||
        ms__sweep_has_column(db, "processes", "unstored", &c->unstored) != 0 ||
        ms__sweep_has_column(db, "processes", "note", &c->note) != 0 ||
        ms__sweep_has_column(db, "runs", "maxrss_kb", &c->maxrss) != 0 ||
        ms__sweep_has_column(db, "runs", "maxrss_floor_kb", &c->maxrss_floor) != 0 ||
        ms__sweep_has_column(db, "sweeps", "hostname", &c->hostname) != 0 ||
        ms__sweep_has_column(db, "sweeps", "reserve_mb", &c->reserve_mb) != 0 ||
        ms__sweep_has_column(db, "sweeps", "safety_factor", &c->safety_factor) != 0 ||
        ms__sweep_has_column(db, "sweeps", "mem_source", &c->mem_source) != 0 ||
        ms__sweep_has_column(db, "sweeps", "host_mem_total_kb", &c->host_mem_total) != 0 ||
        ms__sweep_has_column(db, "sweeps", "cpus", &c->cpus) != 0 ||
        ms__sweep_has_column(db, "runs", "command", &c->command) != 0 ||
        ms__sweep_has_column(db, "runs", "node_mem_kb", &c->node) != 0 ||
        ms__sweep_has_column(db, "runs", "attempt", &c->attempt) != 0 ||
        ms__sweep_has_column(db, "runs", "superseded", &c->superseded) != 0 ||
        ms__sweep_has_column(db, "sweeps", "started_ns", &c->started) != 0 ||
        ms__sweep_has_column(db, "admissions", "run_id", &c->admissions) != 0)
        return -EIO;
    {
        /* The scheduling options come together; a database missing one reads none. */
        static const char *const sched[] = {"mem_budget_kb", "jobs_auto", "stagger_ms",
                                            "run_order", "retry_oom", "jobs"};
        c->sched = 1;
        for (size_t i = 0; i < sizeof sched / sizeof sched[0] && c->sched; i++)
            if (ms__sweep_has_column(db, "sweeps", sched[i], &c->sched) != 0)
                return -EIO;
    }
    if (c->node) {
        int reserve = 0, cpus = 0;
        if (ms__sweep_has_column(db, "runs", "node_reserve_mb", &reserve) != 0 ||
            ms__sweep_has_column(db, "runs", "node_cpus", &cpus) != 0)
            return -EIO;
        c->node = reserve && cpus;
    }
    return 0;
}

/* Whether the database has any stack, so that the scan reads stack_id at all. */
int ms__sweep_any_stack(sqlite3 *db, int *found)
{
    sqlite3_stmt *st = NULL;
    int rc = -EIO;

    *found = 0;
    if (sqlite3_prepare_v2(db, "SELECT EXISTS (SELECT 1 FROM stacks)", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        *found = sqlite3_column_int(st, 0) != 0;
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

/* How messages name the database: as the caller does, else by SQLite's file name. */
const char *ms__sweep_db_name(sqlite3 *db, const char *name)
{
    const char *file;

    if (name != NULL)
        return name;
    file = sqlite3_db_filename(db, "main");
    return file != NULL && file[0] != '\0' ? file : "(in memory)";
}
