/*
 * Folding pools into a sweep database: each record becomes rows (a process image's
 * processes row keyed by its spool_key, its samples, its stacks, its note), and each
 * chunk's cursor (spool_chunks: bytes folded) is written in the same transaction as the
 * rows of the records it covers. A fold interrupted anywhere (a crash, a kill, a failed
 * statement) therefore loses and duplicates nothing: the next fold starts at the
 * cursors the database holds. A pool of a run of its own (run_id 0) gets a runs row, and
 * a sweep when the database has none, as a program measured without the launcher
 * always did.
 *
 * Functions that fail return a negative errno-style code with a one-line message
 * "<db name>: <reason>" in err.
 */
#ifndef MS_STORE_SPOOL_FOLD_H
#define MS_STORE_SPOOL_FOLD_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "spool_read.h"

typedef struct ms_fold ms_fold_t;

/* What one fold of a pool did and found. */
typedef struct ms_fold_stats {
    uint64_t rows;        /* rows written (samples, processes, stacks, ends, runs) */
    uint64_t rejected;    /* records and chunks found unusable by this fold */
    char reason[160];     /* the first reason, "" when none */
    int folded_all;       /* every written chunk is folded to its committed bytes, or bad */
    int complete;         /* folded_all, and no chunk claimed but unwritten */
    int deferred;         /* nothing folded yet: the run's first process is not written */
    int64_t run_id;       /* the run the pool's processes belong to; 0 when not known yet */
} ms_fold_stats_t;

/*
 * Prepares the statements of a fold on db (a writable connection, schema 5: see
 * ms_store_upgrade). name is how messages name the database. batch_rows > 0 lets
 * ms_fold_pool commit and begin again after a chunk once that many rows are waiting,
 * which bounds a transaction; 0 keeps everything in the caller's transaction.
 */
int ms_fold_open(sqlite3 *db, const char *name, uint64_t batch_rows, ms_fold_t **out,
                 char *err, size_t errlen);
void ms_fold_close(ms_fold_t *f);

/* BEGIN IMMEDIATE, and COMMIT (or, after a failure, ROLLBACK). */
int ms_fold_begin(ms_fold_t *f, char *err, size_t errlen);
int ms_fold_commit(ms_fold_t *f, char *err, size_t errlen);
void ms_fold_rollback(ms_fold_t *f);

/*
 * Folds what sp holds beyond the database's cursors, inside the transaction the caller
 * began (ms_fold_begin). Scan sp first (ms_spool_scan) to see what was written since.
 * A pool whose run_id names no run of this database is refused (-ESRCH), nothing of it
 * folded. Fills *st.
 */
int ms_fold_pool(ms_fold_t *f, ms_spool_t *sp, ms_fold_stats_t *st, char *err, size_t errlen);

/* ms_fold_pool in a transaction of its own: begun, and committed or rolled back. */
int ms_fold_pool_tx(ms_fold_t *f, ms_spool_t *sp, ms_fold_stats_t *st, char *err, size_t errlen);

/* A reading taken from outside, in kB; -1 for a figure not reported (or not read). */
typedef struct {
    uint32_t kind; /* MS_SPOOL_KIND_TICK, or MS_SPOOL_KIND_GROWTH while growth is followed */
    int64_t t_ns;
    int64_t rss_kb;
    int64_t hwm_kb;
    int64_t heap_kb;
    int64_t anon_kb;
    int64_t file_kb;
    int64_t shmem_kb;
    int64_t pss_kb;
    int64_t pss_anon_kb;
    int64_t pss_shmem_kb;
} ms_fold_reading_t;

/*
 * Inserts a `tick` (or `growth`) sample of the process image whose key is key, read from
 * outside by the collector of `memsweep run`, inside the caller's transaction. -ENOENT when that
 * image has no processes row yet (its first chunk is not folded).
 */
int ms_fold_tick(ms_fold_t *f, uint64_t key, const ms_fold_reading_t *t);

/*
 * 1 when the process image of key is settled: ended over a second ago, everything of it
 * folded by a transaction of this fold that committed. Such an image is not folded again,
 * and a scan given this predicate (ms_spool_set_settled(sp, ms_fold_settled, f)) does not
 * read its chunks again.
 */
int ms_fold_settled(void *arg, uint64_t key);

/*
 * For a savepoint inside the fold's transaction: ms_fold_settle_mark when it is taken,
 * and ms_fold_settle_undo with that mark after a ROLLBACK TO it, so that the images the
 * rolled-back part settled are not taken as settled when the transaction commits.
 */
size_t ms_fold_settle_mark(const ms_fold_t *f);
void ms_fold_settle_undo(ms_fold_t *f, size_t mark);

/*
 * Marks the pool named name as removed (spool_pools.removed_ns), in its own transaction
 * when none is open.
 */
int ms_fold_mark_removed(ms_fold_t *f, const char *name, int64_t now_ns);

/*
 * For tests of the fold's idempotency: makes the n-th statement executed from now fail
 * as a failed write would (-EIO), and nothing after it. 0 turns it off.
 */
void ms_fold_fail_after(ms_fold_t *f, uint64_t n);

#endif
