/* Readers' private fold of pending pools (see spool_pending.h). */
#include "spool_pending.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool_collect.h"
#include "spool_fold.h"
#include "errbuf.h"
#include "store.h"

/* Warnings about a pending pool go to stderr: a reader's stdout holds only results. */
static void warn_stderr(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "memsweep: %s\n", msg);
}

static int any_pool(char **dirs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char **names = NULL;
        size_t k = 0;
        if (ms_spool_list(dirs[i], &names, &k) == 0 && k > 0) {
            ms_spool_list_free(names, k);
            return 1;
        }
        ms_spool_list_free(names, k);
    }
    return 0;
}

/* Copies file into a new in-memory database, or makes an empty one with the schema. */
static int private_copy(sqlite3 *file, const char *path, sqlite3 **out, char *err,
                        size_t errlen)
{
    sqlite3 *mem = NULL;
    sqlite3_backup *b;
    int rc = sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                             NULL);

    *out = NULL;
    if (rc != SQLITE_OK) {
        ms_set_err(err, errlen, "%s: %s", path, sqlite3_errstr(rc));
        sqlite3_close(mem);
        return -ENOMEM;
    }
    if (file == NULL) {
        rc = ms_store_create_schema(mem, path, err, errlen);
    } else {
        b = sqlite3_backup_init(mem, "main", file, "main");
        if (b == NULL) {
            ms_set_err(err, errlen, "%s: %s", path, sqlite3_errmsg(mem));
            sqlite3_close(mem);
            return -EIO;
        }
        /* One step copies every page inside one read transaction of file. */
        rc = sqlite3_backup_step(b, -1);
        sqlite3_backup_finish(b);
        if (rc != SQLITE_DONE) {
            ms_store_db_error(file, path, err, errlen);
            sqlite3_close(mem);
            return ms_store_errno(rc) != 0 ? ms_store_errno(rc) : -EIO;
        }
        rc = ms_store_upgrade(mem, path, err, errlen);
    }
    if (rc != 0) {
        sqlite3_close(mem);
        return rc;
    }
    *out = mem;
    return 0;
}

/* The largest runs.run_id of db; 0 when it has none or cannot say. */
static long long max_run_id(sqlite3 *db)
{
    return ms_store_int(db, "SELECT max(run_id) FROM runs", 0);
}

int ms_store_open_reader(const char *db_path, sqlite3 **out, char *err, size_t errlen)
{
    char open_err[512] = "";
    int rc = 0;

    *out = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        ms_collect_opts_t o = {.vanished_is_error = 1, .warn = warn_stderr};
        ms_collect_result_t res;
        sqlite3 *file = NULL;
        sqlite3 *mem = NULL;
        ms_fold_t *f = NULL;
        char **dirs = NULL;
        size_t n = 0;
        int missing;

        rc = ms_store_open_read(db_path, &file, open_err, sizeof open_err);
        missing = rc == -ENOENT;
        if (rc != 0 && !missing) {
            ms_set_err(err, errlen, "%s", open_err);
            return rc;
        }
        rc = ms_spool_dirs_of(file, db_path, &dirs, &n);
        if (rc != 0 || !any_pool(dirs, n)) {
            ms_spool_list_free(dirs, n);
            if (rc == 0 && missing) {
                ms_set_err(err, errlen, "%s", open_err);
                rc = -ENOENT;
            } else if (rc != 0) {
                ms_set_err(err, errlen, "%s: %s", db_path, strerror(-rc));
            }
            if (rc != 0) {
                sqlite3_close(file);
                return rc;
            }
            *out = file;
            return 0;
        }
        rc = private_copy(file, db_path, &mem, err, errlen);
        sqlite3_close(file);
        if (rc == 0)
            o.snapshot_max_run = max_run_id(mem);
        if (rc == 0)
            rc = ms_fold_open(mem, db_path, 0, &f, err, errlen);
        memset(&res, 0, sizeof res);
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = ms_collect_dir(f, dirs[i], &o, &res, err, errlen);
        ms_fold_close(f);
        ms_spool_list_free(dirs, n);
        if (rc == 0) {
            *out = mem;
            return 0;
        }
        sqlite3_close(mem);
        if (rc != -EAGAIN)
            return rc;
    }
    ms_set_err(err, errlen, "%s: its pools keep changing while they are read; try again",
                  db_path);
    return -EAGAIN;
}
