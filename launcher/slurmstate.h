/*
 * What SLURM says about how a job or array task ended, for the runs whose `memsweep exec`
 * was killed with them (shardfix.h). Asked, in this order, of: `sacct` (when accounting
 * is kept), `scontrol show job` (while slurmctld remembers the job, MinJobAge), and the
 * job-completion log of JobCompType=jobcomp/filetxt (JobCompLoc). With
 * JobAcctGatherParams=OverMemoryKill a task over its --mem ends FAILED with signal 9
 * and slurmstepd says why in the task's standard error, which is read too.
 */
#ifndef MS_LAUNCHER_SLURMSTATE_H
#define MS_LAUNCHER_SLURMSTATE_H

#include <stddef.h>

#include "shardfix.h"

/*
 * Finds the value of key in a line of `KEY=VALUE` words (scontrol -o, the jobcomp log):
 * copies it into out and returns 1, or returns 0. A value runs to the next word that
 * looks like a key (letters then '='), so values with blanks are whole.
 */
int ms_slurm_field(const char *line, const char *key, char *out, size_t len);

/*
 * Fills *end from one record (a line of `scontrol show job -o` or of the jobcomp log):
 * JobState (without a "by UID" suffix), ExitCode "N:S" (exit code, signal). Returns 1 when
 * the state is a final one (not PENDING, RUNNING, SUSPENDED, COMPLETING, CONFIGURING,
 * REQUEUED...), else 0.
 */
int ms_slurm_parse_end(const char *line, ms_batch_end_t *end);

/*
 * Whether the record is of job ("<array job>_<task>" or a job id): its JobId, or its
 * ArrayJobId and ArrayTaskId.
 */
int ms_slurm_record_is(const char *line, const char *job);

/* Looks for slurmstepd's memory-kill line in text; copies it into out. 1 or 0. */
int ms_slurm_memory_kill_line(const char *text, char *out, size_t len);

/* An ms_batch_state_fn asking SLURM's commands (arg unused). */
int ms_slurm_lookup(void *arg, const char *job, ms_batch_end_t *end);

/*
 * Runs argv (found through PATH) with standard input and error on /dev/null, no signal
 * blocked and the user's SQUEUE_* variables unset, and returns its standard output in a
 * new string; NULL when it could not run, did not exit 0, or said more than 16 MiB.
 */
char *ms_slurm_capture(char *const argv[]);

/* The cluster's MaxArraySize (`scontrol show config`), or 1001, SLURM's default. */
long long ms_slurm_max_array_size(void);

/*
 * The final state of each task of array id (tasks 0 to count - 1), with one query of each
 * source for the whole array: have[t] is set where task t has ended (a task cancelled
 * while pending is in a record of ranges, "ArrayTaskId=5-1000").
 */
void ms_slurm_array_lookup(const char *id, long long count, ms_batch_end_t *ends,
                           unsigned char *have);

/* Whether SLURM's commands can be run here (scontrol is in PATH). */
int ms_slurm_available(void);

#endif
