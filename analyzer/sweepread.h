/*
 * Reading a sweep database: opening it safely read-only, checking it is memsweep's, and
 * reducing each run's processes and samples to its end RSS, its peak RSS and the peak
 * views of peaks.h, all in one pass over the samples.
 */
#ifndef MS_ANALYZER_SWEEPREAD_H
#define MS_ANALYZER_SWEEPREAD_H

#include <stddef.h>

#include <sqlite3.h>

#include "advisory.h"
#include "peaks.h"

/* What the sweeps row recorded about the machine and the sweep. */
typedef struct ms_sweep_info {
    long long sweep_id;
    int have_mem_total;
    unsigned long long mem_total_kb;
    long long reserve_mb;
    double safety_factor;
    long long interval_ms;
    char hostname[256];
} ms_sweep_info_t;

/* One run reduced to the figures the advisory needs. */
typedef struct ms_run_mem {
    long long run_id;
    long long seq;
    char status[16];
    size_t n_processes;
    size_t n_samples;
    unsigned long long end_kb;  /* run RSS at its end (see docs/advisory.md) */
    unsigned long long peak_kb; /* largest run RSS, never below a process's VmHWM */
    ms_run_peaks_t peaks;       /* periodic, all-samples and VmHWM views of the peak */
} ms_run_mem_t;

typedef struct ms_sweep_data {
    ms_sweep_info_t info;
    ms_run_mem_t *runs;
    size_t n_runs;
} ms_sweep_data_t;

/*
 * Resolves PATH (a sweep directory or a database file) to a database path, opens it
 * read-only and checks application_id and user_version. On failure returns a negative
 * errno-style code, with a one-line message (without the "memsweep: " prefix) in err.
 */
int ms_sweep_open(const char *path, sqlite3 **db, char *err, size_t errlen);

/* Reads the sweep and reduces every run, in one read transaction. */
int ms_sweep_read(sqlite3 *db, ms_sweep_data_t *out, char *err, size_t errlen);

void ms_sweep_free(ms_sweep_data_t *d);

/* The periodic-miss summary over the runs with samples, in the order of d->runs. */
void ms_sweep_peak_summary(const ms_sweep_data_t *d, ms_peak_summary_t *out);

/*
 * Looks up the text that the reduction leaves out: a run's label and a stack's frames.
 * Prepared once, used for any number of runs after ms_sweep_read.
 */
typedef struct ms_sweep_texts {
    sqlite3_stmt *label;
    sqlite3_stmt *frames; /* NULL when the database has no stacks table */
} ms_sweep_texts_t;

int ms_sweep_texts_open(sqlite3 *db, ms_sweep_texts_t *t, char *err, size_t errlen);
void ms_sweep_texts_close(ms_sweep_texts_t *t);

/*
 * Sets *label to a malloc'd copy of runs.label of run_id, or NULL when it is NULL or the
 * run is gone. Returns 0, -ENOMEM, or -EIO on a database error.
 */
int ms_sweep_run_label(ms_sweep_texts_t *t, long long run_id, char **label);

/*
 * Sets *frames to a malloc'd copy of stacks.frames of stack_id (one frame per line), or
 * NULL when there is no such stack. Returns 0, -ENOMEM or -EIO.
 */
int ms_sweep_stack_frames(ms_sweep_texts_t *t, long long stack_id, char **frames);

/* Options that recompute advice for another machine; negative means "as recorded". */
typedef struct ms_advise_opts {
    long long mem_total_mb; /* overrides the recorded MemTotal when >= 0 */
    long long reserve_mb;   /* default MS_DEFAULT_RESERVE_MB */
    double safety_factor;   /* default MS_DEFAULT_SAFETY_FACTOR */
} ms_advise_opts_t;

void ms_advise_opts_init(ms_advise_opts_t *o);

/*
 * Computes the advisory of a sweep already read, with its periodic-miss summary. Returns
 * 0 or a negative errno code.
 */
int ms_sweep_advise(const ms_sweep_data_t *d, const ms_advise_opts_t *o, ms_advisory_t *out);

/*
 * Convenience for the launcher: opens the database at db_path, reads it, computes the
 * advisory with default options and the recorded machine, and fills *out.
 */
int ms_advise_db(const char *db_path, ms_advisory_t *out, char *err, size_t errlen);

#endif
