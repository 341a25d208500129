/* The glue of the subcommands that read a recorded sweep (`advise`, `peaks`). */
#ifndef MS_CLI_CLI_UTIL_H
#define MS_CLI_CLI_UTIL_H

#include <stddef.h>

struct sqlite3;
struct ms_sweep_data;

/*
 * The PATH operands of `advise` and `peaks`, left at argv[optind] after the options: a
 * sweep directory or database, or several of them and sweep directories made of shards,
 * read as one sweep (store/sweepmerge.h). Checks there is at least one, opens the sweep
 * and reads it. Returns 0 with *db open,
 * *data filled (the caller closes and frees them) and name set to how messages name the
 * database (PATH, or PATH/memsweep.db for a sweep directory), or, after printing why, the
 * exit status to leave with: 2 for a missing operand, 1 when the sweep cannot
 * be read.
 */
int ms_cli_read_sweep(const char *sub, int argc, char **argv, struct sqlite3 **db,
                      struct ms_sweep_data *data, char *name, size_t namelen);

#endif
