/*
 * `memsweep merge OUT PATH...`: reads every PATH (databases, sweep directories, sweep
 * directories made of shards) as one sweep, as `advise` does, and writes it into the new
 * database OUT. `advise OUT` then prints what `advise PATH...` prints.
 */
#include "cli_merge.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "climsg.h"
#include "sweepmerge.h"

static const char usage_text[] =
    "Usage: memsweep merge [OPTION]... OUT PATH...\n"
    "Write the sweeps at PATH (sweep directories, databases, or sweep directories made\n"
    "of shards by 'memsweep exec') into one new database OUT, read as one sweep: a run\n"
    "met twice is taken once. 'memsweep advise OUT' equals 'memsweep advise PATH...'.\n"
    "\n"
    "  -h, --help            show this help and exit\n";

int ms_cmd_merge(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    ms_merge_counts_t counts;
    ms_merge_t *m = NULL;
    sqlite3 *db = NULL;
    char err[1024];
    int c, rc;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(usage_text, stdout);
            return fflush(stdout) == 0 ? 0 : 1;
        default:
            ms_cli_getopt_error("merge", longopts, argv, c);
            return 2;
        }
    }
    if (optind + 2 > argc) {
        ms_cli_usage_error("merge", optind >= argc ? "missing OUT and PATH"
                                                   : "missing PATH (a sweep directory or database)");
        return 2;
    }
    rc = ms_merge_open(&m, err, sizeof err);
    for (int i = optind + 1; i < argc && rc == 0; i++)
        rc = ms_merge_add(m, argv[i], err, sizeof err);
    if (rc == 0) {
        rc = ms_merge_finish(m, &db, &counts, err, sizeof err);
        m = NULL;
    }
    if (rc == 0)
        rc = ms_merge_write(db, argv[optind], err, sizeof err);
    ms_merge_free(m);
    sqlite3_close(db);
    if (rc != 0) {
        ms_cli_error("%s", err);
        return 1;
    }
    fprintf(stderr, "memsweep: %s: %zu run%s from %zu database%s", argv[optind], counts.runs,
            counts.runs == 1 ? "" : "s", counts.sources, counts.sources == 1 ? "" : "s");
    if (counts.duplicates > 0)
        fprintf(stderr, "; %zu run%s met twice, taken once", counts.duplicates,
                counts.duplicates == 1 ? "" : "s");
    if (counts.pools > 0)
        fprintf(stderr, "; %zu pool%s still in the spool", counts.pools, counts.pools == 1 ? "" : "s");
    fputc('\n', stderr);
    return 0;
}
