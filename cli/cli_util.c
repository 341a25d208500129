/* The glue the subcommands that read a recorded sweep share. */
#include "cli_util.h"

#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>

#include "climsg.h"
#include "memsweep/defaults.h"
#include "sweepread.h"

int ms_cli_read_sweep(const char *sub, int argc, char **argv, sqlite3 **db,
                      ms_sweep_data_t *data, char *name, size_t namelen)
{
    char err[1024];
    struct stat st;

    if (optind >= argc) {
        ms_cli_usage_error(sub, "missing PATH (a sweep directory or database)");
        return 2;
    }
    if (optind + 1 < argc) {
        ms_cli_usage_error(sub, "unexpected argument '%s'", argv[optind + 1]);
        return 2;
    }
    if (ms_sweep_open(argv[optind], db, err, sizeof err) != 0) {
        ms_cli_error("%s", err);
        return 1;
    }
    if (stat(argv[optind], &st) == 0 && S_ISDIR(st.st_mode))
        snprintf(name, namelen, "%s/%s", argv[optind], MS_DB_FILE);
    else
        snprintf(name, namelen, "%s", argv[optind]);
    if (ms_sweep_read(*db, name, data, err, sizeof err) != 0) {
        ms_cli_error("%s", err);
        sqlite3_close(*db);
        *db = NULL;
        return 1;
    }
    return 0;
}
