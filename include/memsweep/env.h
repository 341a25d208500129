/*
 * Environment variables read by the preload shim. Together with the database schema
 * these are the whole contract between the shim and the rest of memsweep: the launcher
 * sets them for each worker, and anyone may set them by hand to measure a program
 * without the launcher.
 */
#ifndef MS_MEMSWEEP_ENV_H
#define MS_MEMSWEEP_ENV_H

/*
 * Path of the sweep database. With neither it nor MEMSWEEP_SPOOL set (or both empty) the
 * shim stays inert and silent; with it alone the shim creates a pool in its spool
 * directory (include/memsweep/spooldir.h).
 */
#define MS_ENV_DB "MEMSWEEP_DB"

/*
 * runs.run_id of the run this process belongs to, as earlier versions of the launcher set
 * it. The launcher now names the run in the header of the run's pool (MS_ENV_SPOOL) and
 * removes an inherited MEMSWEEP_RUN_ID from its workers' environment.
 */
#define MS_ENV_RUN_ID "MEMSWEEP_RUN_ID"

/*
 * The pool file (include/memsweep/spool.h) the processes of a run write to: set by the
 * launcher for each run, and exported by the first measured process of a program measured
 * without the launcher to its children.
 */
#define MS_ENV_SPOOL "MEMSWEEP_SPOOL"

/* The sweep directory of `memsweep exec` when --sweep is not given (read by memsweep only). */
#define MS_ENV_SWEEP "MEMSWEEP_SWEEP"

/*
 * Where a program measured without the launcher creates its pool: a directory of the user's
 * own (mode 0700). Default: "<MEMSWEEP_DB>.spool", or a node-local directory when the
 * database is on a network filesystem (docs/spool.md).
 */
#define MS_ENV_SPOOL_DIR "MEMSWEEP_SPOOL_DIR"

/* Period of the sampler thread in milliseconds (default MS_DEFAULT_INTERVAL_MS). */
#define MS_ENV_INTERVAL_MS "MEMSWEEP_INTERVAL_MS"

/* "1": the shim explains what it does on stderr. Anything else: it says nothing. */
#define MS_ENV_DEBUG "MEMSWEEP_DEBUG"

/* "0": no allocation hooks act (timer-only sampling), for comparison. Default on. */
#define MS_ENV_ALLOC "MEMSWEEP_ALLOC"

/* Growth of live heap bytes, in MiB, that triggers an `alloc` sample (default 64). */
#define MS_ENV_ALLOC_STEP_MB "MEMSWEEP_ALLOC_STEP_MB"

/* Size of a single release, in MiB, preceded by a `release` sample (default 16). */
#define MS_ENV_RELEASE_MB "MEMSWEEP_RELEASE_MB"

/*
 * Size of a block, in MiB, whose allocation stack is recorded and which is listed among
 * the large blocks live at the image's highest readings (default: the release size, 16;
 * at least 1; 0 records none).
 */
#define MS_ENV_BLOCK_MB "MEMSWEEP_BLOCK_MB"

/* Most allocation-driven samples per second per process (default 100). */
#define MS_ENV_ALLOC_MAX_PER_S "MEMSWEEP_ALLOC_MAX_PER_S"

/* "0": no stack is captured for allocation-driven peaks. Default on. */
#define MS_ENV_STACKS "MEMSWEEP_STACKS"

/*
 * Read by no part of memsweep any more: the shim's sampler thread always takes a
 * descriptor table of its own, and takes no ticks where it cannot (shim_sampler.c).
 */
#define MS_ENV_PRIVATE_FDS "MEMSWEEP_PRIVATE_FDS"

/* The dynamic loader's preload list, which the launcher prepends the shim to. */
#define MS_ENV_LD_PRELOAD "LD_PRELOAD"

#endif
