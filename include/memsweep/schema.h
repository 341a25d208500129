/*
 * The sweep database: memsweep's public, versioned contract (documented in
 * docs/schema.md). memsweep alone writes it: the launcher writes sweeps and runs, and
 * memsweep folds the processes and samples the shim spools (spool.h) into it; the
 * analyzer only reads. Anything that changes a column's meaning bumps
 * MS_SCHEMA_VERSION; readers refuse a database whose user_version is newer than theirs.
 */
#ifndef MS_MEMSWEEP_SCHEMA_H
#define MS_MEMSWEEP_SCHEMA_H

/* PRAGMA application_id of every memsweep database: "MSWP" in ASCII. */
#define MS_APPLICATION_ID 0x4D535750

/* PRAGMA user_version written by this version of memsweep. */
#define MS_SCHEMA_VERSION 9

/*
 * Columns of runs added in version 7, for the runs of a sweep made of shards (one per
 * `memsweep exec`, docs/usage.md): the run's identity, unique by construction (uid), and
 * the node it ran on, since the runs of one sweep may run on machines of different sizes.
 * NULL for a run of `memsweep run`, whose node is the sweeps row's.
 */
#define MS_SCHEMA_RUNS_V7_COLUMNS                                                      \
    " uid TEXT,"                                                                       \
    " host TEXT,"                                                                      \
    " node_mem_kb INTEGER,"                                                            \
    " node_mem_source TEXT,"                                                           \
    " node_reserve_mb INTEGER,"                                                        \
    " node_cpus INTEGER,"                                                              \
    " batch_job TEXT,"                                                                 \
    " batch_state TEXT,"                                                               \
    " recorder TEXT"

/*
 * Columns of runs added in version 9, for `memsweep run --retry-oom`: the attempt of the
 * run's seq this row is (NULL: the first), and whether a later attempt of the same seq
 * replaced it (1: the analyzer leaves the row out of every statistic and count but the
 * retries'; NULL or 0: it stands).
 */
#define MS_SCHEMA_RUNS_V9_COLUMNS                                                      \
    " attempt INTEGER,"                                                                \
    " superseded INTEGER"

/*
 * Columns of sweeps added in version 9: how `memsweep run` was asked to schedule the
 * sweep (docs/usage.md). NULL everywhere for a sweep run with none of these options.
 * mem_budget_kb: --mem-budget (or the budget -j auto implies); jobs_auto: -j auto (jobs
 * then holds the CPUs it capped at); stagger_ms: --stagger SEC, or -1 for auto;
 * run_order: 'plan' or 'size'; retry_oom: --retry-oom N.
 */
#define MS_SCHEMA_SWEEPS_V9_COLUMNS                                                    \
    " mem_budget_kb INTEGER,"                                                          \
    " jobs_auto INTEGER,"                                                              \
    " stagger_ms INTEGER,"                                                             \
    " run_order TEXT,"                                                                 \
    " retry_oom INTEGER"

/*
 * One row per run started under a scheduling option (version 9): when memsweep let it
 * start and on what figures, so that readers can show how close the sweep came to its
 * budget. rule says why it started then: 'fit' (its prediction fit the budget and the
 * memory available), 'idle' (nothing was running: a run is never held back then),
 * 'alone' (predicted beyond the budget, started with nothing beside it), 'retry' (a
 * retry after an out-of-memory kill, alone), 'first' (no measurement yet: one at a time),
 * 'slot' (no budget: a worker slot and the stagger allowed it). predicted_kb is the
 * run's predicted peak with the safety factor's headroom (NULL: none), basis what it came
 * from; running, running_predicted_kb and running_rss_kb describe the runs already
 * running then (their predictions, or their RSS where higher, and their measured RSS);
 * available_kb is the memory available when it started (a cgroup's limit minus its
 * working set, or MemAvailable), budget_kb the budget (NULL: none), waited_ms how long
 * the run waited once a worker slot was free (for memory, a measurement, a run alone, or
 * the stagger).
 */
#define MS_SCHEMA_ADMISSIONS_SQL                                                       \
    "CREATE TABLE IF NOT EXISTS admissions("                                           \
    " run_id INTEGER PRIMARY KEY REFERENCES runs(run_id),"                             \
    " decided_ns INTEGER NOT NULL,"                                                    \
    " rule TEXT NOT NULL,"                                                             \
    " predicted_kb INTEGER,"                                                           \
    " basis TEXT,"                                                                     \
    " running INTEGER NOT NULL,"                                                       \
    " running_predicted_kb INTEGER,"                                                   \
    " running_rss_kb INTEGER,"                                                         \
    " available_kb INTEGER,"                                                           \
    " available_source TEXT,"                                                          \
    " budget_kb INTEGER,"                                                              \
    " waited_ms INTEGER NOT NULL DEFAULT 0);"

/*
 * Creates every table and index. Idempotent, so that the launcher and any number of
 * shims started without a launcher can all run it inside BEGIN IMMEDIATE. Times are
 * nanoseconds since the Unix epoch (CLOCK_REALTIME); sizes are KiB as the kernel
 * reports them.
 */
#define MS_SCHEMA_SQL                                                                  \
    "CREATE TABLE IF NOT EXISTS sweeps("                                               \
    " sweep_id INTEGER PRIMARY KEY,"                                                   \
    " started_ns INTEGER NOT NULL,"                                                    \
    " finished_ns INTEGER,"                                                            \
    " hostname TEXT,"                                                                  \
    " mem_total_kb INTEGER,"                                                           \
    " reserve_mb INTEGER NOT NULL,"                                                    \
    " safety_factor REAL NOT NULL,"                                                    \
    " interval_ms INTEGER NOT NULL,"                                                   \
    " jobs INTEGER,"                                                                   \
    " argv TEXT,"                                                                      \
    " planned_runs INTEGER,"                                                           \
    " origin TEXT NOT NULL DEFAULT 'launcher',"                                        \
    " mem_source TEXT,"                                                                \
    " host_mem_total_kb INTEGER,"                                                      \
    " cpus INTEGER,"                                                                   \
    " spool_dir TEXT,"                                                                 \
    MS_SCHEMA_SWEEPS_V9_COLUMNS ");"                                                   \
    "CREATE TABLE IF NOT EXISTS runs("                                                 \
    " run_id INTEGER PRIMARY KEY,"                                                     \
    " sweep_id INTEGER NOT NULL REFERENCES sweeps(sweep_id),"                          \
    " seq INTEGER NOT NULL,"                                                           \
    " label TEXT,"                                                                     \
    " command TEXT,"                                                                   \
    " started_ns INTEGER,"                                                             \
    " finished_ns INTEGER,"                                                            \
    " exit_code INTEGER,"                                                              \
    " term_signal INTEGER,"                                                            \
    " status TEXT NOT NULL DEFAULT 'running' CHECK(status IN"                          \
    "  ('ok','failed','killed','oom','timeout','interrupted','running',"              \
    "   'cancelled','lost')),"                                                         \
    " uninstrumented TEXT,"                                                            \
    " maxrss_kb INTEGER,"                                                              \
    " maxrss_floor_kb INTEGER,"                                                        \
    " utime_us INTEGER,"                                                               \
    " stime_us INTEGER,"                                                               \
    MS_SCHEMA_RUNS_V7_COLUMNS ","                                                      \
    MS_SCHEMA_RUNS_V9_COLUMNS ");"                                                     \
    "CREATE TABLE IF NOT EXISTS processes("                                            \
    " proc_id INTEGER PRIMARY KEY,"                                                    \
    " run_id INTEGER NOT NULL REFERENCES runs(run_id),"                                \
    " pid INTEGER NOT NULL,"                                                           \
    " ppid INTEGER,"                                                                   \
    " exe TEXT,"                                                                       \
    " cmdline TEXT,"                                                                   \
    " started_ns INTEGER NOT NULL,"                                                    \
    " ended_ns INTEGER,"                                                               \
    " hwm_kb INTEGER,"                                                                 \
    " end_rss_kb INTEGER,"                                                             \
    " alloc_tracking INTEGER,"                                                         \
    " alloc_dropped INTEGER,"                                                          \
    " alloc_dropped_rate INTEGER,"                                                     \
    " alloc_dropped_queue INTEGER,"                                                    \
    " unstored INTEGER,"                                                               \
    " note TEXT,"                                                                      \
    " spool_key INTEGER);"                                                             \
    "CREATE TABLE IF NOT EXISTS samples("                                              \
    " proc_id INTEGER NOT NULL REFERENCES processes(proc_id),"                         \
    " t_ns INTEGER NOT NULL,"                                                          \
    " rss_kb INTEGER NOT NULL,"                                                        \
    " hwm_kb INTEGER,"                                                                 \
    " kind TEXT NOT NULL,"                                                             \
    " heap_kb INTEGER,"                                                                \
    " stack_id INTEGER REFERENCES stacks(stack_id),"                                   \
    " rss_anon_kb INTEGER,"                                                            \
    " rss_file_kb INTEGER,"                                                            \
    " rss_shmem_kb INTEGER,"                                                           \
    " pss_kb INTEGER,"                                                                 \
    " pss_anon_kb INTEGER,"                                                            \
    " pss_shmem_kb INTEGER);"                                                          \
    "CREATE TABLE IF NOT EXISTS stacks("                                               \
    " stack_id INTEGER PRIMARY KEY,"                                                   \
    " hash INTEGER NOT NULL UNIQUE,"                                                   \
    " depth INTEGER NOT NULL,"                                                         \
    " frames TEXT NOT NULL);"                                                          \
    "CREATE TABLE IF NOT EXISTS block_readings("                                       \
    " proc_id INTEGER NOT NULL REFERENCES processes(proc_id),"                         \
    " t_ns INTEGER NOT NULL,"                                                          \
    " rss_kb INTEGER NOT NULL,"                                                        \
    " blocks INTEGER NOT NULL,"                                                        \
    " untracked INTEGER NOT NULL DEFAULT 0);"                                          \
    "CREATE TABLE IF NOT EXISTS blocks("                                               \
    " proc_id INTEGER NOT NULL REFERENCES processes(proc_id),"                         \
    " t_ns INTEGER NOT NULL,"                                                          \
    " addr INTEGER NOT NULL,"                                                          \
    " bytes INTEGER NOT NULL,"                                                         \
    " resident_kb INTEGER,"                                                            \
    " stack_id INTEGER REFERENCES stacks(stack_id),"                                   \
    " allocated_ns INTEGER);"                                                          \
    "CREATE INDEX IF NOT EXISTS blocks_by_proc ON blocks(proc_id, t_ns);"              \
    "CREATE INDEX IF NOT EXISTS block_readings_by_proc ON block_readings(proc_id);"    \
    "CREATE INDEX IF NOT EXISTS runs_by_sweep ON runs(sweep_id, seq);"                 \
    "CREATE INDEX IF NOT EXISTS processes_by_run ON processes(run_id, started_ns);"    \
    "CREATE INDEX IF NOT EXISTS samples_by_proc ON samples(proc_id, t_ns);"            \
    "CREATE INDEX IF NOT EXISTS runs_by_uid ON runs(uid) WHERE uid IS NOT NULL;"       \
    MS_SCHEMA_ADMISSIONS_SQL                                                           \
    MS_SCHEMA_SPOOL_SQL

/*
 * What version 5 added to the tables of version 4, for a database created before: the
 * columns (ALTER TABLE, run only when absent) and then MS_SCHEMA_SPOOL_SQL.
 */
#define MS_SCHEMA_V5_COLUMNS_SQL                                                       \
    "ALTER TABLE sweeps ADD COLUMN spool_dir TEXT;"                                    \
    "ALTER TABLE processes ADD COLUMN spool_key INTEGER;"

/*
 * The fold's own bookkeeping (schema 5): which pool files were folded into this database,
 * how far, and into which run. A chunk's row is written in the transaction that writes
 * the rows of its records, so the database never holds a record twice nor a cursor past
 * a record it lacks.
 */
#define MS_SCHEMA_SPOOL_SQL                                                            \
    "CREATE UNIQUE INDEX IF NOT EXISTS processes_by_spool_key ON processes(spool_key)" \
    " WHERE spool_key IS NOT NULL;"                                                    \
    "CREATE TABLE IF NOT EXISTS spool_pools("                                          \
    " pool TEXT PRIMARY KEY,"                                                          \
    " run_id INTEGER REFERENCES runs(run_id),"                                         \
    " host TEXT,"                                                                      \
    " lost_processes INTEGER NOT NULL DEFAULT 0,"                                      \
    " lost_chunks INTEGER NOT NULL DEFAULT 0,"                                         \
    " rejected INTEGER NOT NULL DEFAULT 0,"                                            \
    " rejected_reason TEXT,"                                                           \
    " removed_ns INTEGER);"                                                            \
    "CREATE TABLE IF NOT EXISTS spool_chunks("                                         \
    " pool TEXT NOT NULL,"                                                             \
    " chunk INTEGER NOT NULL,"                                                         \
    " folded INTEGER NOT NULL,"                                                        \
    " bad INTEGER NOT NULL DEFAULT 0,"                                                 \
    " PRIMARY KEY(pool, chunk)) WITHOUT ROWID;"

/* samples.kind values. Later versions add kinds; readers must accept unknown ones. */
#define MS_KIND_START "start" /* taken when the shim starts in a process image */
#define MS_KIND_TICK "tick"   /* taken by the sampler thread every interval */
#define MS_KIND_END "end"     /* taken when the process exits normally */
#define MS_KIND_ALLOC "alloc" /* live heap grew by a step since the last sample */
#define MS_KIND_RELEASE "release" /* just before a large free, munmap or shrink */
#define MS_KIND_GROWTH "growth"   /* while RSS kept rising after an alloc sample (v6) */
#define MS_KIND_EXEC "exec"       /* just before the image called exec (v6) */

/* runs.status values. */
#define MS_STATUS_OK "ok"                   /* exited with status 0 */
#define MS_STATUS_FAILED "failed"           /* non-zero exit, or could not be started */
#define MS_STATUS_KILLED "killed"           /* died from a signal memsweep did not send */
#define MS_STATUS_OOM "oom"                 /* SIGKILLed by the kernel's out-of-memory killer */
#define MS_STATUS_TIMEOUT "timeout"         /* killed by memsweep after --timeout */
#define MS_STATUS_INTERRUPTED "interrupted" /* stopped because the sweep was interrupted */
#define MS_STATUS_RUNNING "running"         /* not finished (or its recorder died) */
#define MS_STATUS_CANCELLED "cancelled"     /* v7: cancelled or preempted by the batch system */
#define MS_STATUS_LOST "lost"               /* v7: its recorder died and nothing says how it ended */

/*
 * sweeps.mem_source values: where sweeps.mem_total_kb came from. NULL (a database written
 * before version 4, or by the shim alone) means MS_MEM_SOURCE_MEMINFO. The cgroup values
 * are followed by a space and the directory of the cgroup whose limit it is; the SLURM
 * values by the variables' values ("SLURM_MEM_PER_NODE=600"). A value that starts with
 * MS_MEM_SOURCE_CGROUP_PREFIX or MS_MEM_SOURCE_SLURM_PREFIX is a limit smaller than the
 * machine, under which the reserve follows MS_LIMIT_RESERVE_* (defaults.h).
 */
#define MS_MEM_SOURCE_MEMINFO "/proc/meminfo"
#define MS_MEM_SOURCE_OPTION "--mem-total-mb"
#define MS_MEM_SOURCE_CGROUP2 "cgroup memory.max"
#define MS_MEM_SOURCE_CGROUP1 "cgroup memory.limit_in_bytes"
#define MS_MEM_SOURCE_SLURM_NODE "SLURM_MEM_PER_NODE"
#define MS_MEM_SOURCE_SLURM_CPU "SLURM_MEM_PER_CPU"
#define MS_MEM_SOURCE_CGROUP_PREFIX "cgroup "
#define MS_MEM_SOURCE_SLURM_PREFIX "SLURM_"

/* sweeps.origin values. */
#define MS_ORIGIN_LAUNCHER "launcher" /* created by memsweep run */
#define MS_ORIGIN_SHIM "shim"         /* created by a shim running without the launcher */
#define MS_ORIGIN_EXEC "exec"         /* v7: a shard, written by memsweep exec */
#define MS_ORIGIN_MERGE "merge"       /* v7: shards and databases read as one sweep */

#endif
