/*
 * The sweep directory on disk: DIR/sweep_YYYYMMDD-HHMMSS/ with the database, the
 * advisory file and logs/ holding each run's stdout and stderr. An existing sweep
 * directory is never reused.
 *
 * Functions that fail return a negative errno code and put a one-line message
 * "<path>: <reason>" (without the "memsweep: " prefix) in err.
 */
#ifndef MS_LAUNCHER_SWEEPDIR_H
#define MS_LAUNCHER_SWEEPDIR_H

#include <stddef.h>
#include <time.h>

#include "advisory.h"

/* Paths of one sweep directory. Every string is owned by the structure. */
typedef struct ms_sweepdir {
    char *path;          /* as created: under the output directory the user named */
    char *abs_path;      /* the same directory as an absolute path */
    char *db_path;       /* absolute path of MS_DB_FILE, as given to the workers */
    char *advisory_path; /* MS_ADVISORY_FILE */
    char *log_dir;       /* MS_LOG_DIR */
} ms_sweepdir_t;

/* Creates dir and any missing parent, like mkdir -p. */
int ms_mkdir_parents(const char *dir, char *err, size_t errlen);

/*
 * The name of a sweep directory started at local time *tm: "sweep_YYYYMMDD-HHMMSS" on
 * the first attempt, then with "-2", "-3", ... appended. Returns 0, or -ENAMETOOLONG
 * when buf is too small.
 */
int ms_sweepdir_name(char *buf, size_t len, const struct tm *tm, unsigned attempt);

/*
 * Creates outdir (with its parents) and in it a new sweep directory named after the
 * local time `now`, trying the next suffix while the name exists, then its log
 * directory. Fills *d; release it with ms_sweepdir_free.
 */
int ms_sweepdir_create(const char *outdir, time_t now, ms_sweepdir_t *d, char *err,
                       size_t errlen);

/*
 * Removes a sweep directory that no run used: the database and its journals, the
 * advisory file, the log directory and what it holds, and the directory itself. For a
 * sweep refused after its directory was made (the database could not be created), so that
 * a refusal leaves nothing behind. The output directory and its parents stay. Best effort.
 */
void ms_sweepdir_remove(const ms_sweepdir_t *d);

void ms_sweepdir_free(ms_sweepdir_t *d);

/*
 * Path of the log of run seq, "<log_dir>/run-0001.<ext>" (at least four digits), in a
 * newly allocated string; NULL on ENOMEM.
 */
char *ms_sweepdir_log_path(const ms_sweepdir_t *d, size_t seq, const char *ext);

/* Writes the advisory file with the pre-run section, replacing nothing: it must be new. */
int ms_sweepdir_write_pre(const ms_sweepdir_t *d, const ms_machine_t *m, char *err,
                          size_t errlen);

/* Appends a blank line and the post-run section to the advisory file. */
int ms_sweepdir_append_post(const ms_sweepdir_t *d, const ms_advisory_t *a, char *err,
                            size_t errlen);

#endif
