/* `memsweep peaks`: periodic versus allocation-driven peaks of a recorded sweep. */
#ifndef MS_CLI_CLI_PEAKS_H
#define MS_CLI_CLI_PEAKS_H

#include <stddef.h>
#include <stdio.h>

#include "sweepread.h"

/* Runs the subcommand; argv[0] is "peaks". Returns the process exit status. */
int ms_cmd_peaks(int argc, char **argv);

/*
 * Writes the output of `memsweep peaks` for a sweep read from db (still open) to f: every
 * run, then the summary, as text or as one JSON object. json holds MS_PEAKS_JSON and
 * MS_PEAKS_FULL (1 is MS_PEAKS_JSON, as it always was). Returns 0, or a negative errno
 * code with a one-line message naming the database in err (as name, see ms_sweep_read) (what was written is then
 * incomplete).
 */
/* ms_peaks_print's flags. */
#define MS_PEAKS_JSON 1 /* one JSON object */
#define MS_PEAKS_FULL 2 /* every frame of each stack in text (JSON always has them all) */

/* Frames of a stack shown in text without MS_PEAKS_FULL. */
#define MS_PEAKS_TOP_FRAMES 6

int ms_peaks_print(FILE *f, sqlite3 *db, const char *name, const ms_sweep_data_t *d, int json,
                   char *err, size_t errlen);

#endif
