/* The glue the subcommands that read a recorded sweep share. */
#include "cli_util.h"

#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>

#include "climsg.h"
#include "memsweep/defaults.h"
#include "shard.h"
#include "sweepmerge.h"
#include "sweepread.h"


/* Reads every operand into one database in memory (sweepmerge.h). */
static int merge_operands(int argc, char **argv, sqlite3 **db, char *err, size_t errlen)
{
    ms_merge_t *m = NULL;
    int rc = ms_merge_open(&m, err, errlen);

    for (int i = optind; i < argc && rc == 0; i++)
        rc = ms_merge_add(m, argv[i], err, errlen);
    if (rc != 0) {
        ms_merge_free(m);
        return rc;
    }
    return ms_merge_finish(m, db, NULL, err, errlen);
}

int ms_cli_read_sweep(const char *sub, int argc, char **argv, sqlite3 **db,
                      ms_sweep_data_t *data, char *name, size_t namelen)
{
    char err[1024];
    struct stat st;

    if (optind >= argc) {
        ms_cli_usage_error(sub, "missing PATH (a sweep directory or database)");
        return 2;
    }
    if (optind + 1 < argc || ms_shard_sweep_is(argv[optind])) {
        /* Several sweeps, or one made of shards: read as one. */
        if (merge_operands(argc, argv, db, err, sizeof err) != 0) {
            ms_cli_error("%s", err);
            return 1;
        }
        if (optind + 1 < argc)
            snprintf(name, namelen, "%s (and %d more)", argv[optind], argc - optind - 1);
        else
            snprintf(name, namelen, "%s", argv[optind]);
    } else {
        if (ms_sweep_open(argv[optind], db, err, sizeof err) != 0) {
            ms_cli_error("%s", err);
            return 1;
        }
        if (stat(argv[optind], &st) == 0 && S_ISDIR(st.st_mode))
            snprintf(name, namelen, "%s/%s", argv[optind], MS_DB_FILE);
        else
            snprintf(name, namelen, "%s", argv[optind]);
    }
    if (ms_sweep_read(*db, name, data, err, sizeof err) != 0) {
        ms_cli_error("%s", err);
        sqlite3_close(*db);
        *db = NULL;
        return 1;
    }
    return 0;
}
