/*
 * Several databases and sweep directories read as one sweep: the shards of a sweep made
 * by `memsweep exec` (launcher/shard.h), databases of `memsweep run`, or both. Everything
 * is copied into one in-memory database of the current schema, which readers read like
 * any other and `memsweep merge` writes to a file:
 *
 * - one sweeps row, that of the source that started first, with finished_ns only when
 *   every source finished and no run is still running;
 * - every run with its processes, samples and stacks, under new ids; each run keeps the
 *   node it ran on (runs.host and runs.node_*: its own, or its source's sweeps row);
 * - a run is identified by runs.uid (a shard's), or, for a run without one, by its
 *   source's host and start and its run id: a run met twice (the same shard given twice,
 *   a merged database given with its shards) is taken once: from its first source, or
 *   from a later one where the first has it still running and the later one finished;
 * - the pools still in a sweep directory's spool/ (runs still running, or killed with
 *   their exec) are folded on top, from the cursors their shard records, so no record
 *   is counted twice; a pool whose run has no shard yet is left out (its run has not
 *   started). A run still running whose pool is gone by then ended meanwhile (its last
 *   shard published, then its pool removed): its shard is read again;
 * - a shard that cannot be read (damaged, another program's file) is left out with a
 *   line on stderr; the rest is read.
 *
 * Functions that fail return a negative errno code with a one-line message in err.
 */
#ifndef MS_STORE_SWEEPMERGE_H
#define MS_STORE_SWEEPMERGE_H

#include <stddef.h>

#include <sqlite3.h>

typedef struct ms_merge ms_merge_t;

/* What the merge took and left. */
typedef struct ms_merge_counts {
    size_t sources;    /* databases read (shards included) */
    size_t runs;       /* runs taken */
    size_t duplicates; /* runs left out because an earlier source had them */
    size_t pools;      /* pools folded on top */
    size_t unreadable; /* shards left out, each said on stderr */
} ms_merge_counts_t;

int ms_merge_open(ms_merge_t **out, char *err, size_t errlen);

/*
 * Adds PATH: a database file, a sweep directory of `memsweep run` (its memsweep.db, with
 * its pending pools), or a sweep directory of shards (every shard, then its pools).
 */
int ms_merge_add(ms_merge_t *m, const char *path, char *err, size_t errlen);

/*
 * Ends the merge and hands over the database (the caller closes it). *counts may be NULL.
 * The merge itself is freed.
 */
int ms_merge_finish(ms_merge_t *m, sqlite3 **db, ms_merge_counts_t *counts, char *err,
                    size_t errlen);

void ms_merge_free(ms_merge_t *m);

/*
 * Writes db into a new file at path (it must not exist), as one self-contained database.
 */
int ms_merge_write(sqlite3 *db, const char *path, char *err, size_t errlen);

#endif
