/*
 * `memsweep exec`: one command as one run of a sweep made of shards (launcher/shard.h),
 * under whatever runs it (GNU parallel, xargs, make, a SLURM array task). The command
 * keeps the standard input, output and error it was given, and its exit status, a death
 * by a signal included, becomes memsweep's own.
 */
#include "cli_exec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "advisory.h"
#include "cli_setup.h"
#include "climsg.h"
#include "clock.h"
#include "exeprobe.h"
#include "memsweep/defaults.h"
#include "memsweep/env.h"
#include "memsweep/schema.h"
#include "memsweep/spool.h"
#include "memsweep/version.h"
#include "numparse.h"
#include "params.h"
#include "planfile.h"
#include "poolfile.h"
#include "rundb.h"
#include "runusage.h"
#include "shard.h"
#include "spool_fold.h"
#include "spool_gc.h"
#include "spool_read.h"
#include "store.h"

#define SUB "exec"
#define EXIT_USAGE 2


/* Most --label options. */
#define MAX_LABELS 64

extern char **environ;

enum {
    OPT_SWEEP = 256,
    OPT_LABEL,
    OPT_INTERVAL,
    OPT_PRELOAD,
    OPT_MEM_TOTAL,
    OPT_RESERVE,
    OPT_SEQ,
    OPT_PLAN,
    OPT_PLAN_INDEX,
    OPT_FORWARD,
    OPT_NO_FORWARD,
};

static const struct option long_opts[] = {
    {"sweep", required_argument, NULL, OPT_SWEEP},
    {"label", required_argument, NULL, OPT_LABEL},
    {"seq", required_argument, NULL, OPT_SEQ},
    {"plan", required_argument, NULL, OPT_PLAN},
    {"plan-index", required_argument, NULL, OPT_PLAN_INDEX},
    {"forward-signals", no_argument, NULL, OPT_FORWARD},
    {"no-forward-signals", no_argument, NULL, OPT_NO_FORWARD},
    {"interval-ms", required_argument, NULL, OPT_INTERVAL},
    {"preload", required_argument, NULL, OPT_PRELOAD},
    {"mem-total-mb", required_argument, NULL, OPT_MEM_TOTAL},
    {"reserve-mb", required_argument, NULL, OPT_RESERVE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static const char short_opts[] = "+:hV";

/* The signals passed on to the command when memsweep receives them. */
static const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM,
                                SIGWINCH, SIGCONT, SIGURG, SIGPWR, SIGTSTP, SIGTTIN, SIGTTOU};

typedef struct exec_opts {
    const char *sweep;
    const char *labels[MAX_LABELS];
    size_t n_labels;
    long long seq;          /* 0: from the runner, else the next free one */
    long long interval_ms;
    const char *preload;
    long long mem_total_mb; /* -1: as found */
    long long reserve_mb;   /* -1: by the rule of the memory's source */
    const char *plan;       /* --plan: the run is run plan_index + 1 of this plan */
    long long plan_index;   /* -1: not given */
    int forward;            /* 1 or -1: pass signals on; 0: --no-forward-signals */
} exec_opts_t;

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: memsweep exec [OPTION]... -- COMMAND [ARG]...\n"
            "  or:  memsweep exec [OPTION]... --plan FILE --plan-index I\n"
            "Run COMMAND as one run of the sweep at DIR, measured with the shim, and exit\n"
            "as COMMAND exits. For sweeps run by GNU parallel, xargs -P, make -j, SLURM job\n"
            "arrays or any other runner; read the sweep with 'memsweep advise DIR'.\n"
            "\n"
            "      --sweep DIR          the sweep directory, created when absent (default:\n"
            "                           $" MS_ENV_SWEEP ")\n"
            "      --label NAME=VALUE   what this run is, repeatable (its parameters)\n"
            "      --seq N              the run's number for display (default:\n"
            "                           $PARALLEL_SEQ, $SLURM_ARRAY_TASK_ID, else the\n"
            "                           next free one)\n"
            "      --plan FILE          the plan of 'memsweep run --slurm' (DIR/slurm/plan)\n"
            "      --plan-index I       run the plan's run I + 1 (its command and label)\n"
            "      --no-forward-signals don't pass the signals memsweep receives on to\n"
            "                           COMMAND (for runners that signal every process,\n"
            "                           as SLURM's step daemon does)\n"
            "      --forward-signals    pass them on (the default)\n"
            "      --interval-ms MS     sampling period, %d..%d (default: %d)\n"
            "      --preload PATH       the shim to preload (default: " SHIM_NAME "\n"
            "                           next to memsweep or in its library directory)\n"
            "      --mem-total-mb N     the memory of this node, as for a whole machine\n"
            "      --reserve-mb N       memory kept back before dividing\n"
            "  -h, --help               print this help and exit\n"
            "  -V, --version            print the version and exit\n"
            "\n"
            "COMMAND's standard input, output and error are its own. The exit status is\n"
            "COMMAND's; when COMMAND is killed by a signal, memsweep kills itself with the\n"
            "same signal. 125 when memsweep itself failed before COMMAND ran, 126 and 127\n"
            "as a shell's when COMMAND cannot be executed or found.\n",
            MS_MIN_INTERVAL_MS, MS_MAX_INTERVAL_MS, MS_DEFAULT_INTERVAL_MS);
}

/* Exit status for a failure of memsweep itself before the command ran (as env(1) does). */
#define EXIT_OWN 125

static int parse_options(int argc, char **argv, exec_opts_t *o)
{
    int c, rc;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_SWEEP:
            o->sweep = optarg;
            break;
        case OPT_LABEL: {
            const char *eq = strchr(optarg, '=');
            if (eq == NULL || eq == optarg) {
                ms_cli_usage_error(SUB, "invalid label '%s' (expected NAME=VALUE)", optarg);
                return EXIT_USAGE;
            }
            if (o->n_labels == MAX_LABELS) {
                ms_cli_usage_error(SUB, "more than %d labels", MAX_LABELS);
                return EXIT_USAGE;
            }
            o->labels[o->n_labels++] = optarg;
            break;
        }
        case OPT_SEQ:
            if (ms_parse_ll(optarg, 0, INT64_MAX / 2, &o->seq) != 0) {
                ms_cli_usage_error(SUB, "invalid --seq '%s' (expected a whole number)", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_PLAN:
            o->plan = optarg;
            break;
        case OPT_FORWARD:
        case OPT_NO_FORWARD:
            o->forward = c == OPT_FORWARD;
            break;
        case OPT_PLAN_INDEX:
            if (ms_parse_ll(optarg, 0, MS_MAX_RUNS - 1, &o->plan_index) != 0) {
                ms_cli_usage_error(SUB, "invalid --plan-index '%s' (expected 0 to %d)", optarg,
                                   MS_MAX_RUNS - 1);
                return EXIT_USAGE;
            }
            break;
        case OPT_INTERVAL:
            if ((rc = ms_cli_opt_interval(SUB, optarg, &o->interval_ms)) >= 0)
                return rc;
            break;
        case OPT_PRELOAD:
            o->preload = optarg;
            break;
        case OPT_MEM_TOTAL:
            if ((rc = ms_cli_opt_mem_total(SUB, optarg, &o->mem_total_mb)) >= 0)
                return rc;
            break;
        case OPT_RESERVE:
            if ((rc = ms_cli_opt_reserve(SUB, optarg, &o->reserve_mb)) >= 0)
                return rc;
            break;
        case 'h':
            usage(stdout);
            return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
        case 'V':
            printf("memsweep %s\n", MS_VERSION);
            return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
        default:
            ms_cli_getopt_error(SUB, long_opts, argv, c);
            return EXIT_USAGE;
        }
    }
    if ((o->plan != NULL) != (o->plan_index >= 0)) {
        ms_cli_usage_error(SUB, "--plan and --plan-index go together");
        return EXIT_USAGE;
    }
    if (o->plan != NULL && (optind < argc || o->n_labels > 0)) {
        ms_cli_usage_error(SUB, "--plan gives the command and the label; no COMMAND or --label "
                           "with it");
        return EXIT_USAGE;
    }
    if (o->plan == NULL && optind >= argc) {
        ms_cli_usage_error(SUB, "no command given (expected -- COMMAND [ARG]...)");
        return EXIT_USAGE;
    }
    if (o->sweep == NULL) {
        o->sweep = getenv(MS_ENV_SWEEP);
        if (o->sweep == NULL || o->sweep[0] == '\0') {
            ms_cli_usage_error(SUB, "no sweep directory (use --sweep DIR or set %s)",
                               MS_ENV_SWEEP);
            return EXIT_USAGE;
        }
    }
    return -1;
}

/*
 * Whether signals memsweep receives are passed on: unless --no-forward-signals says not
 * (the batch script of `memsweep run --slurm` says so: slurmstepd signals every process of
 * the task, the command included, and a second copy would count twice for a program that
 * counts them).
 */
static int forward_signals(const exec_opts_t *o)
{
    return o->forward != 0;
}

/* A whole non-negative number in the variable name, or -1. */
static long long env_number(const char *name)
{
    const char *v = getenv(name);
    long long n;

    return v != NULL && ms_parse_ll(v, 0, INT64_MAX / 2, &n) == 0 ? n : -1;
}

/* Entries of dir whose names end in suffix and do not start with '.'. */
static long long count_entries(const char *dir, const char *suffix)
{
    const size_t sl = strlen(suffix);
    DIR *d = opendir(dir);
    struct dirent *e;
    long long count = 0;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        const size_t len = strlen(e->d_name);
        if (e->d_name[0] != '.' && len > sl && strcmp(e->d_name + len - sl, suffix) == 0)
            count++;
    }
    closedir(d);
    return count;
}

/*
 * The run's number for display: --seq, else what the runner says (GNU parallel's
 * PARALLEL_SEQ, a SLURM array's task index), else one more than the runs the sweep
 * directory holds. It may repeat; the run's identity is its uid.
 */
static long long run_seq(const exec_opts_t *o, const ms_shard_sweep_t *sw)
{
    long long n;

    if (o->seq > 0)
        return o->seq;
    n = env_number("PARALLEL_SEQ");
    if (n >= 0)
        return n;
    n = env_number("SLURM_ARRAY_TASK_ID");
    if (n >= 0)
        return n;
    return count_entries(sw->shards_dir, MS_SHARD_SUFFIX) + 1;
}

/* The batch system's job of this run: "<array job>_<task>" or the job id; NULL: none. */
static char *batch_job(void)
{
    const char *array = getenv("SLURM_ARRAY_JOB_ID");
    const char *task = getenv("SLURM_ARRAY_TASK_ID");
    const char *job = getenv("SLURM_JOB_ID");
    char *s = NULL;

    if (array != NULL && task != NULL && array[0] != '\0' && task[0] != '\0') {
        if (asprintf(&s, "%s_%s", array, task) < 0)
            s = NULL;
    } else if (job != NULL && job[0] != '\0') {
        s = strdup(job);
    }
    return s;
}

/* "<boot id> <pid> <start ticks>" of this process, or NULL. */
static char *recorder(void)
{
    char stat[1024];
    char *s = NULL;
    unsigned long long ticks = 0;
    ms_spool_host_t h;
    ssize_t n;
    const int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return NULL;
    n = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (n <= 0 || ms_spool_host_self(&h) != 0 || !h.have_boot)
        return NULL;
    stat[n] = '\0';
    if (ms_spool_parse_start_ticks(stat, (size_t)n, &ticks) != 0)
        return NULL;
    if (asprintf(&s, "%016llx%016llx %ld %llu", (unsigned long long)h.boot_hi,
                 (unsigned long long)h.boot_lo, (long)getpid(), ticks) < 0)
        s = NULL;
    return s;
}

/* The labels joined with spaces, or the command line when there is none. */
static char *run_label(const exec_opts_t *o, char **cmd, size_t n)
{
    char *s;

    if (o->n_labels == 0)
        return ms_join_words(cmd, n);
    s = ms_join_words((char **)o->labels, o->n_labels);
    return s;
}

/* The worker's environment: this one, with the shim and its pool. */
static char **worker_env(const char *shim, const char *pool, long long interval_ms, char **own)
{
    const char *old = getenv(MS_ENV_LD_PRELOAD);
    size_t n = 0, k = 0;
    char **envp;

    for (char **e = environ; *e != NULL; e++)
        n++;
    envp = calloc(n + 4, sizeof *envp);
    if (envp == NULL)
        return NULL;
    if ((old != NULL && old[0] != '\0'
             ? asprintf(&own[0], "%s=%s:%s", MS_ENV_LD_PRELOAD, shim, old)
             : asprintf(&own[0], "%s=%s", MS_ENV_LD_PRELOAD, shim)) < 0 ||
        asprintf(&own[1], "%s=%s", MS_ENV_SPOOL, pool) < 0 ||
        asprintf(&own[2], "%s=%lld", MS_ENV_INTERVAL_MS, interval_ms) < 0) {
        free(envp);
        return NULL;
    }
    for (char **e = environ; *e != NULL; e++) {
        static const char *const drop[] = {MS_ENV_LD_PRELOAD, MS_ENV_DB, MS_ENV_RUN_ID,
                                           MS_ENV_INTERVAL_MS, MS_ENV_SPOOL};
        int skip = 0;
        for (size_t i = 0; i < sizeof drop / sizeof drop[0] && !skip; i++) {
            const size_t l = strlen(drop[i]);
            skip = strncmp(*e, drop[i], l) == 0 && (*e)[l] == '=';
        }
        if (!skip)
            envp[k++] = *e;
    }
    for (int i = 0; i < 3; i++)
        envp[k++] = own[i];
    envp[k] = NULL;
    return envp;
}

/* Leaves as the command left: its exit code, or killed by its signal. */
static int leave_as(int wstatus)
{
    struct sigaction sa;
    struct rlimit no_core = {0, 0};
    sigset_t one;
    int sig;

    fflush(NULL);
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    sig = WTERMSIG(wstatus);
    /* The command dumped its core already; memsweep's own would be of no use. */
    (void)setrlimit(RLIMIT_CORE, &no_core);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(sig, &sa, NULL);
    sigemptyset(&one);
    sigaddset(&one, sig);
    (void)sigprocmask(SIG_UNBLOCK, &one, NULL);
    (void)raise(sig);
    /* A signal that does not kill (or could not be raised): as a shell reports it. */
    return 128 + sig;
}

/* The command's status in the runs row. */
static void fill_end(ms_run_end_t *end, int wstatus, const struct rusage *ru, int oom,
                     int have_floor, unsigned long long floor_kb)
{
    end->have_floor = have_floor;
    end->floor_kb = floor_kb;
    end->finished_ns = ms_now_ns();
    if (WIFEXITED(wstatus)) {
        end->have_exit_code = 1;
        end->exit_code = WEXITSTATUS(wstatus);
    } else {
        end->have_term_signal = 1;
        end->term_signal = WTERMSIG(wstatus);
    }
    end->have_usage = 1;
    end->maxrss_kb = ru->ru_maxrss > 0 ? (unsigned long long)ru->ru_maxrss : 0;
    end->utime_us = (long long)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec;
    end->stime_us = (long long)ru->ru_stime.tv_sec * 1000000 + ru->ru_stime.tv_usec;
    if (((end->have_term_signal && end->term_signal == SIGKILL) ||
         (end->have_exit_code && end->exit_code == 128 + SIGKILL)) && oom)
        end->status = MS_STATUS_OOM;
    else if (end->have_term_signal)
        end->status = MS_STATUS_KILLED;
    else if (end->exit_code != 0)
        end->status = MS_STATUS_FAILED;
    else
        end->status = MS_STATUS_OK;
}

/* Folds the run's pool into its shard; 1 when the pool may go (all of it folded, its processes gone). */
static int fold_pool(ms_rundb_t *db, const char *local, const char *pool, int *claimed)
{
    ms_fold_t *f = NULL;
    ms_spool_t *sp = NULL;
    ms_fold_stats_t st;
    ms_spool_host_t host;
    char err[512];
    int removable = 0, rc;

    *claimed = -1;
    rc = ms_fold_open(ms_rundb_conn(db), local, 0, &f, err, sizeof err);
    if (rc == 0)
        rc = ms_spool_open(pool, &sp, err, sizeof err);
    if (rc == 0)
        rc = ms_spool_scan(sp, err, sizeof err);
    if (rc == 0) {
        *claimed = sp->claimed > 0;
        rc = ms_fold_pool_tx(f, sp, &st, err, sizeof err);
        if (rc == 0 && ms_spool_host_self(&host) == 0)
            removable = ms_spool_removable(sp, &host, st.folded_all, NULL, 0) == 1;
    }
    if (rc != 0)
        ms_cli_error("%s", err);
    ms_spool_close(sp);
    ms_fold_close(f);
    return removable;
}

/*
 * Waits for the command, passing on the signals memsweep receives (unless forward is 0).
 * A stop signal stops the command and then memsweep, as a shell's job would stop.
 */
static int wait_command(pid_t pid, const sigset_t *set, int forward, int *wstatus,
                        struct rusage *ru)
{
    for (;;) {
        siginfo_t si;
        const int sig = sigwaitinfo(set, &si);
        pid_t w;

        if (sig < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (sig != SIGCHLD) {
            /*
             * A signal from the terminal went to the whole foreground process group, the
             * command included; any other is passed on.
             */
            if (forward && si.si_code != SI_KERNEL)
                (void)kill(pid, sig);
            if (sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
                (void)raise(SIGSTOP);
            continue;
        }
        w = wait4(pid, wstatus, WNOHANG, ru);
        if (w == pid)
            return 0;
        if (w < 0 && errno != EINTR)
            return -errno;
    }
}

/* Drops the forwarded signals that came while the run was being recorded. */
static void drop_pending(const sigset_t *set)
{
    const struct timespec zero = {0, 0};
    sigset_t pending;

    while (sigpending(&pending) == 0) {
        int any = 0;
        for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
            any |= sigismember(&pending, forwarded[i]) == 1;
        if (!any || sigtimedwait(set, NULL, &zero) < 0)
            break;
    }
}

int ms_cmd_exec(int argc, char **argv)
{
    exec_opts_t o = {.interval_ms = MS_DEFAULT_INTERVAL_MS, .mem_total_mb = -1, .reserve_mb = -1,
                     .plan_index = -1, .forward = -1};
    ms_planfile_t pf = {0};
    ms_run_spec_t spec = {0};
    char *sh_argv[4] = {"sh", "-c", NULL, NULL};
    ms_shard_sweep_t sw = {0};
    ms_mem_choice_t mem;
    ms_machine_t machine;
    ms_spool_pool_t h;
    ms_spool_host_t host;
    ms_rundb_t *db = NULL;
    ms_oom_counter_t oomc;
    unsigned long long oom_before = 0, oom_after = 0;
    int have_oom = 0, have_floor = 0;
    unsigned long long floor_kb = 0;
    sigset_t set, orig;
    struct sigaction chld_orig;
    char local_dir[PATH_MAX], local[PATH_MAX + 64];
    char hostname[256];
    char uid[32];
    char err[1024];
    char *shim = NULL, *pool = NULL, *label = NULL, *command = NULL, *cmdline = NULL;
    char *job = NULL, *rec = NULL;
    char *own_env[3] = {NULL, NULL, NULL};
    char **envp = NULL;
    long long cpus = 0, run_id = 0;
    int pool_fd = -1, created = 0, wstatus = 0, status, claimed = -1;
    struct rusage ru;
    pid_t pid;
    char **cmd;
    size_t n_cmd;

    local[0] = '\0';
    status = parse_options(argc, argv, &o);
    if (status >= 0)
        return status;
    cmd = argv + optind;
    n_cmd = (size_t)(argc - optind);
    status = EXIT_OWN;
    if (o.plan != NULL) {
        if (ms_planfile_read(o.plan, &pf, err, sizeof err) != 0) {
            ms_cli_error("%s", err);
            goto out;
        }
        if ((size_t)o.plan_index >= pf.plan.n_runs) {
            ms_cli_error("%s: no run %lld in a plan of %zu runs", o.plan, o.plan_index + 1,
                         pf.plan.n_runs);
            goto out;
        }
        if (ms_plan_expand(&pf.plan, (size_t)o.plan_index + 1, &spec) != 0) {
            ms_cli_error("%s", strerror(ENOMEM));
            goto out;
        }
        if (spec.argv != NULL) {
            cmd = spec.argv;
            for (n_cmd = 0; cmd[n_cmd] != NULL; n_cmd++)
                ;
        } else {
            sh_argv[2] = spec.line;
            cmd = sh_argv;
            n_cmd = 3;
        }
        o.seq = o.plan_index + 1;
    }

    shim = ms_cli_find_shim(o.preload);
    if (shim == NULL)
        goto out;
    ms_cli_find_machine(o.mem_total_mb, o.reserve_mb, &mem, &cpus);
    ms_machine_init(&machine, mem.have_total, mem.total_kb, mem.reserve_mb,
                    MS_DEFAULT_SAFETY_FACTOR);
    ms_machine_describe(&machine, mem.source, mem.have_host, mem.host_kb, mem.rule, cpus);
    if (ms_shard_sweep_open(o.sweep, &machine, &sw, &created, err, sizeof err) != 0 ||
        ms_shard_local_dir(local_dir, sizeof local_dir, err, sizeof err) != 0) {
        ms_cli_error("%s", err);
        goto out;
    }
    if (gethostname(hostname, sizeof hostname) != 0)
        hostname[0] = '\0';
    hostname[sizeof hostname - 1] = '\0';

    /* The pool, in the shared sweep directory: its name is the run's identity. */
    memset(&h, 0, sizeof h);
    h.magic = MS_SPOOL_MAGIC;
    h.version = MS_SPOOL_VERSION;
    h.header_bytes = MS_SPOOL_HEADER_BYTES;
    h.chunk_bytes = MS_SPOOL_CHUNK_BYTES;
    h.run_id = 1; /* the shard's only run */
    h.interval_ms = (uint32_t)o.interval_ms;
    if (ms_spool_host_self(&host) == 0 && host.have_boot) {
        h.boot_id_hi = host.boot_hi;
        h.boot_id_lo = host.boot_lo;
    }
    snprintf(h.host, sizeof h.host, "%s", hostname);
    if (ms_pool_file_create(sw.spool_dir, &h, 1, &pool_fd, &pool, err, sizeof err) != 0) {
        ms_cli_error("%s", err);
        goto out;
    }
    close(pool_fd);
    {
        const char *base = strrchr(pool, '/') + 1;
        snprintf(uid, sizeof uid, "%.*s", (int)(strlen(base) - strlen(MS_SPOOL_SUFFIX)), base);
    }
    snprintf(local, sizeof local, "%s/%s%s", local_dir, uid, MS_SHARD_SUFFIX);

    label = spec.label != NULL ? strdup(spec.label) : run_label(&o, cmd, n_cmd);
    command = spec.command != NULL ? strdup(spec.command) : ms_join_words(cmd, n_cmd);
    cmdline = ms_join_words(argv - 1, (size_t)argc + 1);
    job = batch_job();
    rec = recorder();
    if (label == NULL || command == NULL || cmdline == NULL) {
        ms_cli_error("%s", strerror(ENOMEM));
        goto out;
    }
    {
        const ms_sweep_row_t row = {
            .started_ns = ms_now_ns(),
            .hostname = hostname[0] != '\0' ? hostname : NULL,
            .have_mem_total = mem.have_total,
            .mem_total_kb = mem.total_kb,
            .reserve_mb = mem.reserve_mb,
            .safety_factor = MS_DEFAULT_SAFETY_FACTOR,
            .interval_ms = o.interval_ms,
            .jobs = 1,
            .argv = cmdline,
            .planned_runs = 1,
            .mem_source = mem.have_total ? mem.source : NULL,
            .have_host_mem_total = mem.have_host,
            .host_mem_total_kb = mem.host_kb,
            .cpus = cpus,
            .origin = MS_ORIGIN_EXEC,
            .rollback_journal = 1,
        };
        const ms_run_identity_t id = {
            .uid = uid,
            .host = hostname,
            .have_node_mem = mem.have_total,
            .node_mem_kb = mem.total_kb,
            .node_mem_source = mem.have_total ? mem.source : NULL,
            .node_reserve_mb = mem.reserve_mb,
            .node_cpus = cpus,
            .batch_job = job,
            .recorder = rec,
            .pool = strrchr(pool, '/') + 1,
        };
        if (ms_rundb_create(local, &row, &db, err, sizeof err) != 0 ||
            ms_rundb_start_run(db, (size_t)run_seq(&o, &sw), label, command, row.started_ns,
                               &run_id, err, sizeof err) != 0 ||
            ms_rundb_set_identity(db, run_id, &id, err, sizeof err) != 0 ||
            ms_shard_publish(&sw, local, uid, err, sizeof err) != 0) {
            ms_cli_error("%s", err);
            goto out;
        }
    }
    envp = worker_env(shim, pool, o.interval_ms, own_env);
    if (envp == NULL) {
        ms_cli_error("%s", strerror(ENOMEM));
        goto out;
    }

    ms_oom_counter_open_cgroup(&oomc);
    if (!oomc.available)
        ms_oom_counter_open_machine(&oomc);
    have_oom = oomc.available && ms_oom_counter_read(&oomc, &oom_before) == 0;

    /*
     * An ignored SIGCHLD (inherited from the runner) would leave no child to wait for; the
     * command gets the runner's disposition back.
     */
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigemptyset(&sa.sa_mask);
        (void)sigaction(SIGCHLD, &sa, &chld_orig);
    }
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaddset(&set, forwarded[i]);
    if (sigprocmask(SIG_BLOCK, &set, &orig) != 0) {
        ms_cli_error("cannot block signals: %s", strerror(errno));
        goto out;
    }
    /* What the forked copy of memsweep may weigh before the exec (runusage.h). */
    have_floor = ms_self_rss_kb(&floor_kb) == 0;
    if (have_floor)
        floor_kb += MS_FLOOR_SLACK_KB;
    pid = fork();
    if (pid < 0) {
        ms_cli_error("fork: %s", strerror(errno));
        sigprocmask(SIG_SETMASK, &orig, NULL);
        goto out;
    }
    if (pid == 0) {
        char msg[512];
        int e, n;

        (void)sigaction(SIGCHLD, &chld_orig, NULL);
        sigprocmask(SIG_SETMASK, &orig, NULL);
        execvpe(cmd[0], cmd, envp);
        e = errno;
        n = snprintf(msg, sizeof msg, "memsweep: %s: %s\n", cmd[0], strerror(e));
        if (n > 0)
            (void)!write(STDERR_FILENO, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
        _exit(e == ENOENT ? 127 : 126);
    }
    if (wait_command(pid, &set, forward_signals(&o), &wstatus, &ru) != 0) {
        ms_cli_error("wait: %s", strerror(errno));
        goto out;
    }
    /* Signals stay blocked while the run is recorded: the command has ended already. */
    if (have_oom && ms_oom_counter_read(&oomc, &oom_after) != 0)
        have_oom = 0;

    /* From here on the command's status is the exit status, whatever the recording does. */
    status = -1;
    {
        ms_run_end_t end = {0};
        char *reason = NULL;
        int removable;

        fill_end(&end, wstatus, &ru, have_oom && oom_after > oom_before, have_floor, floor_kb);
        removable = fold_pool(db, local, pool, &claimed);
        if (claimed == 0 && ms_rundb_run_has_process(db, run_id) == 0) {
            reason = ms_unmeasured_reason(spec.line != NULL ? NULL : cmd, spec.line,
                                          getenv("PATH"), (unsigned)getuid(), (unsigned)getgid());
            end.uninstrumented = reason;
        }
        if (ms_rundb_finish_run(db, run_id, &end, err, sizeof err) != 0 ||
            ms_rundb_finish_sweep(db, ms_now_ns(), err, sizeof err) != 0) {
            ms_cli_error("%s", err);
        } else {
            ms_rundb_close(db);
            db = NULL;
            if (ms_shard_publish(&sw, local, uid, err, sizeof err) != 0)
                ms_cli_error("%s", err);
            else if (removable)
                (void)unlink(pool);
        }
        free(reason);
    }

out:
    ms_rundb_close(db);
    if (status < 0) {
        drop_pending(&set);
        sigprocmask(SIG_SETMASK, &orig, NULL);
    }
    if (local[0] != '\0')
        (void)unlink(local);
    /* Refused before the command ran: nothing of the run stays behind. */
    if (status == EXIT_OWN && pool != NULL) {
        char *shard = ms_shard_path(&sw, uid);
        (void)unlink(pool);
        if (shard != NULL)
            (void)unlink(shard);
        free(shard);
    }
    ms_shard_sweep_free(&sw);
    ms_run_spec_free(&spec);
    ms_planfile_free(&pf);
    free(shim);
    free(pool);
    free(label);
    free(command);
    free(cmdline);
    free(job);
    free(rec);
    for (int i = 0; i < 3; i++)
        free(own_env[i]);
    free(envp);
    return status >= 0 ? status : leave_as(wstatus);
}
