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

#include "climsg.h"
#include "clock.h"
#include "exeprobe.h"
#include "memsweep/env.h"
#include "memsweep/schema.h"
#include "runusage.h"

#define NS_PER_MS 1000000LL

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
} slot_t;

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
    char bar[BAR + 1], el[32], eta[48], mem[96], big[48];
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
    snprintf(buf, len, "memsweep: [%s] %zu/%zu done, %zu running, %zu failed, %s%s%s%s", bar,
             p->done, p->total, p->running, p->failed, el, eta, mem, big);
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
    const size_t seq = s->next_seq;
    sigset_t pending;

    if (s->prepared_seq == seq || seq > s->o->plan->n_runs || s->res->stop_signal != 0 ||
        s->res->error)
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

/* Starts run s->next_seq in slot. Returns 0, or a negative code after printing why. */
static int start_run(sup_t *s, slot_t *slot)
{
    const ms_supervise_opts_t *o = s->o;
    const size_t seq = s->next_seq;
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
    if (s->prepared_seq == seq) {
        out_fd = s->prepared_fd[0];
        err_fd = s->prepared_fd[1];
        s->prepared_fd[0] = s->prepared_fd[1] = -1;
        s->prepared_seq = 0;
    } else {
        out_fd = open_log(s, seq, "out");
        if (out_fd < 0) {
            rc = out_fd;
            goto out;
        }
        err_fd = open_log(s, seq, "err");
        if (err_fd < 0) {
            rc = err_fd;
            goto out;
        }
    }
    rc = ms_rundb_start_run(o->db, seq, spec.label, spec.command, ms_now_ns(), &run_id, err,
                            sizeof err);
    if (rc != 0) {
        print_line(s, "memsweep: %s\n", err);
        goto out;
    }
    s->next_seq++;
    s->res->started++;
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

/* Records and reports how the worker in slot ended, then frees the slot. */
static void finish_run(sup_t *s, slot_t *slot, int wstatus, const struct rusage *ru)
{
    const ms_supervise_opts_t *o = s->o;
    ms_run_end_t end = {.finished_ns = ms_now_ns()};
    const double secs = (double)(ms_mono_ns() - slot->start_mono) / 1e9;
    char *reason = NULL;
    char how[64];
    char err[512];

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
    s->res->finished++;
    if (strcmp(end.status, MS_STATUS_OK) == 0)
        s->res->ok++;
    else
        s->not_ok++;
    if (!o->tty || strcmp(end.status, MS_STATUS_OK) != 0)
        print_line(s, "memsweep: run %zu/%zu %s (%s) %.1fs %s\n", slot->seq, o->plan->n_runs,
                   end.status, how, secs, slot->label);

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
    memset(slot, 0, sizeof *slot);
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
    if (!s->o->tty)
        return;
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

int ms_supervise(const ms_supervise_opts_t *o, ms_supervise_result_t *res)
{
    sup_t s = {.o = o, .res = res, .next_seq = 1, .null_fd = -1, .prepared_fd = {-1, -1}};
    int rc;

    memset(res, 0, sizeof *res);
    s.start_ns = ms_mono_ns();
    s.n_slots = o->jobs < o->plan->n_runs ? o->jobs : o->plan->n_runs;
    s.slots = calloc(s.n_slots, sizeof *s.slots);
    if (s.slots == NULL) {
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

        while (res->stop_signal == 0 && !res->error && s.running < s.n_slots &&
               s.next_seq <= o->plan->n_runs) {
            slot_t *slot = NULL;
            for (size_t i = 0; i < s.n_slots && slot == NULL; i++) {
                if (s.slots[i].pid == 0)
                    slot = &s.slots[i];
            }
            if (start_run(&s, slot) != 0)
                res->error = 1;
        }
        if (s.running == 0 && s.n_lingering == 0 &&
            (res->stop_signal != 0 || res->error || s.next_seq > o->plan->n_runs))
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
    free(s.slots);
    free(s.lingering);
    return rc;
}
