/*
 * Default constants of the advisory and of sampling. The advisory's formulas and the two
 * sizing constants come from the advisory specification (docs/advisory.md); they are
 * deliberately not launcher flags, but `memsweep advise` can recompute advice for other
 * values.
 */
#ifndef MS_MEMSWEEP_DEFAULTS_H
#define MS_MEMSWEEP_DEFAULTS_H

/* Multiplier applied to usable memory / per-worker memory, leaving headroom. */
#define MS_DEFAULT_SAFETY_FACTOR 0.85

/*
 * Memory kept back for the OS, the launcher and the page cache, in MiB, when the sweep
 * may use the whole machine (MemTotal of /proc/meminfo, or --mem-total-mb).
 */
#define MS_DEFAULT_RESERVE_MB 1024

/*
 * The reserve under a memory limit (a cgroup's or SLURM's) that is smaller than the
 * machine: the operating system and everything else on the machine live outside the
 * limit, so the reserve only covers what runs inside it beside the workers (memsweep
 * itself, a batch shell, SLURM's step daemon) and what grows with the sweep inside it
 * (the page cache of the logs and the database, the workers' kernel memory). A tenth of
 * the limit, rounded to the nearest MiB, at least MS_LIMIT_RESERVE_MIN_MB and at most
 * the whole machine's MS_DEFAULT_RESERVE_MB (docs/advisory.md).
 */
#define MS_LIMIT_RESERVE_PCT 10
#define MS_LIMIT_RESERVE_MIN_MB 64
#define MS_LIMIT_RESERVE_MAX_MB MS_DEFAULT_RESERVE_MB

/* The reserve under a limit of limit_mb MiB (limit_mb >= 0, below 2^50). */
static inline long long ms_limit_reserve_mb(long long limit_mb)
{
    const long long r = (limit_mb * MS_LIMIT_RESERVE_PCT + 50) / 100;

    if (r < MS_LIMIT_RESERVE_MIN_MB)
        return MS_LIMIT_RESERVE_MIN_MB;
    if (r > MS_LIMIT_RESERVE_MAX_MB)
        return MS_LIMIT_RESERVE_MAX_MB;
    return r;
}

/* Period of the shim's sampler thread, in milliseconds. */
#define MS_DEFAULT_INTERVAL_MS 500

/* Accepted range for the sampling period, in milliseconds. */
#define MS_MIN_INTERVAL_MS 1
#define MS_MAX_INTERVAL_MS 3600000

/* Allocation-driven sampling (see env.h for the variables that override these). */
#define MS_DEFAULT_ALLOC_STEP_MB 64
#define MS_DEFAULT_RELEASE_MB 16
#define MS_DEFAULT_ALLOC_MAX_PER_S 100
#define MS_DEFAULT_BLOCK_MB MS_DEFAULT_RELEASE_MB

/* Most large blocks a second whose allocation stack is taken; the rest go without one. */
#define MS_BLOCK_STACKS_PER_S 1000

/* Deepest stack captured for an allocation-driven peak. */
#define MS_MAX_STACK_FRAMES 64

/* A periodic peak this many percent below the true peak counts as a miss in `peaks`. */
#define MS_PEAK_MISS_PCT_SMALL 5.0
#define MS_PEAK_MISS_PCT_LARGE 20.0

/* A peak above this multiple of the mean end RSS triggers the divergence warning. */
#define MS_DIVERGENCE_RATIO 1.2

/* The advisory warns when fewer runs than this enter its statistics. */
#define MS_FEW_RUNS 5

/* ... and when more than this percentage of the runs were left out of them. */
#define MS_LEFT_OUT_PCT 10

/* Default parent of sweep directories created by `memsweep run`. */
#define MS_DEFAULT_OUTPUT_DIR "results/memsweep"

/* File names inside a sweep directory. */
#define MS_ADVISORY_FILE "memory_advisory.txt"
#define MS_DB_FILE "memsweep.db"

/* A sweep made of shards (`memsweep exec`): DIR/shards/<uid>.db, DIR/spool/<uid>.msp. */
#define MS_SHARDS_DIR "shards"
#define MS_SHARD_SPOOL_DIR "spool"
#define MS_SHARD_SUFFIX ".db"
#define MS_LOG_DIR "logs"

/* SQLite busy timeout used by every writer, in milliseconds. */
#define MS_BUSY_TIMEOUT_MS 10000

#endif
