/*
 * Settling the shards of runs whose `memsweep exec` is gone (`memsweep collect DIR`,
 * `memsweep run --slurm`): a run killed together with its exec (a batch system's memory
 * kill, a cancel, a node lost) left a shard that says `running` and its pool in the
 * sweep's spool/. Its records are folded into the shard, the run is given the status its
 * end deserves, and the shard is published again.
 *
 * Functions that fail return a negative errno code with a one-line message in err.
 */
#ifndef MS_LAUNCHER_SHARDFIX_H
#define MS_LAUNCHER_SHARDFIX_H

#include <stddef.h>

#include "shard.h"

/*
 * A hidden temporary copy in shards/ older than this was left by a publisher killed
 * half-way (a copy takes a fraction of a second): settling removes it.
 */
#define MS_SHARD_STALE_S 3600

/* How a run ended, as the batch system says (ms_batch_state_fn). */
typedef struct ms_batch_end {
    char state[64];   /* runs.batch_state: "COMPLETED", "FAILED", "OUT_OF_MEMORY", ... */
    char reason[192]; /* why, when known ("exceeded its --mem"); "" */
    int have_exit_code;
    int exit_code;
    int have_signal;
    int signal;
} ms_batch_end_t;

/*
 * Looks up the final state of the batch job job ("<array job>_<task>" or a job id):
 * returns 1 with *end filled when the job has ended, 0 while it runs or when nothing
 * knows it.
 */
typedef int (*ms_batch_state_fn)(void *arg, const char *job, ms_batch_end_t *end);

/* What ms_shard_settle did. */
typedef struct ms_settle_counts {
    size_t settled;    /* runs given their end now */
    size_t running;    /* runs still running (or on another machine, with no batch state) */
    size_t refolded;   /* finished runs whose pool still had records (a daemon's) */
    size_t relabelled; /* runs killed by a signal the batch system sent: its status now */
} ms_settle_counts_t;

/*
 * Settles every shard of the sweep s whose run is still `running` and whose exec is gone:
 * it ran on this machine (same boot id) and its process is no longer there, or the batch
 * system (lookup, may be NULL) says its job ended. The status is
 * ms_batch_status_unrecorded's (batch_state recorded), else `lost`.
 * Finished runs whose pool is still in spool/ get its later records too. Pools all folded
 * whose processes are gone are removed, and so are the local copies of settled runs and
 * stale temporary copies. A shard that cannot be read is left alone, with a line on
 * stderr.
 */
int ms_shard_settle(const ms_shard_sweep_t *s, ms_batch_state_fn lookup, void *arg,
                    ms_settle_counts_t *counts, char *err, size_t errlen);

/* The runs.status for a batch system's end (SLURM's job states). */
const char *ms_batch_status(const ms_batch_end_t *end);

/*
 * The same for a run whose exec died without recording its end: a state that names what
 * killed the job (memory, time limit, cancel, node failure, a signal) gives the status,
 * any other (COMPLETED, FAILED with an exit code) gives `lost`.
 */
const char *ms_batch_status_unrecorded(const ms_batch_end_t *end);

#endif
