/*
 * Private to the analyzer's sweep reader: what sweepread.c finds out about a database's
 * schema, for the files that decode its rows (sweepdecode.c) and look up its texts
 * (sweeptext.c).
 */
#ifndef MS_ANALYZER_SWEEPREAD_INTERNAL_H
#define MS_ANALYZER_SWEEPREAD_INTERNAL_H

#include <stddef.h>

#include <sqlite3.h>

/* The nullable columns of later schema versions that the reader uses. */
typedef struct ms__optional_cols {
    int tracking, dropped, dropped_rate, dropped_queue; /* version 2 */
    int stack_id, stacks;                               /* version 2 */
    int uninstrumented, unstored, note;                 /* version 3 */
    int maxrss, maxrss_floor;                           /* version 4 */
    int hostname, reserve_mb, safety_factor;            /* of every version, looked up */
    int mem_source, host_mem_total, cpus;               /* version 4 */
    int pss;                                            /* version 6 */
    int command;                                        /* of every version, looked up */
    int node;                                           /* version 7: runs.node_* */
    int attempt, superseded;                            /* version 9: runs.attempt, ... */
    int sched;                                          /* version 9: sweeps.mem_budget_kb... */
    int admissions;                                     /* version 9: the admissions table */
    int started;                                        /* sweeps.started_ns, looked up */
} ms__optional_cols_t;

/*
 * Says why opening or reading failed, in one line: a damaged file as such (with its
 * length when it is shorter than its header says), anything else in SQLite's words.
 */
void ms__sweep_db_error(sqlite3 *db, const char *path, char *err, size_t errlen);

/* How messages name the database: as the caller does, else by SQLite's file name. */
const char *ms__sweep_db_name(sqlite3 *db, const char *name);

/*
 * Sets *found to whether table is a stored table (not a view) with column; 0, or -EIO on
 * a database error.
 */
int ms__sweep_has_column(sqlite3 *db, const char *table, const char *column, int *found);

/*
 * Fails (-EINVAL) with a message naming the first missing table or column of those the
 * figures need since schema version 1; -EIO on a database error.
 */
int ms__sweep_check_required(sqlite3 *db, const char *path, char *err, size_t errlen);

/* Looks up every optional column; 0, or -EIO on a database error. */
int ms__sweep_find_optional(sqlite3 *db, ms__optional_cols_t *c);

/* Whether the database has any stack, so that the scan reads stack_id at all; 0 or -EIO. */
int ms__sweep_any_stack(sqlite3 *db, int *found);

struct ms_sweep_data;
struct ms__proc_fold;

/*
 * Reads what schema 9 records of the scheduling (sweepsched.c): the first sweeps row's
 * start and scheduling options, and the admissions rows of the runs read (out->runs
 * sorted by run_id, superseded attempts still among them). Unusable values are counted
 * in the report and read as absent. 0, -ENOMEM or -EIO.
 */
int ms__sweep_read_sched(sqlite3 *db, const ms__optional_cols_t *oc, struct ms_sweep_data *out);

/*
 * With admissions, the highest total RSS of the runs read at any moment (rsstimeline.h):
 * every usable sample of their processes (procs, sorted by proc_id, as the scan folded
 * them: each process's last usable sample ends it), read in time order. 0, -ENOMEM or
 * -EIO.
 */
int ms__sweep_measured_total(sqlite3 *db, struct ms_sweep_data *out,
                             const struct ms__proc_fold *procs, size_t n_procs);

/*
 * Moves the superseded attempts out of out->runs (sorted by seq) into out->superseded,
 * and pairs each with the attempt that followed it: the first run of the same seq with a
 * larger run_id (the launcher gives a retry the next id it writes). 0 or -ENOMEM.
 */
int ms__sweep_split_attempts(struct ms_sweep_data *out);

#endif
