/*
 * The launcher's writes to the sweep database, through store/: creating it, the sweeps
 * row and one runs row per run. The collector folds processes and samples into the same
 * file at the same time, over a connection of its own, so every write here is short: one
 * autocommit statement, or the few statements of a batch (ms_rundb_batch).
 *
 * Functions that fail return a negative errno-style code and put a one-line message
 * "<db path>: <reason>" (without the "memsweep: " prefix) in err.
 */
#ifndef MS_LAUNCHER_RUNDB_H
#define MS_LAUNCHER_RUNDB_H

#include <stddef.h>
#include <stdint.h>

typedef struct ms_rundb ms_rundb_t;

/* The sweeps row as the launcher records it. */
typedef struct ms_sweep_row {
    int64_t started_ns;
    const char *hostname;        /* NULL: unknown */
    int have_mem_total;
    unsigned long long mem_total_kb;
    long long reserve_mb;
    double safety_factor;
    long long interval_ms;
    long long jobs;
    const char *argv;            /* the memsweep command line */
    long long planned_runs;
    const char *mem_source;      /* where mem_total_kb came from (schema.h); NULL: none */
    int have_host_mem_total;
    unsigned long long host_mem_total_kb; /* the machine's MemTotal */
    long long cpus;              /* the CPUs the sweep may use; 0: unknown */
    const char *spool_dir;       /* where the runs' pools are (sweeps.spool_dir); NULL: none */
    const char *origin;          /* sweeps.origin; NULL: MS_ORIGIN_LAUNCHER */
    int rollback_journal;        /* a shard: no WAL (the file is whole by itself), and no
                                  * syncs (it is private until published) */
} ms_sweep_row_t;

/* Who and where a run of a sweep made of shards is (the runs columns of schema 7). */
typedef struct ms_run_identity {
    const char *uid;             /* runs.uid: the run's pool name without its suffix */
    const char *host;
    int have_node_mem;
    unsigned long long node_mem_kb;
    const char *node_mem_source;
    long long node_reserve_mb;
    long long node_cpus;         /* 0: unknown */
    const char *batch_job;       /* the batch system's job of the run; NULL: none */
    const char *recorder;        /* "<boot id> <pid> <start ticks>" of the recording process */
    const char *pool;            /* the run's pool file name, for spool_pools */
} ms_run_identity_t;

/* How a run ended, as the runs row records it. */
typedef struct ms_run_end {
    int64_t finished_ns;
    const char *status;          /* one of the MS_STATUS_* values */
    int have_exit_code;
    int exit_code;
    int have_term_signal;
    int term_signal;
    const char *uninstrumented;  /* why no process reported (runs.uninstrumented); NULL */
    int have_usage;              /* the launcher reaped it: wait4's figures below */
    unsigned long long maxrss_kb; /* ru_maxrss */
    int have_floor;
    unsigned long long floor_kb; /* runs.maxrss_floor_kb (runusage.h) */
    long long utime_us;
    long long stime_us;
} ms_run_end_t;

/* Runs of a sweep that were not measured, grouped by reason. */
typedef struct ms_unmeasured {
    char *reason;                /* runs.uninstrumented */
    size_t runs;                 /* how many runs give that reason */
} ms_unmeasured_t;

/*
 * Creates the database at path (WAL journal, synchronous NORMAL, the busy timeout, the
 * schema, application_id and user_version) and inserts the sweeps row. The file is
 * built under a temporary name and renamed into place, so that a reader that finds path
 * (`memsweep advise` started with the sweep) always finds a complete sweep database.
 */
int ms_rundb_create(const char *path, const ms_sweep_row_t *row, ms_rundb_t **out,
                    char *err, size_t errlen);

/*
 * From now on, ms_rundb_finish_run only keeps the end of a run, and the next
 * ms_rundb_start_run or ms_rundb_flush writes the kept ends in the transaction that
 * ms_rundb_flush commits: the runs that end and start at one moment of the sweep cost one
 * commit. Between ms_rundb_start_run and ms_rundb_flush the transaction holds the
 * database's write lock, which the workers' shims wait for, so flush at once.
 */
void ms_rundb_batch(ms_rundb_t *r);

/*
 * Commits what the batch holds, if anything (see ms_rundb_batch). On failure nothing of
 * it is recorded.
 */
int ms_rundb_flush(ms_rundb_t *r, char *err, size_t errlen);

/* Inserts the runs row of a run that is starting, status 'running'; sets *run_id. */
int ms_rundb_start_run(ms_rundb_t *r, size_t seq, const char *label, const char *command,
                       int64_t started_ns, long long *run_id, char *err, size_t errlen);

/*
 * Whether any process of run run_id has reported to the database: 1 if one has, 0 if
 * none has, or a negative code when the read failed.
 */
int ms_rundb_run_has_process(ms_rundb_t *r, long long run_id);

/* Records how run run_id ended (in a batch, with the batch's next commit). */
int ms_rundb_finish_run(ms_rundb_t *r, long long run_id, const ms_run_end_t *end,
                        char *err, size_t errlen);

/*
 * The runs of this sweep marked not measured, by reason, in order of their first run. A
 * process of a marked run that reported after its run ended (a child of a program the shim
 * could not enter) makes it measured after all: such runs are unmarked first. Sets *out
 * (release it with ms_unmeasured_free) and *n.
 */
int ms_rundb_unmeasured(ms_rundb_t *r, ms_unmeasured_t **out, size_t *n, char *err,
                        size_t errlen);

void ms_unmeasured_free(ms_unmeasured_t *u, size_t n);

/*
 * Records the identity of run run_id (a shard's only run), and that its records come
 * from the pool id->pool (spool_pools), so that its pool can be folded on top of any copy
 * of the database without a record counted twice.
 */
int ms_rundb_set_identity(ms_rundb_t *r, long long run_id, const ms_run_identity_t *id,
                          char *err, size_t errlen);

/* How `memsweep run` was asked to schedule the sweep (the sweeps columns of schema 9). */
typedef struct ms_schedule_row {
    unsigned long long mem_budget_kb; /* 0: no budget */
    int jobs_auto;                    /* -j auto */
    long long stagger_ms;             /* 0: none; -1: auto */
    const char *run_order;            /* "plan" or "size" */
    long long retry_oom;              /* --retry-oom N; 0: none */
} ms_schedule_row_t;

/* Records the sweep's scheduling options in its sweeps row. */
int ms_rundb_set_schedule(ms_rundb_t *r, const ms_schedule_row_t *s, char *err, size_t errlen);

/* Why and on what figures a run was started (an admissions row of schema 9). */
typedef struct ms_admission {
    int64_t decided_ns;
    const char *rule;                 /* admissions.rule */
    int have_prediction;
    unsigned long long predicted_kb;
    const char *basis;                /* NULL with no prediction */
    long long running;
    unsigned long long running_predicted_kb;
    unsigned long long running_rss_kb;
    int have_available;
    unsigned long long available_kb;
    const char *available_source;
    unsigned long long budget_kb;     /* 0: none */
    long long waited_ms;
} ms_admission_t;

/*
 * Records the admission of run run_id, and, for a retry (attempt > 1), the attempt number
 * and that the row of the attempt before (superseded_run_id) no longer stands. In a batch
 * it joins the batch's transaction, like ms_rundb_start_run.
 */
int ms_rundb_admit_run(ms_rundb_t *r, long long run_id, const ms_admission_t *a, long long attempt,
                       long long superseded_run_id, char *err, size_t errlen);

/* Sets runs.batch_state of run run_id. */
int ms_rundb_set_batch_state(ms_rundb_t *r, long long run_id, const char *state, char *err,
                             size_t errlen);

/* The connection, for folding the run's pool into the same database (no other user). */
struct sqlite3 *ms_rundb_conn(ms_rundb_t *r);

/* Sets sweeps.finished_ns. */
int ms_rundb_finish_sweep(ms_rundb_t *r, int64_t finished_ns, char *err, size_t errlen);

/*
 * The largest RSS of any sample so far, in kB (0 when there is none yet). Reads only the
 * samples added since the previous call, so calling it a few times a second stays cheap
 * on a large sweep. Returns 0, or a negative code when the read failed (for instance
 * because a writer held the database too long); *kb then keeps the last known value.
 */
int ms_rundb_max_rss(ms_rundb_t *r, unsigned long long *kb);

/* Finalizes statements and closes the connection; NULL is accepted. */
void ms_rundb_close(ms_rundb_t *r);

#endif
