/*
 * `memsweep collect PATH`: folds what the spools of a database hold into it, creating the
 * database when a program measured alone left spools and no database yet, removes the
 * spools whose processes are all gone, and leaves the database as one self-contained
 * file (journal mode DELETE).
 */
#include "cli_collect.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "climsg.h"
#include "cli_util.h"
#include "memsweep/defaults.h"
#include "cli_slurm.h"
#include "shard.h"
#include "spool_collect.h"
#include "store.h"

static const char usage_text[] =
    "Usage: memsweep collect [OPTION]... PATH\n"
    "Fold the records that measured programs left in spools into their database: PATH\n"
    "is a sweep directory or a database (created when a program measured without\n"
    "'memsweep run' left spools but no database yet). Spools whose processes have all\n"
    "ended are removed; the database is left as one self-contained file.\n"
    "\n"
    "For a sweep directory made of shards ('memsweep exec'): the runs whose exec is\n"
    "gone without recording their end (killed with it, or by the batch system) get\n"
    "their end and the records their pools hold, and the post-run section of the\n"
    "sweep's advisory file is written.\n"
    "\n"
    "  -h, --help            show this help and exit\n";

/* Rows per transaction: bounds what a fold holds before it commits. */
#define COLLECT_BATCH_ROWS 20000

static void warn_line(void *arg, const char *msg)
{
    (void)arg;
    ms_cli_error("%s", msg);
}

static int has_pools(char **dirs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char **names = NULL;
        size_t k = 0;
        const int found = ms_spool_list(dirs[i], &names, &k) == 0 && k > 0;
        ms_spool_list_free(names, k);
        if (found)
            return 1;
    }
    return 0;
}

int ms_cmd_collect(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    ms_collect_opts_t o = {.remove = 1, .warn = warn_line};
    ms_collect_result_t res;
    ms_fold_t *f = NULL;
    sqlite3 *db = NULL;
    char **dirs = NULL;
    size_t n_dirs = 0;
    char *path = NULL;
    char err[1024] = "";
    struct stat st;
    int status = 1;
    int c, rc;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(usage_text, stdout);
            return fflush(stdout) == 0 ? 0 : 1;
        default:
            ms_cli_getopt_error("collect", longopts, argv, c);
            return 2;
        }
    }
    if (optind >= argc) {
        ms_cli_usage_error("collect", "missing PATH (a sweep directory or database)");
        return 2;
    }
    if (optind + 1 < argc) {
        ms_cli_usage_error("collect", "unexpected argument '%s'", argv[optind + 1]);
        return 2;
    }
    if (ms_shard_sweep_is(argv[optind])) {
        int all_ok;
        return ms_cli_finish_shards(argv[optind], 0, &all_ok);
    }
    if (stat(argv[optind], &st) == 0 && S_ISDIR(st.st_mode))
        rc = asprintf(&path, "%s/%s", argv[optind], MS_DB_FILE);
    else
        rc = asprintf(&path, "%s", argv[optind]);
    if (rc < 0) {
        ms_cli_error("%s", strerror(ENOMEM));
        return 1;
    }
    memset(&res, 0, sizeof res);
    if (stat(path, &st) != 0) {
        /* No database: only a program's spools justify creating one. */
        rc = ms_spool_dirs_of(NULL, path, &dirs, &n_dirs);
        if (rc == 0 && !has_pools(dirs, n_dirs)) {
            ms_cli_error("%s: no such database, and no spool to collect into one", path);
            goto out;
        }
        ms_spool_list_free(dirs, n_dirs);
        dirs = NULL;
        n_dirs = 0;
    }
    rc = ms_store_open_write(path, MS_STORE_CREATE, &db, err, sizeof err);
    if (rc == 0)
        rc = ms_fold_open(db, path, COLLECT_BATCH_ROWS, &f, err, sizeof err);
    if (rc == 0 && (rc = ms_spool_dirs_of(db, path, &dirs, &n_dirs)) != 0)
        snprintf(err, sizeof err, "%s: %s", path, strerror(-rc));
    for (size_t i = 0; rc == 0 && i < n_dirs; i++)
        rc = ms_collect_dir(f, dirs[i], &o, &res, err, sizeof err);
    if (rc != 0) {
        ms_cli_error("%s", err);
        goto out;
    }
    ms_fold_close(f);
    f = NULL;
    if (!ms_store_self_contained(db))
        ms_cli_error("warning: %s: still in use by another program: left in WAL mode", path);
    status = res.refused > 0 ? 1 : 0;
out:
    ms_fold_close(f);
    if (db != NULL && sqlite3_close(db) != SQLITE_OK && status == 0) {
        ms_cli_error("%s: cannot close the database", path);
        status = 1;
    }
    ms_spool_list_free(dirs, n_dirs);
    free(path);
    return status;
}
