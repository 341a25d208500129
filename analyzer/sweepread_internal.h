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

#endif
