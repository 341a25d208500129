/* `memsweep run`: option parsing and the sequence of a sweep (see cli_run.h). */
#include "cli_run.h"
#include "cli_setup.h"
#include "cli_slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "advisory.h"
#include "climsg.h"
#include "clock.h"
#include "numparse.h"
#include "hostlimits.h"
#include "hostlimits_probe.h"
#include "exeprobe.h"
#include "memavail.h"
#include "memsweep/defaults.h"
#include "memsweep/marker.h"
#include "memsweep/version.h"
#include "params.h"
#include "readfile.h"
#include "rundb.h"
#include "supervise.h"
#include "sweepdir.h"
#include "sweepread.h"

#define SUB "run"

#define EXIT_USAGE 2
#define EXIT_INTERRUPTED 130

/* Longest accepted --timeout, in seconds: keeps the deadline in 64-bit nanoseconds. */
#define MAX_TIMEOUT_S 1e9

/* Longest accepted --stagger, in seconds (a day), and most retries of one run. */
#define MAX_STAGGER_S 86400.0
#define MAX_RETRY_OOM 100

/* Largest --mem-budget in MiB (4 PiB, as hostlimits.h's MS_MEM_KB_UNLIMITED). */
#define MAX_BUDGET_MB (1LL << 32)


extern char **environ;

enum {
    OPT_TIMEOUT = 256,
    OPT_INTERVAL,
    OPT_PRELOAD,
    OPT_COMMANDS,
    OPT_MEM_TOTAL,
    OPT_RESERVE,
    OPT_SLURM,
    OPT_SBATCH_ARG,
    OPT_NO_WAIT,
    OPT_MEM_BUDGET,
    OPT_STAGGER,
    OPT_ORDER,
    OPT_RETRY_OOM,
    OPT_SAFETY,
};

static const struct option long_opts[] = {
    {"jobs", required_argument, NULL, 'j'},
    {"output", required_argument, NULL, 'o'},
    {"param", required_argument, NULL, 'P'},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"interval-ms", required_argument, NULL, OPT_INTERVAL},
    {"preload", required_argument, NULL, OPT_PRELOAD},
    {"commands", required_argument, NULL, OPT_COMMANDS},
    {"mem-total-mb", required_argument, NULL, OPT_MEM_TOTAL},
    {"reserve-mb", required_argument, NULL, OPT_RESERVE},
    {"slurm", no_argument, NULL, OPT_SLURM},
    {"sbatch-arg", required_argument, NULL, OPT_SBATCH_ARG},
    {"no-wait", no_argument, NULL, OPT_NO_WAIT},
    {"mem-budget", required_argument, NULL, OPT_MEM_BUDGET},
    {"stagger", required_argument, NULL, OPT_STAGGER},
    {"order", required_argument, NULL, OPT_ORDER},
    {"retry-oom", required_argument, NULL, OPT_RETRY_OOM},
    {"safety-factor", required_argument, NULL, OPT_SAFETY},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* '+': the first non-option starts COMMAND, whose own options are left alone. */
static const char short_opts[] = "+:j:o:P:hV";

/* Everything the command line says. */
typedef struct run_opts {
    long long jobs;          /* 0: the CPUs this sweep may use */
    const char *output;
    ms_params_t params;
    double timeout_s;        /* 0: none */
    long long interval_ms;
    const char *preload;
    const char *commands;
    long long mem_total_mb;  /* -1: the memory this sweep may use, as found */
    long long reserve_mb;    /* -1: by the rule of the memory's source */
    char **param_specs;      /* the -P texts, for --slurm's plan file */
    size_t n_param_specs;
    int slurm;               /* --slurm: submit as SLURM job arrays */
    char **sbatch_args;      /* --sbatch-arg */
    size_t n_sbatch_args;
    int no_wait;
    int jobs_auto;           /* -j auto */
    long long mem_budget_mb; /* -1: none; 0: auto */
    double stagger_s;        /* 0: none */
    int stagger_auto;
    int order_size;          /* --order size */
    long long retry_oom;     /* 0: none */
    double safety_factor;
} run_opts_t;

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: memsweep run [OPTION]... [--] COMMAND [ARG]...\n"
            "  or:  memsweep run [OPTION]... --commands FILE\n"
            "Run every combination of the parameters (or every line of FILE), measure the\n"
            "memory of each worker, and write the sweep's memory advisory.\n"
            "\n"
            "  -P, --param NAME=VALUES  a sweep parameter, repeatable; VALUES is a,b,c or\n"
            "                           an integer range START..END or START..END:STEP;\n"
            "                           the first parameter varies slowest\n"
            "      --commands FILE      run each line of FILE with /bin/sh -c, skipping\n"
            "                           blank lines and lines starting with #\n"
            "  -j, --jobs N|auto        run at most N workers at once (default: the CPUs\n"
            "                           memsweep may run on, or SLURM_CPUS_ON_NODE when\n"
            "                           that is fewer); auto: as many as those CPUs and\n"
            "                           the memory budget admit (--mem-budget auto unless\n"
            "                           given)\n"
            "  -o, --output DIR         create the sweep directory in DIR\n"
            "                           (default: " MS_DEFAULT_OUTPUT_DIR ")\n"
            "      --timeout SEC        stop a run after SEC seconds: SIGTERM to its\n"
            "                           process group, SIGKILL %d s later\n"
            "      --interval-ms MS     sampling period of the workers, %d..%d\n"
            "                           (default: %d)\n"
            "      --preload PATH       the shim to preload (default: " SHIM_NAME "\n"
            "                           next to memsweep or in its library directory)\n"
            "      --mem-total-mb N     advise for N MiB of memory, as for a whole machine\n"
            "                           (default: the smallest of MemTotal, the memory\n"
            "                           limit of memsweep's cgroup and SLURM's allocation)\n"
            "      --reserve-mb N       memory kept back before dividing (default: %d for\n"
            "                           a machine; under a cgroup or SLURM limit %d%% of\n"
            "                           it, at least %d and at most %d)\n"
            "      --slurm              submit the runs as SLURM job arrays (at most -j\n"
            "                           tasks at once), each task one 'memsweep exec'\n"
            "      --sbatch-arg ARG     pass ARG to sbatch (repeatable): --mem=2G,\n"
            "                           --time=1:00:00, --partition=..., ...\n"
            "      --no-wait            with --slurm: return once submitted; 'memsweep\n"
            "                           collect DIR' writes the advisory later\n"
            "\n"
            "Scheduling (none by default; each start is then recorded with its figures):\n"
            "      --mem-budget MB|auto start a run only when the predicted peaks of the\n"
            "                           runs running and its own fit in MB MiB (auto:\n"
            "                           Usable_MB) and the memory available agrees; runs\n"
            "                           start one at a time until one is measured\n"
            "      --stagger SEC|auto   at least SEC seconds between two starts; auto: the\n"
            "                           median time from start to peak of finished runs\n"
            "      --order plan|size    start runs in plan order (default) or the largest\n"
            "                           predicted first\n"
            "      --retry-oom N        run a run killed by the out-of-memory killer again,\n"
            "                           alone, up to N times\n"
            "      --safety-factor F    multiplier on the capacity, 0 < F <= 1 (default\n"
            "                           %.2f); predictions get peak / F of headroom\n"
            "\n"
            "  -h, --help               print this help and exit\n"
            "  -V, --version            print the version and exit\n"
            "\n"
            "In COMMAND and its arguments, {NAME} is replaced by the value of parameter\n"
            "NAME and {run} by the run's number; other braces are kept as they are.\n"
            "Arguments are executed directly, without a shell.\n"
            "\n"
            "The sweep directory DIR/sweep_YYYYMMDD-HHMMSS/ holds " MS_DB_FILE ",\n"
            MS_ADVISORY_FILE " and " MS_LOG_DIR "/ with each run's stdout and stderr.\n"
            "\n"
            "Exit status: 0 when every run succeeded, 1 when a run failed, no run was\n"
            "measured or memsweep failed, 2 for a usage error, 130 when interrupted.\n",
            MS_TIMEOUT_GRACE_MS / 1000, MS_MIN_INTERVAL_MS, MS_MAX_INTERVAL_MS,
            MS_DEFAULT_INTERVAL_MS, MS_DEFAULT_RESERVE_MB, MS_LIMIT_RESERVE_PCT,
            MS_LIMIT_RESERVE_MIN_MB, MS_LIMIT_RESERVE_MAX_MB, MS_DEFAULT_SAFETY_FACTOR);
}

/* Appends s to the array *v of *n strings (borrowed). 0 or -ENOMEM. */
static int push_arg(char ***v, size_t *n, char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);

    if (nv == NULL)
        return -ENOMEM;
    nv[(*n)++] = s;
    *v = nv;
    return 0;
}

/* Parses the options; returns -1 to go on, or the exit status to leave with. */
static int parse_options(int argc, char **argv, run_opts_t *ro)
{
    char err[512];
    int c;
    int rc;

    optind = 0;  /* full reset, in case another subcommand parsed before */
    opterr = 0;
    while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            if (strcmp(optarg, "auto") == 0) {
                ro->jobs_auto = 1;
                ro->jobs = 0;
            } else if (ms_parse_ll(optarg, 1, MS_MAX_RUNS, &ro->jobs) != 0) {
                ms_cli_usage_error(SUB, "invalid number of jobs '%s' (expected an integer "
                                   "from 1 to %d, or auto)", optarg, MS_MAX_RUNS);
                return EXIT_USAGE;
            } else {
                ro->jobs_auto = 0;
            }
            break;
        case OPT_MEM_BUDGET:
            if (strcmp(optarg, "auto") == 0) {
                ro->mem_budget_mb = 0;
            } else if (ms_parse_ll(optarg, 1, MAX_BUDGET_MB, &ro->mem_budget_mb) != 0) {
                ms_cli_usage_error(SUB, "invalid memory budget '%s' (expected MiB from 1 to "
                                   "%lld, or auto)", optarg, MAX_BUDGET_MB);
                return EXIT_USAGE;
            }
            break;
        case OPT_STAGGER:
            if (strcmp(optarg, "auto") == 0) {
                ro->stagger_auto = 1;
                ro->stagger_s = 0.0;
            } else if (ms_parse_double(optarg, 0.0, MAX_STAGGER_S, &ro->stagger_s) != 0) {
                ms_cli_usage_error(SUB, "invalid stagger '%s' (expected seconds from 0 to %.0f, "
                                   "or auto)", optarg, MAX_STAGGER_S);
                return EXIT_USAGE;
            } else {
                ro->stagger_auto = 0;
            }
            break;
        case OPT_ORDER:
            if (strcmp(optarg, "size") == 0) {
                ro->order_size = 1;
            } else if (strcmp(optarg, "plan") == 0) {
                ro->order_size = 0;
            } else {
                ms_cli_usage_error(SUB, "invalid order '%s' (expected plan or size)", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_RETRY_OOM:
            if (ms_parse_ll(optarg, 0, MAX_RETRY_OOM, &ro->retry_oom) != 0) {
                ms_cli_usage_error(SUB, "invalid number of retries '%s' (expected an integer "
                                   "from 0 to %d)", optarg, MAX_RETRY_OOM);
                return EXIT_USAGE;
            }
            break;
        case OPT_SAFETY:
            if (ms_parse_double(optarg, 0.0, 1.0, &ro->safety_factor) != 0 ||
                ro->safety_factor <= 0.0) {
                ms_cli_usage_error(SUB,
                                   "--safety-factor: '%s' is not a number above 0 and at most 1",
                                   optarg);
                return EXIT_USAGE;
            }
            break;
        case 'o':
            if (*optarg == '\0') {
                ms_cli_usage_error(SUB, "the output directory must not be empty");
                return EXIT_USAGE;
            }
            ro->output = optarg;
            break;
        case 'P':
            if (push_arg(&ro->param_specs, &ro->n_param_specs, optarg) != 0) {
                ms_cli_error("%s", strerror(ENOMEM));
                return EXIT_FAILURE;
            }
            rc = ms_params_add(&ro->params, optarg, err, sizeof err);
            if (rc == -ENOMEM) {
                ms_cli_error("%s", strerror(ENOMEM));
                return EXIT_FAILURE;
            }
            if (rc != 0) {
                ms_cli_usage_error(SUB, "%s", err);
                return EXIT_USAGE;
            }
            break;
        case OPT_TIMEOUT:
            if (ms_parse_double(optarg, 0.0, MAX_TIMEOUT_S, &ro->timeout_s) != 0 ||
                !(ro->timeout_s > 0.0)) {
                ms_cli_usage_error(SUB, "invalid timeout '%s' (expected a positive number "
                                   "of seconds)", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_INTERVAL:
            if ((rc = ms_cli_opt_interval(SUB, optarg, &ro->interval_ms)) >= 0)
                return rc;
            break;
        case OPT_PRELOAD:
            ro->preload = optarg;
            break;
        case OPT_COMMANDS:
            ro->commands = optarg;
            break;
        case OPT_MEM_TOTAL:
            if ((rc = ms_cli_opt_mem_total(SUB, optarg, &ro->mem_total_mb)) >= 0)
                return rc;
            break;
        case OPT_RESERVE:
            if ((rc = ms_cli_opt_reserve(SUB, optarg, &ro->reserve_mb)) >= 0)
                return rc;
            break;
        case OPT_SLURM:
            ro->slurm = 1;
            break;
        case OPT_SBATCH_ARG:
            if (push_arg(&ro->sbatch_args, &ro->n_sbatch_args, optarg) != 0) {
                ms_cli_error("%s", strerror(ENOMEM));
                return EXIT_FAILURE;
            }
            break;
        case OPT_NO_WAIT:
            ro->no_wait = 1;
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
    if (ro->commands != NULL && optind < argc) {
        ms_cli_usage_error(SUB, "a command cannot be combined with --commands");
        return EXIT_USAGE;
    }
    if (ro->commands != NULL && ro->params.n > 0) {
        ms_cli_usage_error(SUB, "-P cannot be combined with --commands");
        return EXIT_USAGE;
    }
    if (!ro->slurm && (ro->n_sbatch_args > 0 || ro->no_wait)) {
        ms_cli_usage_error(SUB, "%s needs --slurm", ro->no_wait ? "--no-wait" : "--sbatch-arg");
        return EXIT_USAGE;
    }
    if (ro->slurm && (ro->jobs_auto || ro->mem_budget_mb >= 0 || ro->stagger_s > 0.0 ||
                      ro->stagger_auto || ro->order_size || ro->retry_oom > 0)) {
        ms_cli_usage_error(SUB, "with --slurm, SLURM schedules the runs: -j auto, --mem-budget, "
                           "--stagger, --order size and --retry-oom are for runs memsweep "
                           "starts itself");
        return EXIT_USAGE;
    }
    if (ro->slurm && ro->safety_factor != MS_DEFAULT_SAFETY_FACTOR) {
        ms_cli_usage_error(SUB, "--safety-factor cannot be combined with --slurm (give it to "
                           "'memsweep advise' on the sweep)");
        return EXIT_USAGE;
    }
    if (ro->slurm && (ro->timeout_s > 0.0 || ro->mem_total_mb >= 0 || ro->reserve_mb >= 0)) {
        ms_cli_usage_error(SUB, "with --slurm, give the time limit and memory to sbatch "
                           "(--sbatch-arg=--time=..., --sbatch-arg=--mem=...)");
        return EXIT_USAGE;
    }
    if (ro->commands == NULL && optind >= argc) {
        ms_cli_usage_error(SUB, "no command given (expected -- COMMAND [ARG]... or "
                           "--commands FILE)");
        return EXIT_USAGE;
    }
    return -1;
}

/* Loads --commands FILE; returns -1 to go on, or the exit status to leave with. */
static int load_commands(const char *path, ms_commands_t *cmds)
{
    char err[512];
    char *text = NULL;
    size_t len = 0;
    int rc;

    errno = 0;
    rc = ms_read_file(path, &text, &len);
    if (rc != 0) {
        ms_cli_error("%s: %s", path, strerror(-rc));
        return EXIT_FAILURE;
    }
    rc = ms_commands_parse(text, len, cmds, err, sizeof err);
    free(text);
    if (rc == -ENOMEM) {
        ms_cli_error("%s", strerror(ENOMEM));
        return EXIT_FAILURE;
    }
    if (rc != 0) {
        ms_cli_error("%s: %s", path, err);
        return EXIT_FAILURE;
    }
    if (cmds->n == 0) {
        ms_cli_error("%s: no command in the file", path);
        return EXIT_FAILURE;
    }
    return -1;
}

/* Programs whose check passed, kept so that a file of many lines checks each once. */
#define CHECKED_KEEP 8

/*
 * Whether the program name can be started as execvp would (through PATH when it holds no
 * '/'); prints why not, after where (the --commands file and run, or NULL).
 */
static int program_runs(const char *name, const char *where, size_t seq)
{
    char *path = NULL;
    char *shown;
    const int rc = ms_exe_resolve(name, getenv("PATH"), &path);

    free(path);
    if (rc == 0 || rc == -ENOMEM)
        return 1; /* ENOMEM: not a reason to refuse the sweep */
    shown = ms_label_text(name, MS_LABEL_LINE_MAX);
    if (rc == -ENOENT && strchr(name, '/') == NULL) {
        if (where != NULL)
            ms_cli_error("%s: run %zu: %s: command not found in PATH", where, seq,
                         shown != NULL ? shown : name);
        else
            ms_cli_error("%s: command not found in PATH", shown != NULL ? shown : name);
    } else if (where != NULL) {
        ms_cli_error("%s: run %zu: %s: %s", where, seq, shown != NULL ? shown : name,
                     strerror(-rc));
    } else {
        ms_cli_error("%s: %s", shown != NULL ? shown : name, strerror(-rc));
    }
    free(shown);
    return 0;
}

/*
 * Refuses, before anything is created, a sweep whose program could not be started: every
 * run would fail with exit status 127. Checked where the program is known without running
 * anything: COMMAND when it holds no placeholder, and for --commands the first word of
 * each line when it is a plain program name (ms_shell_first_program). Returns -1 to go
 * on, or the exit status to leave with.
 */
static int check_programs(const ms_plan_t *plan, const char *commands_path)
{
    char *checked[CHECKED_KEEP] = {0};
    size_t n_checked = 0;
    int status = -1;

    if (plan->commands == NULL) {
        if (!ms_template_has_placeholder(plan->argv[0]) && !program_runs(plan->argv[0], NULL, 0))
            return EXIT_FAILURE;
        return -1;
    }
    for (size_t i = 0; i < plan->commands->n && status < 0; i++) {
        char *word = ms_shell_first_program(plan->commands->lines[i]);
        int seen = 0;

        if (word == NULL)
            continue;
        for (size_t k = 0; k < n_checked && !seen; k++)
            seen = strcmp(checked[k], word) == 0;
        if (seen) {
            free(word);
        } else if (!program_runs(word, commands_path, i + 1)) {
            free(word);
            status = EXIT_FAILURE;
        } else if (n_checked < CHECKED_KEEP) {
            checked[n_checked++] = word;
        } else {
            free(checked[i % CHECKED_KEEP]);
            checked[i % CHECKED_KEEP] = word;
        }
    }
    for (size_t k = 0; k < n_checked; k++)
        free(checked[k]);
    return status;
}

/* Makes sure descriptors 0-2 are open, so no file memsweep opens can land on them. */
static void ensure_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            const int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
            if (nfd >= 0 && nfd != fd) {
                dup2(nfd, fd);
                close(nfd);
            }
        }
    }
}

/* One line on stderr saying how the sweep will be scheduled. */
static void describe_schedule(const run_opts_t *ro, const ms_supervise_opts_t *so, long long cpus)
{
    char budget[128] = "", stagger[64] = "", retry[96] = "";

    if (so->budget_kb > 0)
        snprintf(budget, sizeof budget, ", memory budget %llu MiB%s (predictions: peak / %.2f)",
                 so->budget_kb / 1024ULL, ro->mem_budget_mb == 0 ? " (Usable_MB)" : "",
                 so->safety_factor);
    if (so->stagger_auto)
        snprintf(stagger, sizeof stagger, ", starts staggered by the time to peak");
    else if (so->stagger_ns > 0)
        snprintf(stagger, sizeof stagger, ", starts at least %g s apart", ro->stagger_s);
    if (so->retry_oom > 0)
        snprintf(retry, sizeof retry, ", out-of-memory kills retried alone up to %lld time%s",
                 so->retry_oom, so->retry_oom == 1 ? "" : "s");
    fprintf(stderr, "memsweep: at most %zu at once%s%s%s%s%s\n", so->jobs,
            so->jobs_auto ? " (-j auto: the CPUs)" : "", budget, stagger,
            so->order_size ? ", largest predicted first" : "", retry);
    if (so->budget_kb > 0 || so->stagger_auto)
        fprintf(stderr, "memsweep: runs start one at a time until one has finished and been "
                        "measured\n");
    (void)cpus;
    fflush(stderr);
}

/*
 * The post-run part: the advisory appended to the file and printed; returns 0 or 1.
 * *measured is the number of runs that were measured (included in the statistics, or
 * left out only because they did not finish), or -1 when it could not be read.
 */
static int finish_advisory(const ms_sweepdir_t *dir, const run_opts_t *ro, long long *measured)
{
    ms_advise_opts_t opts;
    ms_advisory_t adv;
    char err[512];
    int status = EXIT_SUCCESS;

    *measured = -1;
    /* The recorded machine, but a reserve given on the command line is named as such. */
    ms_advise_opts_init(&opts);
    opts.reserve_mb = ro->reserve_mb;
    opts.safety_factor = ro->safety_factor;
    if (ms_advise_db(dir->db_path, &opts, &adv, err, sizeof err) != 0) {
        ms_cli_error("%s", err);
        return EXIT_FAILURE;
    }
    *measured = (long long)(adv.counts.total - adv.counts.excluded);
    if (ms_sweepdir_append_post(dir, &adv, err, sizeof err) != 0) {
        ms_cli_error("%s", err);
        status = EXIT_FAILURE;
    }
    printf("Sweep directory: %s\n\n", dir->path);
    ms_advisory_write_post(stdout, &adv);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ms_cli_error("standard output: %s", strerror(errno));
        status = EXIT_FAILURE;
    }
    return status;
}

int ms_cmd_run(int argc, char **argv)
{
    run_opts_t ro = {.output = MS_DEFAULT_OUTPUT_DIR,
                     .interval_ms = MS_DEFAULT_INTERVAL_MS,
                     .mem_total_mb = -1,
                     .reserve_mb = -1,
                     .mem_budget_mb = -1,
                     .safety_factor = MS_DEFAULT_SAFETY_FACTOR};
    ms_commands_t cmds = {0};
    ms_plan_t plan = {0};
    ms_sweepdir_t dir = {0};
    ms_signals_t sigs;
    ms_rundb_t *db = NULL;
    ms_collector_t *coll = NULL;
    char spool_dir[PATH_MAX] = "";
    ms_machine_t machine;
    ms_supervise_opts_t so;
    ms_supervise_result_t res;
    ms_mem_choice_t mem;
    ms_memavail_t avail;
    ms_probe_paths_t probe_paths;
    int scheduled = 0;
    unsigned long long budget_kb = 0;
    long long cpus = 0;
    long long measured = -1;
    int nothing_ran = 0;
    char hostname[256];
    char err[512];
    char *shim = NULL;
    char *cmdline = NULL;
    char *joined = NULL;
    int status;
    int rc;

    ensure_std_fds();
    status = parse_options(argc, argv, &ro);
    if (status >= 0)
        goto out;

    plan.params = &ro.params;
    if (ro.commands != NULL) {
        status = load_commands(ro.commands, &cmds);
        if (status >= 0)
            goto out;
        plan.commands = &cmds;
    } else {
        plan.argv = argv + optind;
        plan.argc = (size_t)(argc - optind);
    }
    if (ms_plan_init(&plan, err, sizeof err) != 0) {
        if (ro.commands != NULL)
            ms_cli_error("%s: %s", ro.commands, err);
        else
            ms_cli_usage_error(SUB, "%s", err);
        status = ro.commands != NULL ? EXIT_FAILURE : EXIT_USAGE;
        goto out;
    }

    status = EXIT_FAILURE;
    shim = ms_cli_find_shim(ro.preload);
    if (shim == NULL)
        goto out;
    /*
     * A run the kernel would refuse to execute (an argument or a command line too long)
     * stops the sweep now rather than failing when its turn comes. The workers inherit
     * this environment, with the shim added to LD_PRELOAD.
     */
    if (ms_plan_check_exec(&plan, ms_exec_bytes(environ) + strlen(shim) + 1,
                           sysconf(_SC_ARG_MAX), err, sizeof err) != 0) {
        if (ro.commands != NULL)
            ms_cli_error("%s: %s", ro.commands, err);
        else
            ms_cli_error("%s", err);
        goto out;
    }
    status = check_programs(&plan, ro.commands);
    if (status >= 0)
        goto out;
    status = EXIT_FAILURE;
    if (ro.slurm) {
        const ms_plan_source_t src = {.param_specs = ro.param_specs,
                                      .n_param_specs = ro.n_param_specs,
                                      .argv = plan.argv,
                                      .argc = plan.argc,
                                      .commands = plan.commands};
        const ms_slurm_opts_t so_slurm = {.output = ro.output,
                                          .src = &src,
                                          .plan = &plan,
                                          .shim = shim,
                                          .jobs = ro.jobs, /* 0: no limit but SLURM's */
                                          .interval_ms = ro.interval_ms,
                                          .sbatch_args = ro.sbatch_args,
                                          .n_sbatch_args = ro.n_sbatch_args,
                                          .no_wait = ro.no_wait};
        status = ms_run_slurm(&so_slurm);
        goto out;
    }
    ms_cli_find_machine(ro.mem_total_mb, ro.reserve_mb, &mem, &cpus);
    if (ro.jobs == 0)
        ro.jobs = cpus < MS_MAX_RUNS ? cpus : MS_MAX_RUNS;
    /* -j auto fills the CPUs as far as memory allows: it needs a budget, Usable_MB unless given. */
    if (ro.jobs_auto && ro.mem_budget_mb < 0)
        ro.mem_budget_mb = 0;
    scheduled = ro.jobs_auto || ro.mem_budget_mb >= 0 || ro.stagger_s > 0.0 || ro.stagger_auto ||
                ro.order_size || ro.retry_oom > 0;
    if (ro.mem_budget_mb == 0) {
        ms_machine_t m;
        ms_machine_init(&m, mem.have_total, mem.total_kb, mem.reserve_mb, ro.safety_factor);
        if (!m.have_mem_total || m.usable_mb <= 0) {
            ms_cli_error("--mem-budget auto: %s; give the budget in MiB (--mem-budget MB)",
                         !m.have_mem_total ? "the memory of this machine is not known"
                                           : "Usable_MB is 0 (the reserve takes all the memory)");
            goto out;
        }
        budget_kb = (unsigned long long)m.usable_mb * 1024ULL;
    } else if (ro.mem_budget_mb > 0) {
        budget_kb = (unsigned long long)ro.mem_budget_mb * 1024ULL;
    }
    joined = ms_join_words(argv, (size_t)argc);
    if (joined == NULL || asprintf(&cmdline, "memsweep %s", joined) < 0) {
        cmdline = NULL;
        ms_cli_error("%s", strerror(ENOMEM));
        goto out;
    }

    /* From here on a stop signal waits for the supervisor, which handles it cleanly. */
    rc = ms_signals_block(&sigs);
    if (rc != 0) {
        ms_cli_error("cannot block signals: %s", strerror(-rc));
        goto out;
    }
    if (ms_sweepdir_create(ro.output, time(NULL), &dir, err, sizeof err) != 0) {
        ms_cli_error("%s", err);
        goto out;
    }

    if (ms_collector_spool_dir(dir.abs_path, dir.db_path, spool_dir, sizeof spool_dir, err,
                               sizeof err) != 0) {
        ms_cli_error("%s", err);
        nothing_ran = 1;
        goto out;
    }
    if (gethostname(hostname, sizeof hostname) != 0)
        hostname[0] = '\0';
    hostname[sizeof hostname - 1] = '\0';
    {
        const ms_sweep_row_t row = {
            .started_ns = ms_now_ns(),
            .hostname = hostname[0] != '\0' ? hostname : NULL,
            .have_mem_total = mem.have_total,
            .mem_total_kb = mem.total_kb,
            .reserve_mb = mem.reserve_mb,
            .safety_factor = ro.safety_factor,
            .interval_ms = ro.interval_ms,
            .jobs = ro.jobs,
            .argv = cmdline,
            .planned_runs = (long long)plan.n_runs,
            .mem_source = mem.have_total ? mem.source : NULL,
            .have_host_mem_total = mem.have_host,
            .host_mem_total_kb = mem.host_kb,
            .cpus = cpus,
            .spool_dir = spool_dir,
        };
        if (ms_rundb_create(dir.db_path, &row, &db, err, sizeof err) != 0) {
            ms_cli_error("%s", err);
            nothing_ran = 1;
            goto out;
        }
    }
    if (scheduled) {
        const ms_schedule_row_t sch = {.mem_budget_kb = budget_kb,
                                       .jobs_auto = ro.jobs_auto,
                                       .stagger_ms = ro.stagger_auto
                                                         ? -1
                                                         : (long long)(ro.stagger_s * 1000.0 + 0.5),
                                       .run_order = ro.order_size ? "size" : "plan",
                                       .retry_oom = ro.retry_oom};
        if (ms_rundb_set_schedule(db, &sch, err, sizeof err) != 0) {
            ms_cli_error("%s", err);
            nothing_ran = 1;
            goto out;
        }
    }
    if (ms_collector_start(dir.db_path, spool_dir, ro.interval_ms, &coll, err, sizeof err) != 0) {
        ms_cli_error("%s", err);
        nothing_ran = 1;
        goto out;
    }
    ms_machine_init(&machine, mem.have_total, mem.total_kb, mem.reserve_mb, ro.safety_factor);
    ms_machine_describe(&machine, mem.source, mem.have_host, mem.host_kb, mem.rule, cpus);
    if (ms_sweepdir_write_pre(&dir, &machine, err, sizeof err) != 0) {
        ms_cli_error("%s", err);
        nothing_ran = 1;
        goto out;
    }

    so = (ms_supervise_opts_t){
        .plan = &plan,
        .dir = &dir,
        .db = db,
        .collector = coll,
        .signals = &sigs,
        .shim_path = shim,
        .interval_ms = ro.interval_ms,
        .jobs = (size_t)ro.jobs,
        .timeout_ns = (int64_t)(ro.timeout_s * 1e9),
        .tty = isatty(STDERR_FILENO),
        .usable_mb = machine.have_mem_total ? machine.usable_mb : 0,
        .scheduled = scheduled,
        .budget_kb = budget_kb,
        .jobs_auto = ro.jobs_auto,
        .stagger_ns = (int64_t)(ro.stagger_s * 1e9),
        .stagger_auto = ro.stagger_auto,
        .order_size = ro.order_size,
        .retry_oom = ro.retry_oom,
        .safety_factor = ro.safety_factor,
    };
    if (budget_kb > 0) {
        ms_probe_paths_default(&probe_paths);
        ms_memavail_open(&avail, &probe_paths);
        so.avail = &avail;
    }
    if (scheduled)
        describe_schedule(&ro, &so, cpus);
    if (ro.timeout_s > 0.0 && so.timeout_ns < 1)
        so.timeout_ns = 1;
    if (ms_supervise(&so, &res) != 0) {
        nothing_ran = 1;
        goto out;
    }

    /*
     * Every worker is reaped: the last fold, before the sweep is marked finished and the
     * database becomes one self-contained file, which needs the collector's connection
     * closed.
     */
    if (ms_collector_finish(coll) != 0)
        res.error = 1;
    if (ms_rundb_finish_sweep(db, ms_now_ns(), err, sizeof err) != 0) {
        ms_cli_error("%s", err);
        res.error = 1;
    }
    /* The analysis reads the database on its own connection, as any later reader would. */
    ms_rundb_close(db);
    db = NULL;
    status = finish_advisory(&dir, &ro, &measured);
    if (res.stop_signal != 0)
        status = EXIT_INTERRUPTED;
    else if (res.error || res.ok != plan.n_runs)
        status = EXIT_FAILURE;
    /*
     * Runs that all succeeded unmeasured leave an advisory without a figure: that is not
     * a sweep that did what was asked, whatever the runs' own statuses.
     */
    if (measured == 0 && res.finished > 0) {
        ms_cli_error("no run was measured; the advisory has no figures (%zu run%s left out)",
                     res.finished, res.finished == 1 ? "" : "s");
        if (status != EXIT_INTERRUPTED)
            status = EXIT_FAILURE;
    }

out:
    ms_collector_free(coll);
    ms_rundb_close(db);
    /* Refused after its directory was made: nothing ran, so nothing is left behind. */
    if (nothing_ran) {
        if (spool_dir[0] != '\0')
            (void)rmdir(spool_dir);
        ms_sweepdir_remove(&dir);
    }
    ms_sweepdir_free(&dir);
    ms_commands_free(&cmds);
    ms_params_free(&ro.params);
    free(ro.param_specs);
    free(ro.sbatch_args);
    free(shim);
    free(joined);
    free(cmdline);
    return status;
}
