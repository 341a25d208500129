/*
 * The collector of `memsweep run`: the launcher's side of the spool. Before each worker
 * starts, it creates that run's pool (include/memsweep/spool.h); while the sweep runs, a
 * thread of its own, with a database connection of its own, takes a `tick` reading of
 * every live process of every pool from outside (/proc/<pid>/status) each interval, and
 * folds the pools into the database at most every max(interval, 200 ms), ticks and
 * records in one transaction. When the sweep ends it folds once more, removes the pools
 * whose processes are all gone, and closes its connection.
 *
 * The thread keeps its cadence whatever the supervisor's loop does (forks, reaps,
 * writes of runs rows): a tick waits for nothing but /proc and the pool files, and the
 * fold's commit, when another connection holds the lock, delays ticks but loses none.
 */
#ifndef MS_LAUNCHER_COLLECTOR_H
#define MS_LAUNCHER_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>

typedef struct ms_collector ms_collector_t;

/* Fold at most this often (or every interval, when that is longer). */
#define MS_COLLECT_FOLD_MS 200

/* Chunks allocated with each new pool, so that a worker's start creates no blocks. */
#define MS_COLLECT_PREALLOC_CHUNKS 4

/*
 * The spool directory of a sweep: "<sweep dir>/spool", or, when the sweep directory is on
 * a network filesystem, the node-local one of its database (spooldir.h). Created (mode
 * 0700, its parent too for the node-local one) and checked to be the user's own. Writes
 * the path into out. Returns 0, or -errno with a message in err.
 */
int ms_collector_spool_dir(const char *sweep_dir, const char *db_path, char *out, size_t len,
                           char *err, size_t errlen);

/*
 * Starts the collector of the database at db_path (created already), whose pools go in
 * spool_dir, sampling every interval_ms. Returns 0, or -errno with a message in err.
 */
int ms_collector_start(const char *db_path, const char *spool_dir, long long interval_ms,
                       ms_collector_t **out, char *err, size_t errlen);

/*
 * In a child forked to become a worker, before its exec: gives it back the descriptor
 * limit the user gave memsweep, which ms_collector_start raised for the collector's own
 * descriptors. Only a system call: safe between fork and exec. c may be NULL.
 */
void ms_collector_child_limits(const ms_collector_t *c);

/*
 * Creates the pool of run run_id, before its worker is forked: a new file with a random
 * name, its header written and its first chunks allocated. *path stays valid until
 * ms_collector_run_done. Returns 0, or -errno with a message in err.
 */
int ms_collector_new_pool(ms_collector_t *c, long long run_id, const char **path, char *err,
                          size_t errlen);

/*
 * The memory of run run_id as the collector's rounds of ticks read it: the RSS of its
 * processes summed in the last round (*live_kb), the highest such sum so far (*peak_kb, a
 * time-aligned sum: a lower bound of the run's peak between rounds) and the due time of
 * that round (*peak_ns, CLOCK_REALTIME; 0 before any). For a run between
 * ms_collector_new_pool and ms_collector_run_done; -ENOENT for any other.
 */
int ms_collector_run_rss(const ms_collector_t *c, long long run_id, unsigned long long *live_kb,
                         unsigned long long *peak_kb, int64_t *peak_ns);

/*
 * After the worker of run run_id was reaped: whether any process of it claimed a chunk of
 * its pool (1), none did (0), or the pool cannot be read (negative). The pool is then
 * handed to the collector, which removes it once folded and its processes are gone.
 */
int ms_collector_run_done(ms_collector_t *c, long long run_id);

/*
 * Stops the thread after a last tick and a last fold, removes the pools the removal
 * rule allows (and the spool directory when it is empty), and closes the connection.
 * Returns 0, or -errno when the last fold failed (the message is printed).
 */
int ms_collector_finish(ms_collector_t *c);

/*
 * The RSS of every live process of the sweep, summed, as the last round of ticks read it
 * (shared pages counted in each process); 0 before the first round.
 */
unsigned long long ms_collector_live_rss_kb(const ms_collector_t *c);

/* Ticks taken and ticks due while the sweep ran, for the record. */
void ms_collector_counts(const ms_collector_t *c, uint64_t *taken, uint64_t *missed);

void ms_collector_free(ms_collector_t *c);

#endif
