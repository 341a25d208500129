/*
 * Reading a sweep database: opening it safely read-only, checking it is memsweep's, and
 * reducing each run's processes and samples to its end RSS, its peak RSS and the peak
 * views of peaks.h, all in one pass over the samples. Rows and values that cannot be
 * readings (NULL, text or out-of-range numbers, rows of no run or process, duplicates)
 * are skipped or ignored and counted in the data's report (dbreport.h), never guessed.
 */
#ifndef MS_ANALYZER_SWEEPREAD_H
#define MS_ANALYZER_SWEEPREAD_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "advisory.h"
#include "dbreport.h"
#include "peaks.h"
#include "schedule.h"

/*
 * What the sweeps row recorded about the machine and the sweep. A database holds one
 * sweep; when it holds several rows, the first (lowest sweep_id) is read and the runs of
 * the others are skipped.
 */
typedef struct ms_sweep_info {
    long long sweep_id;
    size_t n_sweeps;                 /* rows of the sweeps table */
    int have_mem_total;              /* mem_total_kb is a plausible size */
    unsigned long long mem_total_kb;
    int have_reserve;                /* reserve_mb is the recorded reserve */
    long long reserve_mb;            /* MS_DEFAULT_RESERVE_MB when not recorded */
    double safety_factor;
    long long interval_ms;           /* MS_DEFAULT_INTERVAL_MS when not usable */
    char hostname[256];
    /*
     * Where mem_total_kb came from (sweeps.mem_source, schema 4): MS_MEM_SOURCE_MEMINFO
     * when the column is NULL or absent, "" when its value is not text.
     */
    char mem_source[MS_MEM_SOURCE_MAX];
    int have_host_mem_total;         /* the machine's MemTotal: host_mem_total_kb, or */
    unsigned long long host_mem_total_kb; /* mem_total_kb when that was /proc/meminfo's */
    long long cpus;                  /* CPUs the sweep may use; 0 when not recorded */
    int64_t started_ns;              /* sweeps.started_ns; 0 when not usable */
    /*
     * A sweep of `memsweep run` without sweeps.finished_ns: still running, or its
     * launcher was killed. Its runs still marked running are not finished.
     */
    int unfinished;
} ms_sweep_info_t;

/* One run reduced to the figures the advisory needs. */
typedef struct ms_run_mem {
    long long run_id;
    long long seq;
    char status[32];            /* runs.status, cleaned for printing; "NULL" when NULL */
    int status_known;           /* one of the statuses of schema.h */
    int not_measured;           /* runs.uninstrumented is set: no process of it reported */
    char not_measured_kind[64]; /* the kind of its reason (ms_sweep_run_reason: whole text) */
    size_t n_processes;         /* process rows read (skipped ones not counted) */
    size_t n_samples;           /* usable samples, duplicates counted once */
    size_t ended_abnormally;    /* processes without an exit record or exec successor */
    long long first_proc;       /* proc_id of its earliest process row; 0 when it has none */
    long long main_no_exit;     /* proc_id of the last image of that row's pid, when it is
                                 * among them: the main process, if the first row is the
                                 * program the launcher started (ms_sweep_main_end); or 0 */
    long long main_pid;         /* that pid */
    unsigned long long unstored; /* readings of its processes that were due but not stored */
    unsigned long long unstored_failed; /* ... of processes whose writes failed (a note) */
    unsigned long long end_kb;  /* run RSS at its end (see docs/advisory.md) */
    unsigned long long peak_kb; /* largest run RSS, never below a process's VmHWM */
    ms_run_peaks_t peaks;       /* periodic, all-samples and VmHWM views of the peak */
    int have_label;             /* runs.label holds parameters; see ms_sweep_label */
    size_t label_at;            /* where its text starts in the data's labels */
    int have_command_key;       /* runs.command is recorded: command_key is its hash */
    uint64_t command_key;       /* 64-bit FNV-1a of runs.command: one per configuration */
    int have_node;              /* runs.node_mem_kb (schema 7): the node it ran on */
    unsigned long long node_mem_kb;
    long long node_reserve_mb;  /* -1: not recorded */
    long long node_cpus;        /* 0: not recorded */
    /*
     * Schema 9, `memsweep run --retry-oom`: runs.attempt (0: not recorded, the first),
     * and whether a later attempt of the same seq replaced this one (runs.superseded).
     * A superseded attempt is kept out of ms_sweep_data_t.runs (see there); retried_as is
     * the run_id of the attempt that followed it (0: none read), and earlier_attempts
     * counts, on a run, the superseded attempts that it followed.
     */
    long long attempt;
    int superseded;
    long long retried_as;
    size_t earlier_attempts;
} ms_run_mem_t;

/*
 * Whether a run's figures count: it has a usable sample and was not marked as not
 * measured. Only such runs enter the statistics and the periodic-miss summary.
 */
static inline int ms_run_measured(const ms_run_mem_t *r)
{
    return r->n_samples > 0 && !r->not_measured;
}

typedef struct ms_sweep_data {
    ms_sweep_info_t info;
    ms_run_mem_t *runs;
    size_t n_runs;
    ms_db_report_t report; /* what was skipped, ignored, not measured or not stored */
    /*
     * The labels that hold parameters, for the table of memory by parameter value: each
     * NUL-terminated, one after another. Only labels that start with NAME=value, are not
     * the run's command line, and are at most MS_PARAM_LABEL_MAX bytes are kept, so this
     * is at most that per run and usually a few dozen bytes.
     */
    char *labels;
    size_t labels_len;
    /*
     * Attempts that a later attempt of the same seq replaced after the out-of-memory
     * killer ended them (schema 9, runs.superseded = 1), reduced like the runs, in seq
     * order. They are not in runs: "the advisory counts the run once, with the attempt
     * that finished", so no statistic, count or report of runs sees them; readers that
     * show them (peaks, export, report) read them here.
     */
    ms_run_mem_t *superseded;
    size_t n_superseded;
    ms_sched_opts_t sched;        /* the sweeps row's scheduling options (schema 9) */
    /*
     * The admissions rows (schema 9) of the runs and superseded attempts read, sorted by
     * run_id (ms_sched_admission_find).
     */
    ms_sched_admission_t *admissions;
    size_t n_admissions;
    /*
     * With admissions: the highest total RSS of the runs read (superseded attempts
     * included, whose memory was in use) at any moment, as a time-aligned sum of samples
     * (rsstimeline.h), and when.
     */
    int have_measured_total;
    unsigned long long measured_total_kb;
    int64_t measured_total_at_ns;
} ms_sweep_data_t;

/* The admission of run r of d (schema 9), or NULL when it has none. */
static inline const ms_sched_admission_t *ms_sweep_admission(const ms_sweep_data_t *d,
                                                             const ms_run_mem_t *r)
{
    return ms_sched_admission_find(d->admissions, d->n_admissions, r->run_id);
}

/* The parameters label of run r of d ("NAME=value ..."), or NULL when it has none. */
static inline const char *ms_sweep_label(const ms_sweep_data_t *d, const ms_run_mem_t *r)
{
    return r->have_label ? d->labels + r->label_at : NULL;
}

/*
 * Resolves PATH (a sweep directory or a database file) to a database path, opens it
 * read-only and checks application_id and user_version. On failure returns a negative
 * errno-style code, with a one-line message (without the "memsweep: " prefix) in err:
 * "<path>: empty file, not a memsweep database", "<path>: damaged database file
 * (truncated: 8192 of 40960 bytes)", and so on.
 */
int ms_sweep_open(const char *path, sqlite3 **db, char *err, size_t errlen);

/*
 * Reads the sweep and reduces every run, in one read transaction. Reads schema versions 1
 * to MS_SCHEMA_VERSION: columns added after version 1 are looked up and read as NULL when
 * absent. A missing table or version 1 column that the figures need (-EINVAL), or a
 * database error such as a damaged page (-EIO), fails with a one-line message that names
 * the database as name, or by SQLite's file name when name is NULL.
 */
int ms_sweep_read(sqlite3 *db, const char *name, ms_sweep_data_t *out, char *err, size_t errlen);

void ms_sweep_free(ms_sweep_data_t *d);

/* The periodic-miss summary over the runs with samples, in the order of d->runs. */
void ms_sweep_peak_summary(const ms_sweep_data_t *d, ms_peak_summary_t *out);

/*
 * Looks up the text that the reduction leaves out: a run's label, a stack's frames and
 * the notes of a run's processes. Prepared once, used for any number of runs after
 * ms_sweep_read.
 */
typedef struct ms_sweep_texts {
    sqlite3_stmt *label;
    sqlite3_stmt *frames; /* NULL when the database has no stacks table */
    sqlite3_stmt *notes;  /* NULL when processes has no note column (before version 3) */
    sqlite3_stmt *reason; /* NULL when runs has no uninstrumented column (idem) */
    sqlite3_stmt *main_end; /* NULL without runs.command, exit_code, term_signal or cmdline */
    sqlite3_stmt *batch;  /* NULL without runs.batch_state (before version 7) */
} ms_sweep_texts_t;

/* Prepares the lookups; a failure's message names the database as ms_sweep_read's does. */
int ms_sweep_texts_open(sqlite3 *db, const char *name, ms_sweep_texts_t *t, char *err,
                        size_t errlen);
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

/*
 * Sets *reason to a malloc'd copy of runs.uninstrumented of run_id (why the run was not
 * measured, whole), or NULL. Returns 0, -ENOMEM or -EIO.
 */
int ms_sweep_run_reason(ms_sweep_texts_t *t, long long run_id, char **reason);

/*
 * Sets *state to a malloc'd copy of runs.batch_state of run_id (what the batch system said
 * of its end), or NULL. Returns 0, -ENOMEM or -EIO.
 */
int ms_sweep_run_batch_state(ms_sweep_texts_t *t, long long run_id, char **state);

/*
 * How the main process of run r ended, when it is among the run's processes without an
 * exit record (r->main_no_exit): from the run's exit_code or term_signal, which the
 * launcher took from wait(). Only when the run's first process row is the program the
 * launcher started (its command line is runs.command, or "sh -c" and the command, or an
 * absolute interpreter path and at most one argument before it), so that a run whose
 * main process left no row (a static wrapper) does not lend its status to a child. Sets
 * *known to 1 with *out filled, or to 0. Returns 0, or -EIO on a database error.
 */
int ms_sweep_main_end(ms_sweep_texts_t *t, const ms_run_mem_t *r, ms_main_end_t *out,
                      int *known);

/*
 * Fills notes (room for max) with the distinct non-empty processes.note texts of run_id,
 * in the order of their first process, each with that process's pid and how many
 * processes share it; *n is how many were filled, *more how many distinct notes did not
 * fit. The texts are malloc'd: release them with ms_sweep_notes_free. Returns 0, -ENOMEM
 * or -EIO.
 */
int ms_sweep_run_notes(ms_sweep_texts_t *t, long long run_id, ms_proc_note_t *notes, size_t max,
                       size_t *n, size_t *more);
void ms_sweep_notes_free(ms_proc_note_t *notes, size_t n);

/* Options that recompute advice for another machine; negative means "as recorded". */
typedef struct ms_advise_opts {
    /*
     * Overrides the recorded memory figure when >= 0: a whole machine of that size, whose
     * reserve is MS_DEFAULT_RESERVE_MB unless reserve_mb says otherwise.
     */
    long long mem_total_mb;
    /*
     * Overrides the reserve when >= 0. Otherwise the recorded one (or, when there is none,
     * the one the rule of the recorded source gives).
     */
    long long reserve_mb;
    /*
     * The factor of the seed's formulas; <= 0 (the default): the one the sweep recorded
     * (`memsweep run --safety-factor`), else MS_DEFAULT_SAFETY_FACTOR.
     */
    double safety_factor;
} ms_advise_opts_t;

void ms_advise_opts_init(ms_advise_opts_t *o);

/*
 * Computes the advisory of a sweep already read, with its periodic-miss summary, the
 * table of memory by parameter value of its included runs (from the labels the read
 * kept) and the suggested safety factor from them. Returns 0 or a negative errno code.
 */
int ms_sweep_advise(const ms_sweep_data_t *d, const ms_advise_opts_t *o, ms_advisory_t *out);

/*
 * Convenience for the launcher: opens the database at db_path, reads it, computes the
 * advisory with the options o (NULL: the defaults, the recorded machine), and fills *out.
 */
int ms_advise_db(const char *db_path, const ms_advise_opts_t *o, ms_advisory_t *out, char *err,
                 size_t errlen);

#endif
