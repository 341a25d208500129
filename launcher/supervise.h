/*
 * Starting and supervising the workers of a sweep: at most -j at once, each in its own
 * process group with the shim preloaded, its output in the sweep's logs, its end recorded
 * in the database; --timeout, and the stop signals (SIGINT, SIGTERM, SIGHUP) forwarded to
 * every worker's process group.
 *
 * The supervisor is single-threaded and race-free by construction: SIGCHLD and the stop
 * signals stay blocked and are taken synchronously with sigtimedwait, so a signal is
 * never handled between a fork and the bookkeeping of the new worker.
 */
#ifndef MS_LAUNCHER_SUPERVISE_H
#define MS_LAUNCHER_SUPERVISE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"
#include "params.h"
#include "rundb.h"
#include "sweepdir.h"

/* After a stop signal, how long workers get to exit before their groups are killed. */
#define MS_STOP_GRACE_MS 3000

/*
 * A stop signal from the same sender within this long of the first is the same request
 * delivered twice (timeout -s INT signals memsweep and then its process group).
 */
#define MS_STOP_REPEAT_MS 2000

/* After --timeout sent SIGTERM, how long a worker gets before SIGKILL. */
#define MS_TIMEOUT_GRACE_MS 2000

/* Signal state of the launcher, set once by ms_signals_block. */
typedef struct ms_signals {
    sigset_t orig_mask; /* the mask memsweep started with; workers get it back */
    sigset_t stop_set;  /* SIGINT, SIGTERM, and SIGHUP unless ignored at startup */
    sigset_t wait_set;  /* stop_set and SIGCHLD: everything the supervisor waits for */
} ms_signals_t;

/*
 * Blocks SIGCHLD and the stop signals so they stay pending until the supervisor takes
 * them, gives them their default disposition (an ignored SIGCHLD would leave no child
 * to wait for), and ignores SIGPIPE so a closed stderr cannot kill the launcher in the
 * middle of a sweep. SIGINT and SIGTERM always stop a sweep, even when inherited as
 * ignored (as by a background job of a script); SIGHUP inherited as ignored (nohup)
 * stays ignored. Call it before creating anything a stop signal should leave
 * consistent. Returns 0 or a negative errno code.
 */
int ms_signals_block(ms_signals_t *s);

typedef struct ms_supervise_opts {
    const ms_plan_t *plan;
    const ms_sweepdir_t *dir;
    ms_rundb_t *db;
    ms_collector_t *collector; /* creates each run's pool and folds them */
    const ms_signals_t *signals;
    const char *shim_path;  /* absolute path, prepended to LD_PRELOAD */
    long long interval_ms;  /* MEMSWEEP_INTERVAL_MS */
    size_t jobs;            /* at least 1 */
    int64_t timeout_ns;     /* per run; 0 for none */
    int tty;                /* stderr is a terminal: one live status line */
    long long usable_mb;    /* Usable_MB of the pre-run section, for the status line; <= 0 none */

    /*
     * Scheduling (docs/usage.md); all zero for a sweep run as before: jobs workers at once,
     * in plan order, with no admission rows. With scheduled set, each start is decided by
     * admit.h's rules and recorded in the admissions table.
     */
    int scheduled;
    unsigned long long budget_kb; /* --mem-budget; 0: none */
    int jobs_auto;                /* jobs is the CPUs of -j auto */
    int64_t stagger_ns;           /* --stagger SEC; 0: none */
    int stagger_auto;             /* --stagger auto */
    int order_size;               /* --order size */
    long long retry_oom;          /* --retry-oom N; 0: none */
    double safety_factor;         /* the predictions' headroom: peak / safety_factor */
    struct ms_memavail *avail;    /* the memory available now; NULL: not consulted */
} ms_supervise_opts_t;

/* What the status line of a terminal shows (ms_progress_line). */
typedef struct ms_progress {
    size_t done, total, running, failed;
    double elapsed_s;
    unsigned long long live_kb;    /* RSS of the running workers, summed */
    long long usable_mb;           /* <= 0: not known */
    unsigned long long max_run_kb; /* the largest RSS of any run so far */
    int scheduled;                 /* the fields below are shown */
    size_t cap;                    /* at most this many at once */
    unsigned long long budget_kb;  /* 0: no budget */
    unsigned long long in_use_kb;  /* the running runs' predictions (or RSS where higher) */
    const char *waiting;           /* why the next run waits, or NULL */
} ms_progress_t;

/*
 * The status line into buf: a bar, done/total, running, failed, elapsed time, an ETA
 * (the runs left at the pace at which runs have ended so far, workers running at once
 * included; none before the first run ends), the live RSS against Usable_MB, and the
 * largest run so far. Pure, for unit tests.
 */
void ms_progress_line(const ms_progress_t *p, char *buf, size_t len);

typedef struct ms_supervise_result {
    size_t started;  /* runs that got a runs row */
    size_t finished; /* runs whose end was recorded */
    size_t ok;       /* runs with status ok */
    int stop_signal; /* the signal that interrupted the sweep, or 0 */
    int error;       /* the launcher itself failed (message already printed) */
} ms_supervise_result_t;

/*
 * Runs the whole plan and returns when no worker it started is left. Progress and
 * errors go to stderr. Returns 0 (even when runs failed or the sweep was interrupted:
 * see *res), or a negative errno code when the sweep could not start at all.
 */
int ms_supervise(const ms_supervise_opts_t *o, ms_supervise_result_t *res);

#endif
