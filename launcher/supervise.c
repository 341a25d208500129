/* Starting, watching and stopping the workers of a sweep (see supervise.h). */
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "admit.h"
#include "climsg.h"
#include "clock.h"
#include "exeprobe.h"
#include "memavail.h"
#include "memsweep/env.h"
#include "memsweep/schema.h"
#include "predict.h"
#include "runusage.h"

#define NS_PER_MS 1000000LL

/* While the next run waits for free memory, it is looked at again this often. */
#define AVAIL_RECHECK_NS (250 * NS_PER_MS)

/* The memory available is read at most this often. */
#define AVAIL_READ_NS (100 * NS_PER_MS)

/* --order size picks the largest predicted run among at most this many next in plan order. */
#define ORDER_WINDOW 1024

/*
 * How much more than memsweep a worker is preferred as the out-of-memory killer's victim
 * (oom_score_adj, -1000..1000): half of the scale, so that a worker of any size goes before
 * the launcher, whose own score is its small RSS, while workers keep their order by size.
 */
#define WORKER_OOM_SCORE_ADJ 500

/* Redraw period of the live status line, and the longest sleep without it. */
#define TICK_TTY_NS (200 * NS_PER_MS)
#define TICK_PLAIN_NS (1000 * NS_PER_MS)

/* The status line is redrawn at most this often. */
#define DRAW_NS (100 * NS_PER_MS)

/* The largest RSS is read from the database at most this often. */
#define RSS_POLL_NS (500 * NS_PER_MS)

extern char **environ;

/* One running worker. pid 0 marks a free slot. */
typedef struct slot {
    pid_t pid;
    long long run_id;
    size_t seq;
    char *label;
    int64_t start_mono;
    int64_t deadline;    /* --timeout expiry on the monotonic clock, 0 for none */
    int64_t kill_at;     /* when to SIGKILL the group after SIGTERM, 0 for not pending */
    int timed_out;       /* memsweep sent SIGTERM because of --timeout */
    int interrupted;     /* memsweep forwarded a stop signal to it */
    int have_floor;
    unsigned long long floor_kb; /* the floor under its ru_maxrss (runusage.h) */
    int have_oom_start;
    unsigned long long oom_start; /* the out-of-memory kill count when it started */
    long long attempt;   /* 1, or the attempt of a retry */
    int64_t start_real;  /* CLOCK_REALTIME when it started */
    int have_prediction;
    unsigned long long predicted_kb; /* its predicted peak when it started */
    int alone;           /* nothing may start beside it (a retry, or beyond the budget) */
    int new_value;       /* it has a parameter value no finished run had when it started */
    size_t *choice;      /* its parameters' value indices (scheduled sweeps with parameters) */
} slot_t;

/* A run to retry alone after an out-of-memory kill. */
typedef struct retry {
    size_t seq;
    long long attempt;     /* the attempt it will be */
    long long prev_run_id; /* the runs row of the attempt before */
} retry_t;

/* The run that would start next, and its prediction. */
typedef struct candidate {
    size_t seq;
    size_t pos;            /* its index in pending (plan runs), or SIZE_MAX for a retry */
    long long attempt;
    long long prev_run_id;
    int have_prediction;
    unsigned long long predicted_kb;
    char basis[MS_PREDICT_BASIS_MAX];
    int new_value;         /* a parameter value no finished run had */
} candidate_t;

/* The environment every worker gets; only the pool changes from one run to the next. */
typedef struct worker_env {
    char **envp;
    char *own[3];        /* LD_PRELOAD, MEMSWEEP_DB, MEMSWEEP_INTERVAL_MS entries */
    char spool[PATH_MAX + 32]; /* MEMSWEEP_SPOOL=..., the last entry of envp */
} worker_env_t;

/*
 * The process group of a run whose leader is gone but which memsweep was stopping
 * (timeout or interruption): members that ignored the signal are killed when the grace
 * period ends, not left running after the run is recorded.
 */
typedef struct lingering {
    pid_t pgid;
    int64_t kill_at;
} lingering_t;

typedef struct sup {
    const ms_supervise_opts_t *o;
    ms_supervise_result_t *res;
    slot_t *slots;
    size_t n_slots;
    size_t running;
    size_t next_seq;     /* next run to start, 1-based */
    size_t not_ok;
    worker_env_t env;
    int null_fd;
    int prepared_fd[2];  /* logs of run prepared_seq, created ahead (stdout, stderr) */
    size_t prepared_seq; /* 0: none prepared */
    int64_t stop_deadline; /* SIGKILL every group then; 0 when not pending */
    pid_t stop_sender;     /* who sent the first stop signal (0: the kernel, a terminal) */
    int64_t stop_at;       /* when it came */
    int64_t next_rss_poll;
    int64_t next_draw;
    unsigned long long max_rss_kb;
    int64_t start_ns;    /* CLOCK_MONOTONIC when the sweep started */
    int status_shown;    /* a status line is on the terminal */
    lingering_t *lingering;
    size_t n_lingering;
    size_t cap_lingering;
    ms_oom_counter_t oom;             /* where out-of-memory kills are counted */
    unsigned long long oom_seen;      /* the count last read */
    unsigned long long oom_unclaimed; /* kills counted but not yet given to a run */

    /* Scheduling (o->scheduled). */
    size_t *pending;     /* plan runs not started, in plan order from pend_head */
    size_t n_pending, pend_head;
    retry_t *retries;    /* runs to retry, first in first out */
    size_t n_retries, cap_retries;
    ms_predict_t *predict;
    size_t *choice;      /* scratch: a run's value indices */
    int64_t last_start;  /* CLOCK_MONOTONIC of the last start; 0: none yet */
    int64_t wait_since;  /* since when a free worker waits for the next run; 0: not waiting */
    int64_t next_recheck; /* when a run waiting for memory is looked at again; 0: none */
    ms_admit_verdict_t verdict; /* why the next run waited at the last look */
    unsigned long long in_use_kb; /* at the last look */
    int oom_adj;          /* the workers' oom_score_adj; INT_MIN: leave it */
    char oom_adj_text[16];
    size_t n_oversize;    /* runs that started alone, predicted beyond the budget */
    int have_avail;
    unsigned long long avail_kb;
    char avail_source[160];
    int64_t avail_read_at;
    unsigned long long *order_kb; /* --order size: cached predictions by seq - 1 */
    size_t *order_gen;            /* the predictor's count they were made at, plus 1 */
} sup_t;

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    case SIGHUP:
        return "SIGHUP";
    default:
        return "a signal";
    }
}

int ms_signals_block(ms_signals_t *s)
{
    struct sigaction sa;

    /*
     * SIGINT and SIGTERM always stop the sweep, even when inherited as ignored (a
     * background job of a script): memsweep must stay stoppable. An ignored SIGHUP is a
     * deliberate nohup and stays ignored.
     */
    sigemptyset(&s->stop_set);
    sigaddset(&s->stop_set, SIGINT);
    sigaddset(&s->stop_set, SIGTERM);
    if (sigaction(SIGHUP, NULL, &sa) != 0)
        return -errno;
    if (sa.sa_handler != SIG_IGN)
        sigaddset(&s->stop_set, SIGHUP);
    s->wait_set = s->stop_set;
    sigaddset(&s->wait_set, SIGCHLD);

    /* Default dispositions: a blocked signal stays pending for sigtimedwait. */
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sigismember(&s->wait_set, sig) == 1 && sigaction(sig, &sa, NULL) != 0)
            return -errno;
    }
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return -errno;
    if (sigprocmask(SIG_BLOCK, &s->wait_set, &s->orig_mask) != 0)
        return -errno;
    return 0;
}

/* Nonzero when the environment entry e sets the variable name. */
static int env_is(const char *e, const char *name)
{
    const size_t n = strlen(name);

    return strncmp(e, name, n) == 0 && e[n] == '=';
}

static void env_free(worker_env_t *w)
{
    for (size_t i = 0; i < sizeof w->own / sizeof w->own[0]; i++)
        free(w->own[i]);
    free(w->envp);
    memset(w, 0, sizeof *w);
}

static int env_init(worker_env_t *w, const ms_supervise_opts_t *o)
{
    const char *old_preload = getenv(MS_ENV_LD_PRELOAD);
    char **own = w->own;
    size_t n = 0;
    size_t k = 0;
    int rc;

    memset(w, 0, sizeof *w);
    /* The loader splits LD_PRELOAD at colons and blanks; the caller checked the path. */
    if (old_preload != NULL && *old_preload != '\0')
        rc = asprintf(&own[0], "%s=%s:%s", MS_ENV_LD_PRELOAD, o->shim_path, old_preload);
    else
        rc = asprintf(&own[0], "%s=%s", MS_ENV_LD_PRELOAD, o->shim_path);
    if (rc < 0) {
        own[0] = NULL;
        goto fail;
    }
    if (asprintf(&own[1], "%s=%s", MS_ENV_DB, o->dir->db_path) < 0) {
        own[1] = NULL;
        goto fail;
    }
    if (asprintf(&own[2], "%s=%lld", MS_ENV_INTERVAL_MS, o->interval_ms) < 0) {
        own[2] = NULL;
        goto fail;
    }

    for (char **e = environ; *e != NULL; e++)
        n++;
    w->envp = calloc(n + 5, sizeof *w->envp);
    if (w->envp == NULL)
        goto fail;
    /*
     * Inherit everything except the variables memsweep sets for the worker, and a run id
     * of an enclosing sweep, which would file the worker's processes under another run.
     */
    for (char **e = environ; *e != NULL; e++) {
        if (env_is(*e, MS_ENV_LD_PRELOAD) || env_is(*e, MS_ENV_DB) ||
            env_is(*e, MS_ENV_RUN_ID) || env_is(*e, MS_ENV_INTERVAL_MS) ||
            env_is(*e, MS_ENV_SPOOL))
            continue;
        w->envp[k++] = *e;
    }
    for (size_t i = 0; i < 3; i++)
        w->envp[k++] = own[i];
    w->envp[k++] = w->spool;
    w->envp[k] = NULL;
    return 0;

fail:
    env_free(w);
    return -ENOMEM;
}

/* In the child: becomes the worker, or reports why it could not and exits 127. */
static void child_exec(const sup_t *s, const ms_run_spec_t *spec, int out_fd, int err_fd)
{
    static const int reset[] = {SIGPIPE, SIGCHLD, SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    const char *what;
    char msg[512];
    int e;
    int n;

    /* The parent calls setpgid too: whichever runs first wins the race harmlessly. */
    setpgid(0, 0);
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_DFL;
    for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++) {
        /* A SIGHUP ignored when memsweep started stays ignored (nohup). */
        if (reset[i] == SIGHUP && !sigismember(&s->o->signals->stop_set, SIGHUP))
            continue;
        sigaction(reset[i], &sa, NULL);
    }
    sigprocmask(SIG_SETMASK, &s->o->signals->orig_mask, NULL);
    ms_collector_child_limits(s->o->collector);
    if (s->oom_adj != INT_MIN) {
        /* Raising one's own score needs no privilege; a failure leaves it as it was. */
        const int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            (void)!write(fd, s->oom_adj_text, strlen(s->oom_adj_text));
            close(fd);
        }
    }
    if (dup2(s->null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
        dup2(err_fd, STDERR_FILENO) < 0)
        _exit(127);
    if (spec->argv != NULL) {
        what = spec->argv[0];
        execvpe(spec->argv[0], spec->argv, s->env.envp);
    } else {
        char *const sh_argv[] = {"sh", "-c", spec->line, NULL};
        what = "/bin/sh";
        execve("/bin/sh", sh_argv, s->env.envp);
    }
    e = errno;
    n = snprintf(msg, sizeof msg, "memsweep: %s: %s\n", what, strerror(e));
    if (n > 0)
        (void)!write(STDERR_FILENO, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    _exit(127);
}

static void clear_status(sup_t *s)
{
    if (s->status_shown) {
        fputs("\r\033[K", stderr);
        s->status_shown = 0;
    }
}

/* m:ss, or h:mm:ss from an hour on. */
static void clock_text(double secs, char *buf, size_t len)
{
    const long long t = secs > 0 ? (long long)(secs + 0.5) : 0;

    if (t >= 3600)
        snprintf(buf, len, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%lld:%02lld", t / 60, t % 60);
}

void ms_progress_line(const ms_progress_t *p, char *buf, size_t len)
{
    enum { BAR = 20 };
    char bar[BAR + 1], el[32], eta[48], mem[96], big[48], cap[48], sched[160];
    const size_t filled = p->total > 0 ? p->done * BAR / p->total : 0;

    for (size_t i = 0; i < BAR; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[BAR] = '\0';
    clock_text(p->elapsed_s, el, sizeof el);
    eta[0] = '\0';
    if (p->done > 0 && p->done < p->total) {
        /* Runs end at the pace seen so far; jobs of them go on at once. */
        char t[32];
        clock_text(p->elapsed_s / (double)p->done * (double)(p->total - p->done), t, sizeof t);
        snprintf(eta, sizeof eta, ", ETA %s", t);
    }
    if (p->usable_mb > 0)
        snprintf(mem, sizeof mem, ", RSS %.0f of %lld MiB", (double)p->live_kb / 1024.0,
                 p->usable_mb);
    else
        snprintf(mem, sizeof mem, ", RSS %.0f MiB", (double)p->live_kb / 1024.0);
    if (p->max_run_kb > 0)
        snprintf(big, sizeof big, ", largest %.1f MiB", (double)p->max_run_kb / 1024.0);
    else
        big[0] = '\0';
    cap[0] = sched[0] = '\0';
    if (p->scheduled) {
        size_t o = 0;
        snprintf(cap, sizeof cap, " (at most %zu)", p->cap);
        if (p->budget_kb > 0)
            o += (size_t)snprintf(sched, sizeof sched, ", budget %.0f of %.0f MiB",
                                  (double)p->in_use_kb / 1024.0, (double)p->budget_kb / 1024.0);
        if (p->waiting != NULL && o < sizeof sched)
            snprintf(sched + o, sizeof sched - o, ", %s", p->waiting);
    }
    snprintf(buf, len, "memsweep: [%s] %zu/%zu done, %zu running%s, %zu failed, %s%s%s%s%s", bar,
             p->done, p->total, p->running, cap, p->failed, el, eta, mem, big, sched);
}

static void draw_status(sup_t *s)
{
    const ms_supervise_opts_t *o = s->o;
    ms_progress_t p = {
        .done = s->res->finished,
        .total = o->plan->n_runs,
        .running = s->running,
        .failed = s->not_ok,
        .elapsed_s = (double)(ms_mono_ns() - s->start_ns) / 1e9,
        .live_kb = ms_collector_live_rss_kb(o->collector),
        .usable_mb = o->usable_mb,
        .max_run_kb = s->max_rss_kb,
        .scheduled = o->scheduled,
        .cap = s->n_slots,
        .budget_kb = o->budget_kb,
        .in_use_kb = s->in_use_kb,
        .waiting = s->verdict != MS_ADMIT_START && s->verdict != MS_ADMIT_WAIT_CAP
                       ? ms_admit_verdict_text(s->verdict)
                       : NULL,
    };
    char line[512];

    if (!o->tty)
        return;
    ms_progress_line(&p, line, sizeof line);
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    s->status_shown = 1;
}

/* A line that stays: above the status line on a terminal. */
static void print_line(sup_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void print_line(sup_t *s, const char *fmt, ...)
{
    va_list ap;

    clear_status(s);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

/* Records a run that never became a worker because memsweep itself failed. */
static void record_unstarted(sup_t *s, long long run_id)
{
    ms_run_end_t end = {.finished_ns = ms_now_ns(), .status = MS_STATUS_FAILED};
    char err[512];

    (void)ms_collector_run_done(s->o->collector, run_id);
    if (ms_rundb_finish_run(s->o->db, run_id, &end, err, sizeof err) != 0)
        print_line(s, "memsweep: %s\n", err);
    s->res->finished++;
    s->not_ok++;
}

/* Opens a log file of run seq for the worker to write; -errno with the message printed. */
static int open_log(sup_t *s, size_t seq, const char *ext)
{
    char *path = ms_sweepdir_log_path(s->o->dir, seq, ext);
    int fd;

    if (path == NULL) {
        print_line(s, "memsweep: %s\n", strerror(ENOMEM));
        return -ENOMEM;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        fd = -errno;
        print_line(s, "memsweep: %s: %s\n", path, strerror(-fd));
    }
    free(path);
    return fd;
}

/* Closes the logs prepared ahead, and removes them when no run will use them. */
static void drop_prepared(sup_t *s, int remove)
{
    static const char *const ext[2] = {"out", "err"};

    for (int i = 0; i < 2; i++) {
        char *path;
        if (s->prepared_fd[i] < 0)
            continue;
        close(s->prepared_fd[i]);
        s->prepared_fd[i] = -1;
        path = remove ? ms_sweepdir_log_path(s->o->dir, s->prepared_seq, ext[i]) : NULL;
        if (path != NULL)
            (void)unlink(path);
        free(path);
    }
    s->prepared_seq = 0;
}

/*
 * Creates the logs of the next run while the launcher would otherwise sleep: creating a
 * file is the launcher's largest cost per run on some file systems (ext4 without a journal
 * searches for a free inode among recently deleted ones), and done here it no longer
 * delays the start of a run when a slot frees up. Skipped when an event is already waiting.
 * Returns 0, or a negative code after printing why, as start_run would have.
 */
static int prepare_logs(sup_t *s)
{
    const size_t seq = !s->o->scheduled ? s->next_seq
                       : s->n_retries == 0 && !s->o->order_size && s->pend_head < s->n_pending
                           ? s->pending[s->pend_head]
                           : 0;
    sigset_t pending;

    if (seq == 0 || s->prepared_seq == seq || seq > s->o->plan->n_runs ||
        s->res->stop_signal != 0 || s->res->error)
        return 0;
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGCHLD) == 1)
        return 0;
    drop_prepared(s, 1);
    s->prepared_fd[0] = open_log(s, seq, "out");
    if (s->prepared_fd[0] < 0)
        return s->prepared_fd[0];
    s->prepared_fd[1] = open_log(s, seq, "err");
    if (s->prepared_fd[1] < 0) {
        const int rc = s->prepared_fd[1];
        drop_prepared(s, 1);
        return rc;
    }
    s->prepared_seq = seq;
    return 0;
}

/* The label a run is predicted and learned by: its label as ms_plan_expand makes it. */
static char *run_label(const sup_t *s, size_t seq, const size_t *choice)
{
    const ms_plan_t *plan = s->o->plan;

    if (plan->commands != NULL)
        return ms_label_text(plan->commands->lines[seq - 1], MS_LABEL_LINE_MAX);
    return ms_params_label(plan->params, choice);
}

/* The value indices of run seq in s->choice; NULL for a sweep without parameters. */
static const size_t *run_choice(sup_t *s, size_t seq)
{
    if (s->choice == NULL)
        return NULL;
    ms_params_choice(s->o->plan->params, seq - 1, s->choice);
    return s->choice;
}

/* The prediction of run seq into c (have_prediction 0 when there is none). */
static void predict_seq(sup_t *s, size_t seq, candidate_t *c)
{
    const size_t *choice = run_choice(s, seq);
    char *label = run_label(s, seq, choice);

    c->have_prediction = label != NULL && ms_predict_run(s->predict, choice, label,
                                                         &c->predicted_kb, c->basis,
                                                         sizeof c->basis) == 1;
    c->new_value = ms_predict_is_new(s->predict, choice);
    if (!c->have_prediction) {
        c->predicted_kb = 0;
        c->basis[0] = '\0';
    }
    free(label);
}

/* Whether any run is left to start. */
static int runs_left(const sup_t *s)
{
    if (!s->o->scheduled)
        return s->next_seq <= s->o->plan->n_runs;
    return s->n_retries > 0 || s->pend_head < s->n_pending;
}

/*
 * The run to start next: a retry first (in the order of their kills), else the next run
 * in plan order, or with --order size the largest predicted among the next ORDER_WINDOW
 * (the first of them on a tie, so that without predictions the order is the plan's).
 * Returns 0 when no run is left.
 */
static int pick(sup_t *s, candidate_t *c)
{
    memset(c, 0, sizeof *c);
    c->attempt = 1;
    c->pos = SIZE_MAX;
    if (!s->o->scheduled) {
        c->seq = s->next_seq;
        return s->next_seq <= s->o->plan->n_runs;
    }
    if (s->n_retries > 0) {
        c->seq = s->retries[0].seq;
        c->attempt = s->retries[0].attempt;
        c->prev_run_id = s->retries[0].prev_run_id;
    } else if (s->pend_head < s->n_pending) {
        size_t best = s->pend_head;
        if (s->o->order_size && ms_predict_count(s->predict) > 0) {
            const size_t gen = ms_predict_count(s->predict) + 1;
            const size_t end = s->n_pending - s->pend_head > ORDER_WINDOW
                                   ? s->pend_head + ORDER_WINDOW
                                   : s->n_pending;
            unsigned long long best_kb = 0;
            for (size_t i = s->pend_head; i < end; i++) {
                const size_t q = s->pending[i] - 1;
                if (s->order_gen[q] != gen) {
                    candidate_t t;
                    predict_seq(s, q + 1, &t);
                    s->order_kb[q] = t.have_prediction ? t.predicted_kb : 0;
                    s->order_gen[q] = gen;
                }
                if (s->order_kb[q] > best_kb) {
                    best_kb = s->order_kb[q];
                    best = i;
                }
            }
        }
        c->seq = s->pending[best];
        c->pos = best;
    } else {
        return 0;
    }
    predict_seq(s, c->seq, c);
    return 1;
}

/* Takes the candidate out of the runs left, once it has started (or could not). */
static void dequeue(sup_t *s, const candidate_t *c)
{
    if (!s->o->scheduled) {
        s->next_seq++;
    } else if (c->pos == SIZE_MAX) {
        memmove(s->retries, s->retries + 1, (s->n_retries - 1) * sizeof *s->retries);
        s->n_retries--;
    } else {
        /* Keeps the plan order of the others: the runs before it move up by one. */
        memmove(s->pending + s->pend_head + 1, s->pending + s->pend_head,
                (c->pos - s->pend_head) * sizeof *s->pending);
        s->pend_head++;
    }
}

/*
 * What the running runs are predicted to use, or use where more (*in_use), and what they
 * are still predicted to grow by (*to_grow). Returns bit 0 when one of them must run
 * alone, bit 1 when one has a parameter value no finished run had.
 */
static int running_use(const sup_t *s, unsigned long long *in_use, unsigned long long *to_grow)
{
    int alone = 0;

    *in_use = *to_grow = 0;
    for (size_t i = 0; i < s->n_slots; i++) {
        const slot_t *sl = &s->slots[i];
        unsigned long long live = 0, peak = 0;
        int64_t at;
        if (sl->pid == 0)
            continue;
        alone |= sl->alone;
        alone |= sl->new_value << 1;
        if (ms_collector_run_rss(s->o->collector, sl->run_id, &live, &peak, &at) != 0)
            live = 0;
        *in_use += sl->predicted_kb > live ? sl->predicted_kb : live;
        *to_grow += sl->predicted_kb > live ? sl->predicted_kb - live : 0;
    }
    return alone;
}

/* The memory available now, read at most every AVAIL_READ_NS. */
static void read_available(sup_t *s, int64_t now)
{
    if (s->o->avail == NULL || (s->avail_read_at != 0 && now - s->avail_read_at < AVAIL_READ_NS))
        return;
    s->have_avail = ms_memavail_read(s->o->avail, &s->avail_kb, s->avail_source,
                                     sizeof s->avail_source) == 0;
    s->avail_read_at = now;
}

/*
 * Gathers the figures of the admission of c and decides (admit.h). *in keeps them for the
 * record.
 */
static ms_admit_verdict_t decide(sup_t *s, const candidate_t *c, int64_t now, ms_admit_in_t *in,
                                 const char **rule, int *oversize)
{
    const ms_supervise_opts_t *o = s->o;

    memset(in, 0, sizeof *in);
    in->running = (unsigned)s->running;
    in->cap = (unsigned)s->n_slots;
    in->candidate_retry = c->attempt > 1;
    in->since_start_ns = s->last_start != 0 ? now - s->last_start : -1;
    in->stagger_ns = o->stagger_ns;
    if (o->stagger_auto) {
        int64_t t;
        /* Until a run has finished with a peak, one at a time. */
        if (ms_predict_to_peak_ns(s->predict, &t))
            in->stagger_ns = t > 0 ? t : 1;
        else if (s->running > 0)
            in->running_alone = 1;
    }
    in->budget_kb = o->budget_kb;
    in->have_prediction = c->have_prediction;
    in->predicted_kb = c->predicted_kb;
    {
        const int r = running_use(s, &in->in_use_kb, &in->to_grow_kb);
        in->running_alone |= r & 1;
        in->running_new = (r & 2) != 0;
    }
    in->candidate_new = c->new_value;
    read_available(s, now);
    in->have_available = s->have_avail;
    in->available_kb = s->avail_kb;
    s->in_use_kb = in->in_use_kb;
    return ms_admit_decide(in, rule, oversize);
}

/* The RSS of the running runs, summed as the collector last read them. */
static unsigned long long running_rss_kb(const sup_t *s)
{
    unsigned long long sum = 0;

    for (size_t i = 0; i < s->n_slots; i++) {
        unsigned long long live, peak;
        int64_t at;
        if (s->slots[i].pid != 0 &&
            ms_collector_run_rss(s->o->collector, s->slots[i].run_id, &live, &peak, &at) == 0)
            sum += live;
    }
    return sum;
}

/*
 * Starts run c->seq in slot. in and rule are the admission's figures when the sweep is
 * scheduled (NULL otherwise). Returns 0, or a negative code after printing why.
 */
static int start_run(sup_t *s, slot_t *slot, const candidate_t *c, const ms_admit_in_t *in,
                     const char *rule, int oversize)
{
    const ms_supervise_opts_t *o = s->o;
    const size_t seq = c->seq;
    int64_t started_ns;
    ms_run_spec_t spec;
    char err[512];
    long long run_id;
    int out_fd = -1;
    int err_fd = -1;
    pid_t pid;
    int rc;

    rc = ms_plan_expand(o->plan, seq, &spec);
    if (rc != 0) {
        print_line(s, "memsweep: %s\n", strerror(-rc));
        return rc;
    }
    if (s->prepared_seq == seq && c->attempt == 1) {
        out_fd = s->prepared_fd[0];
        err_fd = s->prepared_fd[1];
        s->prepared_fd[0] = s->prepared_fd[1] = -1;
        s->prepared_seq = 0;
    } else {
        /* A retry keeps the logs of the attempt before: run-0003.attempt2.out. */
        char ext[2][32];
        snprintf(ext[0], sizeof ext[0], c->attempt > 1 ? "attempt%lld.out" : "out", c->attempt);
        snprintf(ext[1], sizeof ext[1], c->attempt > 1 ? "attempt%lld.err" : "err", c->attempt);
        out_fd = open_log(s, seq, ext[0]);
        if (out_fd < 0) {
            rc = out_fd;
            goto out;
        }
        err_fd = open_log(s, seq, ext[1]);
        if (err_fd < 0) {
            rc = err_fd;
            goto out;
        }
    }
    /* The admission is decided now: the run's start and the decision have one time. */
    started_ns = ms_now_ns();
    rc = ms_rundb_start_run(o->db, seq, spec.label, spec.command, started_ns, &run_id, err,
                            sizeof err);
    if (rc != 0) {
        print_line(s, "memsweep: %s\n", err);
        goto out;
    }
    dequeue(s, c);
    s->res->started++;
    if (o->scheduled) {
        const int64_t now = ms_mono_ns();
        const ms_admission_t a = {
            .decided_ns = started_ns,
            .rule = rule,
            /* Without a budget nothing was decided on a prediction: none is recorded. */
            .have_prediction = c->have_prediction && o->budget_kb > 0,
            .predicted_kb = c->predicted_kb,
            .basis = c->basis,
            .running = (long long)s->running,
            .running_predicted_kb = in->in_use_kb,
            .running_rss_kb = running_rss_kb(s),
            .have_available = in->have_available,
            .available_kb = in->available_kb,
            .available_source = s->avail_source,
            .budget_kb = o->budget_kb,
            .waited_ms = s->wait_since != 0 ? (now - s->wait_since) / NS_PER_MS : 0,
        };
        rc = ms_rundb_admit_run(o->db, run_id, &a, c->attempt, c->prev_run_id, err, sizeof err);
        if (rc != 0) {
            print_line(s, "memsweep: %s\n", err);
            record_unstarted(s, run_id);
            goto out;
        }
        if (oversize && s->n_oversize++ == 0)
            print_line(s,
                       "memsweep: warning: run %zu (%s) is predicted to need %.1f MiB (%s), "
                       "more than the budget of %.1f MiB: it runs alone (the count of such "
                       "runs comes at the end)\n",
                       seq, spec.label, (double)c->predicted_kb / 1024.0, c->basis,
                       (double)o->budget_kb / 1024.0);
    }
    /*
     * The runs row is committed, with the ends recorded since the last commit, before the
     * worker exists, and the write lock is not held across the fork.
     */
    rc = ms_rundb_flush(o->db, err, sizeof err);
    if (rc != 0) {
        print_line(s, "memsweep: %s\n", err);
        goto out;
    }
    /* The run's pool exists before its worker does: a worker's start creates no file. */
    {
        const char *pool = NULL;
        rc = ms_collector_new_pool(o->collector, run_id, &pool, err, sizeof err);
        if (rc != 0) {
            print_line(s, "memsweep: %s\n", err);
            record_unstarted(s, run_id);
            goto out;
        }
        snprintf(s->env.spool, sizeof s->env.spool, "%s=%s", MS_ENV_SPOOL, pool);
    }
    /* Read last before the fork, so that nothing the launcher does after it can go above. */
    slot->have_oom_start = ms_oom_counter_read(&s->oom, &slot->oom_start) == 0;
    slot->have_floor = ms_self_rss_kb(&slot->floor_kb) == 0;
    slot->floor_kb += MS_FLOOR_SLACK_KB;
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        rc = -errno;
        print_line(s, "memsweep: cannot start run %zu: fork: %s\n", seq, strerror(-rc));
        record_unstarted(s, run_id);
        goto out;
    }
    if (pid == 0)
        child_exec(s, &spec, out_fd, err_fd);
    /* Fails harmlessly when the child already did it or has already exec'd. */
    setpgid(pid, pid);
    slot->pid = pid;
    slot->run_id = run_id;
    slot->seq = seq;
    slot->label = spec.label;
    spec.label = NULL;
    slot->start_mono = ms_mono_ns();
    slot->deadline = o->timeout_ns > 0 ? slot->start_mono + o->timeout_ns : 0;
    slot->kill_at = 0;
    slot->timed_out = 0;
    slot->interrupted = 0;
    slot->attempt = c->attempt;
    slot->start_real = ms_now_ns();
    slot->have_prediction = c->have_prediction && o->budget_kb > 0;
    slot->predicted_kb = o->budget_kb > 0 ? c->predicted_kb : 0;
    slot->alone = c->attempt > 1 || oversize;
    slot->new_value = c->new_value;
    if (slot->choice != NULL && s->choice != NULL)
        ms_params_choice(o->plan->params, seq - 1, slot->choice);
    s->last_start = slot->start_mono;
    s->wait_since = 0;
    s->running++;
    rc = 0;
out:
    if (out_fd >= 0)
        close(out_fd);
    if (err_fd >= 0)
        close(err_fd);
    ms_run_spec_free(&spec);
    return rc;
}

/*
 * Why run seq, which ended without any process row, was not measured (see exeprobe.h);
 * NULL on ENOMEM. The program is looked up again as execvp did, through this process's
 * PATH, which the worker inherited.
 */
static char *unmeasured_reason(const sup_t *s, size_t seq)
{
    ms_run_spec_t spec;
    char *why;

    if (ms_plan_expand(s->o->plan, seq, &spec) != 0)
        return NULL;
    why = ms_unmeasured_reason(spec.argv, spec.line, getenv("PATH"), (unsigned)getuid(),
                               (unsigned)getgid());
    ms_run_spec_free(&spec);
    return why;
}

/*
 * Whether a run that died of SIGKILL (or whose shell reported its child's SIGKILL as exit
 * status 137) was killed by the out-of-memory killer: the count of kills rose while the
 * run was alive, and a kill of that rise is not yet given to another run. The count is
 * that of the launcher's cgroup, which the kernel raises for a kill of a process in it (on
 * cgroup v2 also below it), by a limit of the group or a shortage of the whole machine;
 * only where no cgroup counts kills is the machine's count used, which also counts kills
 * that have nothing to do with the sweep. Kills are given out in the order runs are
 * reaped; a kill of a descendant whose run's main process survived stays unclaimed, and a
 * later SIGKILL of a run alive at the time may be taken for it (docs/advisory.md).
 */
static int oom_killed(sup_t *s, const slot_t *slot)
{
    unsigned long long now;

    if (!s->oom.available || !slot->have_oom_start || ms_oom_counter_read(&s->oom, &now) != 0)
        return 0;
    if (now > s->oom_seen) {
        s->oom_unclaimed += now - s->oom_seen;
        s->oom_seen = now;
    }
    if (now > slot->oom_start && s->oom_unclaimed > 0) {
        s->oom_unclaimed--;
        return 1;
    }
    return 0;
}

/*
 * Teaches the predictor the peak of a run that exited (whatever its exit status) or that
 * the out-of-memory killer ended (its need was at least that): the highest of the
 * collector's time-aligned sums of its processes and wait4's ru_maxrss (runusage.h), a
 * peak the kernel measured. A run killed otherwise, or stopped by memsweep, may have died
 * well short of its peak, so it teaches nothing.
 */
static void learn(sup_t *s, const slot_t *slot, const ms_run_end_t *end,
                  unsigned long long peak_kb, int64_t peak_ns)
{
    const size_t *choice = slot->choice;
    int64_t to_peak = -1;
    char *label;

    /* An out-of-memory kill came at or below the run's need: a lower bound is worth keeping. */
    if (strcmp(end->status, MS_STATUS_OOM) != 0 &&
        (!end->have_exit_code ||
         (strcmp(end->status, MS_STATUS_OK) != 0 && strcmp(end->status, MS_STATUS_FAILED) != 0)))
        return;
    /*
     * ru_maxrss at or below the floor may be memsweep's own pages at the fork rather than
     * the run's: for a run too small and short for the collector to read, it still bounds
     * the run's peak from above, which is the safe side of a prediction.
     */
    if (end->have_usage && end->maxrss_kb > peak_kb)
        peak_kb = end->maxrss_kb;
    if (peak_kb == 0)
        peak_kb = 1;
    if (peak_ns > 0) {
        /* The collector's due times and the start are both CLOCK_REALTIME. */
        to_peak = peak_ns > slot->start_real ? peak_ns - slot->start_real : 0;
    } else {
        /* Over before the collector read it: its peak came within its short life. */
        to_peak = ms_mono_ns() - slot->start_mono;
    }
    if (s->choice == NULL)
        choice = NULL;
    label = run_label(s, slot->seq, choice);
    if (label == NULL || ms_predict_learn(s->predict, choice, label, peak_kb, to_peak) != 0)
        print_line(s, "memsweep: warning: %s; run %zu teaches the scheduler nothing\n",
                   strerror(ENOMEM), slot->seq);
    free(label);
}

/* Queues the run in slot for another attempt, alone. 0 or -ENOMEM. */
static int queue_retry(sup_t *s, const slot_t *slot)
{
    if (s->n_retries == s->cap_retries) {
        const size_t nc = s->cap_retries ? s->cap_retries * 2 : 8;
        retry_t *nr = realloc(s->retries, nc * sizeof *nr);
        if (nr == NULL)
            return -ENOMEM;
        s->retries = nr;
        s->cap_retries = nc;
    }
    s->retries[s->n_retries].seq = slot->seq;
    s->retries[s->n_retries].attempt = slot->attempt + 1;
    s->retries[s->n_retries].prev_run_id = slot->run_id;
    s->n_retries++;
    return 0;
}

/* Records and reports how the worker in slot ended, then frees the slot. */
static void finish_run(sup_t *s, slot_t *slot, int wstatus, const struct rusage *ru)
{
    const ms_supervise_opts_t *o = s->o;
    ms_run_end_t end = {.finished_ns = ms_now_ns()};
    const double secs = (double)(ms_mono_ns() - slot->start_mono) / 1e9;
    char *reason = NULL;
    char how[64];
    char err[512];
    unsigned long long live_kb = 0, peak_kb = 0;
    int64_t peak_ns = 0;
    int retry = 0;
    int have_rss;

    /* Read before the pool is handed back below. */
    have_rss = ms_collector_run_rss(o->collector, slot->run_id, &live_kb, &peak_kb, &peak_ns) == 0;
    if (WIFEXITED(wstatus)) {
        end.have_exit_code = 1;
        end.exit_code = WEXITSTATUS(wstatus);
        snprintf(how, sizeof how, "exit %d", end.exit_code);
    } else {
        end.have_term_signal = 1;
        end.term_signal = WTERMSIG(wstatus);
        snprintf(how, sizeof how, "signal %d", end.term_signal);
    }
    /* ru_maxrss is in KiB on Linux. */
    end.have_usage = 1;
    end.maxrss_kb = ru->ru_maxrss > 0 ? (unsigned long long)ru->ru_maxrss : 0;
    end.have_floor = slot->have_floor;
    end.floor_kb = slot->floor_kb;
    end.utime_us = (long long)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec;
    end.stime_us = (long long)ru->ru_stime.tv_sec * 1000000 + ru->ru_stime.tv_usec;
    /* What memsweep did to the run decides first: its exit is then a consequence. */
    if (slot->timed_out)
        end.status = MS_STATUS_TIMEOUT;
    else if (slot->interrupted)
        end.status = MS_STATUS_INTERRUPTED;
    /* SIGKILL, or a shell reporting its child's SIGKILL as 128 + 9. */
    else if (((end.have_term_signal && end.term_signal == SIGKILL) ||
              (end.have_exit_code && end.exit_code == 128 + SIGKILL)) &&
             oom_killed(s, slot))
        end.status = MS_STATUS_OOM;
    else if (end.have_term_signal)
        end.status = MS_STATUS_KILLED;
    else if (end.exit_code != 0)
        end.status = MS_STATUS_FAILED;
    else
        end.status = MS_STATUS_OK;

    /*
     * Every measured process claims a chunk of its run's pool when it starts, so a run
     * whose pool has none, and no processes row either, was not measured. A read that
     * fails leaves the run unmarked rather than guess.
     */
    if (ms_collector_run_done(o->collector, slot->run_id) == 0 &&
        ms_rundb_run_has_process(o->db, slot->run_id) == 0) {
        reason = unmeasured_reason(s, slot->seq);
        end.uninstrumented = reason;
    }
    if (ms_rundb_finish_run(o->db, slot->run_id, &end, err, sizeof err) != 0) {
        print_line(s, "memsweep: %s\n", err);
        s->res->error = 1;
    }
    free(reason);
    if (o->scheduled)
        learn(s, slot, &end, have_rss ? peak_kb : 0, peak_ns);
    retry = o->retry_oom > 0 && strcmp(end.status, MS_STATUS_OOM) == 0 &&
            slot->attempt <= o->retry_oom && s->res->stop_signal == 0 && !s->res->error &&
            queue_retry(s, slot) == 0;
    /* A run to be retried is not finished: its last attempt decides. */
    if (!retry) {
        s->res->finished++;
        if (strcmp(end.status, MS_STATUS_OK) == 0)
            s->res->ok++;
        else
            s->not_ok++;
    }
    if (!o->tty || strcmp(end.status, MS_STATUS_OK) != 0)
        print_line(s, "memsweep: run %zu/%zu %s (%s) %.1fs %s%s\n", slot->seq, o->plan->n_runs,
                   end.status, how, secs, slot->label,
                   slot->attempt > 1 ? " (a retry)" : "");
    if (retry)
        print_line(s,
                   "memsweep: run %zu was killed by the out-of-memory killer; it will run "
                   "again alone (attempt %lld of %lld)\n",
                   slot->seq, slot->attempt + 1, o->retry_oom + 1);

    /*
     * The leader is reaped but its group lives on while any member does; the pid cannot be
     * reused meanwhile, so the group id stays valid. Members of a group memsweep was
     * stopping get the SIGKILL its grace period promised.
     */
    if ((slot->timed_out || slot->interrupted) && killpg(slot->pid, 0) == 0) {
        int64_t at = slot->kill_at != 0 ? slot->kill_at : s->stop_deadline;
        if (at == 0)
            at = ms_mono_ns();
        if (s->n_lingering == s->cap_lingering) {
            const size_t ncap = s->cap_lingering ? s->cap_lingering * 2 : 8;
            lingering_t *nl = realloc(s->lingering, ncap * sizeof *nl);
            if (nl == NULL) {
                /* Without room to wait for the grace period, end the group now. */
                (void)killpg(slot->pid, SIGKILL);
                goto done;
            }
            s->lingering = nl;
            s->cap_lingering = ncap;
        }
        s->lingering[s->n_lingering].pgid = slot->pid;
        s->lingering[s->n_lingering].kill_at = at;
        s->n_lingering++;
    }
done:
    free(slot->label);
    {
        size_t *const choice = slot->choice; /* the slot's own, kept for its next run */
        memset(slot, 0, sizeof *slot);
        slot->choice = choice;
    }
    s->running--;
}

/* Reaps every worker that has ended. */
static void reap(sup_t *s)
{
    for (;;) {
        struct rusage ru;
        int wstatus;
        const pid_t pid = wait4(-1, &wstatus, WNOHANG, &ru);

        if (pid <= 0) {
            if (pid < 0 && errno == EINTR)
                continue;
            return;
        }
        for (size_t i = 0; i < s->n_slots; i++) {
            if (s->slots[i].pid == pid) {
                finish_run(s, &s->slots[i], wstatus, &ru);
                break;
            }
        }
    }
}

/*
 * The leader is not reaped yet, so its pid still names its group and cannot have been
 * reused; ESRCH cannot happen and any other failure leaves nothing to do.
 */
static void kill_group(const slot_t *slot, int sig)
{
    (void)killpg(slot->pid, sig);
}

static void kill_all(sup_t *s, int sig)
{
    for (size_t i = 0; i < s->n_slots; i++) {
        if (s->slots[i].pid != 0)
            kill_group(&s->slots[i], sig);
    }
}

/*
 * Whether a stop signal repeats the first one rather than asking again: the same signal
 * from the same process, sent by kill() within MS_STOP_REPEAT_MS. `timeout -s INT`
 * delivers its signal twice, to memsweep and then to memsweep's process group, and
 * `kill 0`-style senders do the same; a second Ctrl-C comes from the terminal (the
 * kernel, sender 0) and always counts.
 */
static int repeats_first_stop(const sup_t *s, int sig, const siginfo_t *info, int64_t now)
{
    return s->res->stop_signal == sig && info != NULL && info->si_code == SI_USER &&
           info->si_pid != 0 && info->si_pid == s->stop_sender &&
           now - s->stop_at < (int64_t)MS_STOP_REPEAT_MS * NS_PER_MS;
}

static void on_stop_signal(sup_t *s, int sig, const siginfo_t *info)
{
    const int64_t now = ms_mono_ns();

    /* Runs that ended on their own before the signal keep their real status. */
    reap(s);
    if (s->res->stop_signal != 0 && repeats_first_stop(s, sig, info, now)) {
        print_line(s,
                   "memsweep: %s from pid %ld again: taken as the same request (send it "
                   "once more to kill the workers at once)\n",
                   signal_name(sig), (long)info->si_pid);
        s->stop_at = 0;
        return;
    }
    if (s->res->stop_signal == 0) {
        s->res->stop_signal = sig;
        s->stop_sender = info != NULL && info->si_code == SI_USER ? info->si_pid : 0;
        s->stop_at = now;
        print_line(s, "memsweep: %s received: starting no more runs, stopping %zu running\n",
                   signal_name(sig), s->running);
        if (s->n_retries > 0)
            print_line(s, "memsweep: %zu run%s killed by the out-of-memory killer will not "
                          "be retried; %s stay%s oom\n",
                       s->n_retries, s->n_retries == 1 ? "" : "s",
                       s->n_retries == 1 ? "it" : "they", s->n_retries == 1 ? "s" : "");
        for (size_t i = 0; i < s->n_slots; i++) {
            slot_t *slot = &s->slots[i];
            if (slot->pid == 0)
                continue;
            slot->interrupted = 1;
            kill_group(slot, sig);
        }
        s->stop_deadline = ms_mono_ns() + MS_STOP_GRACE_MS * NS_PER_MS;
    } else if (s->running > 0) {
        /* A second stop signal means the user does not want to wait for the grace. */
        print_line(s, "memsweep: %s received again: killing %zu running\n", signal_name(sig),
                   s->running);
        kill_all(s, SIGKILL);
        s->stop_deadline = 0;
    }
    for (size_t i = 0; i < s->n_lingering; i++)
        s->lingering[i].kill_at = 0;
}

/* Applies --timeout and the grace periods that have expired. */
static void check_deadlines(sup_t *s, int64_t now)
{
    for (size_t i = 0; i < s->n_slots; i++) {
        slot_t *slot = &s->slots[i];

        if (slot->pid == 0)
            continue;
        if (slot->deadline != 0 && now >= slot->deadline && !slot->timed_out &&
            !slot->interrupted) {
            slot->timed_out = 1;
            kill_group(slot, SIGTERM);
            slot->kill_at = now + MS_TIMEOUT_GRACE_MS * NS_PER_MS;
        } else if (slot->kill_at != 0 && now >= slot->kill_at) {
            kill_group(slot, SIGKILL);
            slot->kill_at = 0;
        }
    }
    if (s->stop_deadline != 0 && now >= s->stop_deadline) {
        kill_all(s, SIGKILL);
        s->stop_deadline = 0;
    }
    for (size_t i = 0; i < s->n_lingering;) {
        const int gone = killpg(s->lingering[i].pgid, 0) != 0;
        if (gone || now >= s->lingering[i].kill_at) {
            if (!gone)
                (void)killpg(s->lingering[i].pgid, SIGKILL);
            s->lingering[i] = s->lingering[--s->n_lingering];
        } else {
            i++;
        }
    }
}

/* How long to sleep: until the next deadline, at most one tick. */
static int64_t wait_ns(const sup_t *s, int64_t now)
{
    int64_t until = now + (s->o->tty ? TICK_TTY_NS : TICK_PLAIN_NS);

    for (size_t i = 0; i < s->n_slots; i++) {
        const slot_t *slot = &s->slots[i];
        if (slot->pid == 0)
            continue;
        if (slot->deadline != 0 && !slot->timed_out && !slot->interrupted &&
            slot->deadline < until)
            until = slot->deadline;
        if (slot->kill_at != 0 && slot->kill_at < until)
            until = slot->kill_at;
    }
    if (s->stop_deadline != 0 && s->stop_deadline < until)
        until = s->stop_deadline;
    if (s->next_recheck != 0 && s->next_recheck < until)
        until = s->next_recheck;
    for (size_t i = 0; i < s->n_lingering; i++) {
        if (s->lingering[i].kill_at < until)
            until = s->lingering[i].kill_at;
    }
    return until > now ? until - now : 0;
}

/* Takes one signal, waiting at most ns; returns the signal (its details in *info) or 0. */
static int take_signal(const sup_t *s, int64_t ns, siginfo_t *info)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000LL),
                          .tv_nsec = (long)(ns % 1000000000LL)};
    /* EAGAIN (nothing came) and EINTR (stopped and continued) both mean "look again". */
    const int sig = sigtimedwait(&s->o->signals->wait_set, info, &ts);

    return sig > 0 ? sig : 0;
}

static void handle_signal(sup_t *s, int sig, const siginfo_t *info)
{
    if (sig != 0 && sig != SIGCHLD && sigismember(&s->o->signals->stop_set, sig))
        on_stop_signal(s, sig, info);
}

static void update_status(sup_t *s, int64_t now)
{
    unsigned long long to_grow;

    if (!s->o->tty)
        return;
    if (s->o->scheduled)
        (void)running_use(s, &s->in_use_kb, &to_grow);
    if (now >= s->next_rss_poll) {
        /* A failed read (a writer held the database) keeps the last value. */
        (void)ms_rundb_max_rss(s->o->db, &s->max_rss_kb);
        s->next_rss_poll = now + RSS_POLL_NS;
    }
    if (now >= s->next_draw || !s->status_shown) {
        draw_status(s);
        s->next_draw = now + DRAW_NS;
    }
}

/* Commits the runs' rows written since the last commit (see ms_rundb_batch). */
static void flush(sup_t *s)
{
    char err[512];

    if (ms_rundb_flush(s->o->db, err, sizeof err) != 0) {
        print_line(s, "memsweep: %s\n", err);
        s->res->error = 1;
    }
}

/* Reasons named in the warning about runs that were not measured; the rest are counted. */
#define WARN_REASONS 3

/*
 * One line about the runs that were not measured, once all have ended: how many, and why
 * (the reasons of the first runs, with their counts when there are several).
 */
static void warn_unmeasured(sup_t *s)
{
    ms_unmeasured_t *u = NULL;
    size_t n = 0;
    size_t total = 0;
    char err[512];

    if (ms_rundb_unmeasured(s->o->db, &u, &n, err, sizeof err) != 0) {
        print_line(s, "memsweep: %s\n", err);
        s->res->error = 1;
        return;
    }
    for (size_t i = 0; i < n; i++)
        total += u[i].runs;
    if (total > 0) {
        clear_status(s);
        fprintf(stderr, "memsweep: warning: %zu run%s not measured (", total,
                total == 1 ? " was" : "s were");
        for (size_t i = 0; i < n && i < WARN_REASONS; i++) {
            fprintf(stderr, "%s%s", i > 0 ? "; " : "", u[i].reason);
            if (n > 1)
                fprintf(stderr, ", %zu run%s", u[i].runs, u[i].runs == 1 ? "" : "s");
        }
        if (n > WARN_REASONS)
            fprintf(stderr, "; %zu other reason%s", n - WARN_REASONS,
                    n - WARN_REASONS == 1 ? "" : "s");
        fprintf(stderr, "); the advisory leaves %s out\n", total == 1 ? "it" : "them");
        fflush(stderr);
    }
    ms_unmeasured_free(u, n);
}

/*
 * The workers' oom_score_adj: WORKER_OOM_SCORE_ADJ above memsweep's own, at most 1000, so
 * that the out-of-memory killer takes a worker before the launcher that records it.
 */
static int worker_oom_adj(void)
{
    char buf[32] = "";
    const int fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
    long own = 0;

    if (fd >= 0) {
        const ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n > 0) {
            buf[n] = '\0';
            own = strtol(buf, NULL, 10);
        }
        close(fd);
    }
    if (own + WORKER_OOM_SCORE_ADJ > 1000)
        return 1000;
    return own + WORKER_OOM_SCORE_ADJ < -1000 ? -1000 : (int)(own + WORKER_OOM_SCORE_ADJ);
}

/* What a scheduled sweep needs besides the slots. 0 or -ENOMEM. */
static int init_schedule(sup_t *s)
{
    const ms_supervise_opts_t *o = s->o;
    const size_t n = o->plan->n_runs;
    const size_t n_params = o->plan->commands == NULL && o->plan->params != NULL
                                ? o->plan->params->n
                                : 0;

    s->predict = ms_predict_new(n_params > 0 ? o->plan->params : NULL, o->safety_factor);
    s->pending = malloc(n * sizeof *s->pending);
    if (s->predict == NULL || s->pending == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        s->pending[i] = i + 1;
    s->n_pending = n;
    if (n_params > 0) {
        s->choice = calloc(n_params, sizeof *s->choice);
        if (s->choice == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < s->n_slots; i++) {
            s->slots[i].choice = calloc(n_params, sizeof *s->slots[i].choice);
            if (s->slots[i].choice == NULL)
                return -ENOMEM;
        }
    }
    if (o->order_size) {
        s->order_kb = calloc(n, sizeof *s->order_kb);
        s->order_gen = calloc(n, sizeof *s->order_gen);
        if (s->order_kb == NULL || s->order_gen == NULL)
            return -ENOMEM;
    }
    if (o->budget_kb > 0 || o->retry_oom > 0) {
        s->oom_adj = worker_oom_adj();
        /* Formatted here: the child of a threaded process calls only system calls. */
        snprintf(s->oom_adj_text, sizeof s->oom_adj_text, "%d", s->oom_adj);
    }
    return 0;
}

int ms_supervise(const ms_supervise_opts_t *o, ms_supervise_result_t *res)
{
    sup_t s = {.o = o, .res = res, .next_seq = 1, .null_fd = -1, .prepared_fd = {-1, -1}};
    int rc;

    memset(res, 0, sizeof *res);
    s.start_ns = ms_mono_ns();
    s.n_slots = o->jobs < o->plan->n_runs ? o->jobs : o->plan->n_runs;
    s.slots = calloc(s.n_slots, sizeof *s.slots);
    s.oom_adj = INT_MIN;
    if (s.slots == NULL || (o->scheduled && init_schedule(&s) != 0)) {
        rc = -ENOMEM;
        ms_cli_error("%s", strerror(ENOMEM));
        goto out;
    }
    rc = env_init(&s.env, o);
    if (rc != 0) {
        ms_cli_error("%s", strerror(-rc));
        goto out;
    }
    s.null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (s.null_fd < 0) {
        rc = -errno;
        ms_cli_error("/dev/null: %s", strerror(-rc));
        goto out;
    }
    ms_oom_counter_open_cgroup(&s.oom);
    if (!s.oom.available)
        ms_oom_counter_open_machine(&s.oom);
    if (ms_oom_counter_read(&s.oom, &s.oom_seen) != 0)
        s.oom.available = 0;
    if (o->retry_oom > 0 && !s.oom.available)
        ms_cli_error("warning: no out-of-memory kill count can be read here, so an "
                     "out-of-memory kill cannot be told from another SIGKILL: --retry-oom "
                     "will retry nothing");
    ms_rundb_batch(o->db);

    for (;;) {
        siginfo_t info;
        int64_t now;
        int sig;

        /* Stop signals already pending (even from before the first run) come first. */
        while ((sig = take_signal(&s, 0, &info)) != 0)
            handle_signal(&s, sig, &info);
        reap(&s);
        check_deadlines(&s, ms_mono_ns());

        s.next_recheck = 0;
        s.verdict = MS_ADMIT_START;
        while (res->stop_signal == 0 && !res->error && s.running < s.n_slots) {
            slot_t *slot = NULL;
            candidate_t cand;
            ms_admit_in_t in;
            const char *rule = NULL;
            int oversize = 0;
            if (!pick(&s, &cand))
                break;
            for (size_t i = 0; i < s.n_slots && slot == NULL; i++) {
                if (s.slots[i].pid == 0)
                    slot = &s.slots[i];
            }
            if (o->scheduled) {
                now = ms_mono_ns();
                s.verdict = decide(&s, &cand, now, &in, &rule, &oversize);
                if (s.verdict != MS_ADMIT_START) {
                    if (s.wait_since == 0)
                        s.wait_since = now;
                    if (s.verdict == MS_ADMIT_WAIT_STAGGER)
                        s.next_recheck = s.last_start + in.stagger_ns;
                    else if (s.verdict == MS_ADMIT_WAIT_AVAILABLE)
                        s.next_recheck = now + AVAIL_RECHECK_NS;
                    break;
                }
            }
            if (start_run(&s, slot, &cand, &in, rule, oversize) != 0)
                res->error = 1;
        }
        if (s.running == 0 && s.n_lingering == 0 &&
            (res->stop_signal != 0 || res->error || !runs_left(&s)))
            break;

        /* No transaction may wait open while the launcher sleeps: the shims need the lock. */
        flush(&s);
        if (s.running == s.n_slots && prepare_logs(&s) != 0)
            res->error = 1;
        now = ms_mono_ns();
        update_status(&s, now);
        sig = take_signal(&s, wait_ns(&s, now), &info);
        handle_signal(&s, sig, &info);
    }
    flush(&s);
    warn_unmeasured(&s);
    if (s.n_oversize > 0) {
        clear_status(&s);
        fprintf(stderr, "memsweep: warning: %zu start%s predicted beyond the budget of %.1f "
                        "MiB (retries included) ran alone\n",
                s.n_oversize, s.n_oversize == 1 ? "" : "s", (double)o->budget_kb / 1024.0);
    }
    rc = 0;
out:
    drop_prepared(&s, 1);
    clear_status(&s);
    if (s.null_fd >= 0)
        close(s.null_fd);
    env_free(&s.env);
    if (s.slots != NULL) {
        for (size_t i = 0; i < s.n_slots; i++)
            free(s.slots[i].label);
    }
    for (size_t i = 0; s.slots != NULL && i < s.n_slots; i++)
        free(s.slots[i].choice);
    free(s.slots);
    free(s.lingering);
    free(s.pending);
    free(s.retries);
    free(s.choice);
    free(s.order_kb);
    free(s.order_gen);
    ms_predict_free(s.predict);
    return rc;
}
