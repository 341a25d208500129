/* Opening, creating, checking and upgrading sweep databases (see store.h). */
#include "errbuf.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "memsweep/defaults.h"
#include "memsweep/schema.h"

int ms_store_errno(int sqlite_rc)
{
    switch (sqlite_rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return -EPROTO;
    default:
        return -EIO;
    }
}

/*
 * Sleeps between attempts to take a lock another connection holds, in microseconds; the
 * last one repeats.
 */
static const unsigned busy_delays_us[] = {50, 50, 100, 100, 200, 200, 500, 1000, 2000, 5000};

/* When the calling thread's current wait for a lock began (count 0 starts a wait). */
static _Thread_local int64_t busy_since_ns;

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int busy_wait(void *arg, int count)
{
    const size_t n = sizeof busy_delays_us / sizeof busy_delays_us[0];
    const int64_t now = mono_ns();
    const unsigned us = busy_delays_us[(size_t)count < n ? (size_t)count : n - 1];
    struct timespec ts = {0, (long)us * 1000};

    (void)arg;
    if (count == 0)
        busy_since_ns = now;
    if (now - busy_since_ns >= (int64_t)MS_BUSY_TIMEOUT_MS * 1000000)
        return 0;
    nanosleep(&ts, NULL);
    return 1;
}

void ms_store_busy_install(sqlite3 *db)
{
    sqlite3_busy_handler(db, busy_wait, NULL);
}

void ms_store_db_error(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    const int code = sqlite3_errcode(db) & 0xff;

    if (code == SQLITE_CORRUPT) {
        unsigned char hdr[100];
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        long long want = 0;
        if (fd >= 0) {
            if (fstat(fd, &st) == 0 && pread(fd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr &&
                memcmp(hdr, "SQLite format 3", 16) == 0 &&
                memcmp(hdr + 24, hdr + 92, 4) == 0) {
                /* The header's page count is valid when its change counter matches. */
                const unsigned page = hdr[16] << 8 | hdr[17];
                const long long size = page == 1 ? 65536 : page;
                const long long pages = (long long)hdr[28] << 24 | hdr[29] << 16 |
                                        hdr[30] << 8 | hdr[31];
                want = size * pages;
                if (want <= (long long)st.st_size)
                    want = 0;
            }
            close(fd);
        }
        if (want > 0)
            ms_set_err(err, errlen,
                          "%s: damaged database file (truncated: %lld of %lld bytes)", path,
                          (long long)st.st_size, want);
        else
            ms_set_err(err, errlen, "%s: damaged database file (%s)", path,
                          sqlite3_errmsg(db));
    } else if (code == SQLITE_NOTADB) {
        ms_set_err(err, errlen, "%s: not a memsweep database (not an SQLite database file)",
                      path);
    } else {
        ms_set_err(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
    }
}

/* Reads application_id and user_version in one statement. */
static int read_ids(sqlite3 *db, long long *app_id, long long *version)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT (SELECT application_id FROM pragma_application_id),"
                                " (SELECT user_version FROM pragma_user_version)",
                                -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *app_id = sqlite3_column_int64(st, 0);
        *version = sqlite3_column_int64(st, 1);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

int ms_store_check(sqlite3 *db, const char *path, long long *version, char *err,
                   size_t errlen)
{
    long long app_id = 0;

    *version = 0;
    if (read_ids(db, &app_id, version) != SQLITE_OK) {
        /* A file that is not a database, or a damaged one: not one memsweep can read. */
        ms_store_db_error(db, path, err, errlen);
        return -EINVAL;
    }
    if (app_id != MS_APPLICATION_ID) {
        ms_set_err(err, errlen, "%s: not a memsweep database", path);
        return -EINVAL;
    }
    if (*version < 1) {
        ms_set_err(err, errlen, "%s: not a complete memsweep database (schema version %lld)",
                      path, *version);
        return -EINVAL;
    }
    if (*version > MS_SCHEMA_VERSION) {
        ms_set_err(err, errlen,
                      "%s: schema version %lld is newer than this memsweep reads (%d); "
                      "upgrade memsweep",
                      path, *version, MS_SCHEMA_VERSION);
        return -EPROTONOSUPPORT;
    }
    return 0;
}

int ms_store_open_read(const char *path, sqlite3 **out, char *err, size_t errlen)
{
    struct stat st;
    sqlite3 *db = NULL;
    long long version;
    int rc;

    *out = NULL;
    if (stat(path, &st) != 0) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        ms_set_err(err, errlen, "%s: not a regular file", path);
        return -EINVAL;
    }
    if (st.st_size == 0) {
        ms_set_err(err, errlen, "%s: empty file, not a memsweep database", path);
        return -EINVAL;
    }
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        ms_set_err(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return -EIO;
    }
    ms_store_busy_install(db);
    rc = ms_store_check(db, path, &version, err, errlen);
    if (rc != 0) {
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

int ms_store_exec(sqlite3 *db, const char *path, const char *sql, const char *what, char *err,
                  size_t errlen)
{
    const int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

    if (rc == SQLITE_OK)
        return 0;
    ms_set_err(err, errlen, "%s: %s: %s", path, what, sqlite3_errmsg(db));
    return ms_store_errno(rc) != 0 ? ms_store_errno(rc) : -EIO;
}

int ms_store_has_column(sqlite3 *db, const char *table, const char *column, int *found)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1,
                                &st, NULL);

    *found = 0;
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *found = 1;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : ms_store_errno(rc);
}

/* The SQL that sets the two ids of a memsweep database of this version. */
static void ids_sql(char *buf, size_t len)
{
    snprintf(buf, len, "PRAGMA application_id=%ld;PRAGMA user_version=%ld;",
             (long)MS_APPLICATION_ID, (long)MS_SCHEMA_VERSION);
}

int ms_store_create_schema(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    char ids[128];
    int rc;

    ids_sql(ids, sizeof ids);
    rc = ms_store_exec(db, path, "BEGIN IMMEDIATE", "cannot create the schema", err, errlen);
    if (rc != 0)
        return rc;
    rc = ms_store_exec(db, path, MS_SCHEMA_SQL, "cannot create the schema", err, errlen);
    if (rc == 0)
        rc = ms_store_exec(db, path, ids, "cannot create the schema", err, errlen);
    if (rc == 0)
        rc = ms_store_exec(db, path, "COMMIT", "cannot create the schema", err, errlen);
    if (rc != 0 && !sqlite3_get_autocommit(db))
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

long long ms_store_int(sqlite3 *db, const char *sql, long long fallback)
{
    sqlite3_stmt *st = NULL;
    long long v = fallback;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The CHECK of runs.status as this version writes it. */
#define STATUS_CHECK                                                                   \
    "CHECK(status IN ('ok','failed','killed','oom','timeout','interrupted','running',"  \
    "'cancelled','lost'))"

/* Rewrites the CHECK of runs.status to STATUS_CHECK when it names other statuses. */
static int widen_status_check(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    char *old = NULL, *new_sql = NULL;
    const char *at, *end;
    int rc = 0;

    if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_schema WHERE type = 'table' AND"
                               " name = 'runs'", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
        old = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (old == NULL)
        return 0;
    at = strstr(old, "CHECK(status IN");
    end = at != NULL ? strstr(at, "))") : NULL;
    if (end == NULL || ((size_t)(end + 2 - at) == strlen(STATUS_CHECK) &&
                        strncmp(at, STATUS_CHECK, strlen(STATUS_CHECK)) == 0)) {
        free(old);
        return 0;
    }
    if (asprintf(&new_sql, "%.*s%s%s", (int)(at - old), old, STATUS_CHECK, end + 2) < 0) {
        free(old);
        ms_set_err(err, errlen, "%s: %s", path, strerror(ENOMEM));
        return -ENOMEM;
    }
    rc = ms_store_exec(db, path, "PRAGMA writable_schema=ON", "cannot upgrade the schema", err,
                       errlen);
    if (rc == 0) {
        const long long cookie = ms_store_int(db, "PRAGMA schema_version", 0);
        char bump[64];
        st = NULL;
        if (sqlite3_prepare_v2(db, "UPDATE sqlite_schema SET sql = ?1 WHERE type = 'table'"
                                   " AND name = 'runs'", -1, &st, NULL) != SQLITE_OK ||
            (sqlite3_bind_text(st, 1, new_sql, -1, SQLITE_STATIC), sqlite3_step(st)) != SQLITE_DONE) {
            ms_store_db_error(db, path, err, errlen);
            rc = -EIO;
        }
        sqlite3_finalize(st);
        snprintf(bump, sizeof bump, "PRAGMA schema_version=%lld", cookie + 1);
        if (rc == 0)
            rc = ms_store_exec(db, path, bump, "cannot upgrade the schema", err, errlen);
        (void)sqlite3_exec(db, "PRAGMA writable_schema=OFF", NULL, NULL, NULL);
    }
    free(old);
    free(new_sql);
    return rc;
}

int ms_store_upgrade(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    static const struct {
        const char *table, *column, *sql;
    } added[] = {
        {"sweeps", "spool_dir", "ALTER TABLE sweeps ADD COLUMN spool_dir TEXT"},
        {"processes", "spool_key", "ALTER TABLE processes ADD COLUMN spool_key INTEGER"},
        {"samples", "rss_anon_kb", "ALTER TABLE samples ADD COLUMN rss_anon_kb INTEGER"},
        {"samples", "rss_file_kb", "ALTER TABLE samples ADD COLUMN rss_file_kb INTEGER"},
        {"samples", "rss_shmem_kb", "ALTER TABLE samples ADD COLUMN rss_shmem_kb INTEGER"},
        {"samples", "pss_kb", "ALTER TABLE samples ADD COLUMN pss_kb INTEGER"},
        {"samples", "pss_anon_kb", "ALTER TABLE samples ADD COLUMN pss_anon_kb INTEGER"},
        {"samples", "pss_shmem_kb", "ALTER TABLE samples ADD COLUMN pss_shmem_kb INTEGER"},
        {"runs", "uid", "ALTER TABLE runs ADD COLUMN uid TEXT"},
        {"runs", "host", "ALTER TABLE runs ADD COLUMN host TEXT"},
        {"runs", "node_mem_kb", "ALTER TABLE runs ADD COLUMN node_mem_kb INTEGER"},
        {"runs", "node_mem_source", "ALTER TABLE runs ADD COLUMN node_mem_source TEXT"},
        {"runs", "node_reserve_mb", "ALTER TABLE runs ADD COLUMN node_reserve_mb INTEGER"},
        {"runs", "node_cpus", "ALTER TABLE runs ADD COLUMN node_cpus INTEGER"},
        {"runs", "batch_job", "ALTER TABLE runs ADD COLUMN batch_job TEXT"},
        {"runs", "batch_state", "ALTER TABLE runs ADD COLUMN batch_state TEXT"},
        {"runs", "recorder", "ALTER TABLE runs ADD COLUMN recorder TEXT"},
        {"runs", "attempt", "ALTER TABLE runs ADD COLUMN attempt INTEGER"},
        {"runs", "superseded", "ALTER TABLE runs ADD COLUMN superseded INTEGER"},
        {"sweeps", "mem_budget_kb", "ALTER TABLE sweeps ADD COLUMN mem_budget_kb INTEGER"},
        {"sweeps", "jobs_auto", "ALTER TABLE sweeps ADD COLUMN jobs_auto INTEGER"},
        {"sweeps", "stagger_ms", "ALTER TABLE sweeps ADD COLUMN stagger_ms INTEGER"},
        {"sweeps", "run_order", "ALTER TABLE sweeps ADD COLUMN run_order TEXT"},
        {"sweeps", "retry_oom", "ALTER TABLE sweeps ADD COLUMN retry_oom INTEGER"},
    };
    long long app_id = 0, version = 0;
    char ids[128];
    int rc;

    rc = ms_store_exec(db, path, "BEGIN IMMEDIATE", "cannot upgrade the schema", err, errlen);
    if (rc != 0)
        return rc;
    /* Read inside the write transaction: another writer may have upgraded meanwhile. */
    if (read_ids(db, &app_id, &version) != SQLITE_OK) {
        ms_store_db_error(db, path, err, errlen);
        rc = -EIO;
        goto out;
    }
    if (version >= MS_SCHEMA_VERSION)
        goto out;
    for (size_t i = 0; rc == 0 && i < sizeof added / sizeof added[0]; i++) {
        int found = 0;
        rc = ms_store_has_column(db, added[i].table, added[i].column, &found);
        if (rc != 0)
            ms_store_db_error(db, path, err, errlen);
        else if (!found)
            rc = ms_store_exec(db, path, added[i].sql, "cannot upgrade the schema", err, errlen);
    }
    /*
     * The CHECK of runs.status names every status of this version (7 added two, 4 one).
     * A CHECK is not stored in the rows, so the table's text in the schema is changed in
     * place (SQLite's documented way for such a change), and the schema's cookie bumped so
     * that every connection reads it anew.
     */
    if (rc == 0)
        rc = widen_status_check(db, path, err, errlen);
    /* Every CREATE of the schema is IF NOT EXISTS: what version 1 to 4 lacked is added. */
    if (rc == 0)
        rc = ms_store_exec(db, path, MS_SCHEMA_SQL, "cannot upgrade the schema", err, errlen);
    ids_sql(ids, sizeof ids);
    if (rc == 0)
        rc = ms_store_exec(db, path, ids, "cannot upgrade the schema", err, errlen);
out:
    if (rc == 0)
        rc = ms_store_exec(db, path, "COMMIT", "cannot upgrade the schema", err, errlen);
    if (rc != 0 && !sqlite3_get_autocommit(db))
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Whether db holds no table at all (a file SQLite created, or one left empty). */
static int is_blank(sqlite3 *db, int *blank)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL);

    *blank = 0;
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        *blank = sqlite3_column_int64(st, 0) == 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : ms_store_errno(rc);
}

int ms_store_open_write(const char *path, int flags, sqlite3 **out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    struct stat st;
    long long app_id = 0, version = 0;
    int blank = 0;
    int rc;

    *out = NULL;
    if (stat(path, &st) != 0 && !(flags & MS_STORE_CREATE)) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return rc;
    }
    rc = sqlite3_open_v2(path, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                             (flags & MS_STORE_CREATE ? SQLITE_OPEN_CREATE : 0),
                         NULL);
    if (rc != SQLITE_OK) {
        ms_set_err(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        rc = ms_store_errno(rc);
        goto fail;
    }
    sqlite3_extended_result_codes(db, 1);
    ms_store_busy_install(db);
    rc = ms_store_exec(db, path, "PRAGMA synchronous=NORMAL", "cannot set synchronous mode", err,
                       errlen);
    if (rc != 0)
        goto fail;
    if (read_ids(db, &app_id, &version) != SQLITE_OK || is_blank(db, &blank) != 0) {
        ms_store_db_error(db, path, err, errlen);
        rc = -EIO;
        goto fail;
    }
    if (blank && app_id == 0 && version == 0) {
        if (!(flags & MS_STORE_CREATE)) {
            ms_set_err(err, errlen, "%s: empty file, not a memsweep database", path);
            rc = -EINVAL;
            goto fail;
        }
        rc = ms_store_create_schema(db, path, err, errlen);
        if (rc != 0)
            goto fail;
    }
    rc = ms_store_check(db, path, &version, err, errlen);
    if (rc == 0 && version < MS_SCHEMA_VERSION)
        rc = ms_store_upgrade(db, path, err, errlen);
    if (rc != 0)
        goto fail;
    *out = db;
    return 0;

fail:
    sqlite3_close(db);
    return rc;
}

int ms_store_self_contained(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int done = 0;

    /* Needs the database to itself: while another connection has it open, skip at once. */
    sqlite3_busy_handler(db, NULL, NULL);
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=DELETE", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *mode = sqlite3_column_text(st, 0);
        done = mode != NULL && strcmp((const char *)mode, "delete") == 0;
    }
    sqlite3_finalize(st);
    ms_store_busy_install(db);
    return done;
}
