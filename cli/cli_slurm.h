/*
 * `memsweep run --slurm`: the grid submitted as SLURM job arrays, each task one
 * `memsweep exec` of the plan; and the end of such a sweep, shared with `memsweep
 * collect DIR`.
 */
#ifndef MS_CLI_CLI_SLURM_H
#define MS_CLI_CLI_SLURM_H

#include <stddef.h>

#include "planfile.h"

typedef struct ms_slurm_opts {
    const char *output;           /* parent of the sweep directory */
    const ms_plan_source_t *src;  /* the plan, as the command line gave it */
    const ms_plan_t *plan;        /* the same, initialized */
    const char *shim;             /* absolute */
    long long jobs;               /* at most this many tasks at once */
    long long interval_ms;
    char *const *sbatch_args;     /* --sbatch-arg, in order */
    size_t n_sbatch_args;
    int no_wait;
} ms_slurm_opts_t;

/* Submits, waits (unless no_wait) and writes the advisory. Returns the exit status. */
int ms_run_slurm(const ms_slurm_opts_t *o);

/*
 * The end of a sweep of shards at dir: runs whose exec is gone get their end (SLURM's
 * state when it knows), tasks of its arrays that never ran get a run each, and the
 * post-run section is written into the advisory file and, when print, on stdout.
 * *all_ok is set when every run ended ok. Returns 0, or 1 after printing why.
 */
int ms_cli_finish_shards(const char *dir, int print, int *all_ok);

#endif
