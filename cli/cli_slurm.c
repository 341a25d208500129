/* `memsweep run --slurm` and the end of a sweep of shards (see cli_slurm.h). */
#include "cli_slurm.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "advisory.h"
#include "climsg.h"
#include "clock.h"
#include "exeprobe.h"
#include "memsweep/defaults.h"
#include "memsweep/schema.h"
#include "memsweep/spooldir.h"
#include "rundb.h"
#include "shard.h"
#include "shardfix.h"
#include "slurmstate.h"
#include "sweepdir.h"
#include "sweepmerge.h"
#include "sweepread.h"

#define SLURM_DIR "slurm"
#define PLAN_FILE "plan"
#define SCRIPT_FILE "array.sh"
#define JOBS_FILE "jobs"

/* Polling the queue: first after this long, then less often, at most every 10 s. */
#define POLL_FIRST_MS 1000
#define POLL_MAX_MS 10000

#define EXIT_INTERRUPTED 130

/* One submitted array: its job id, the plan index of its task 0, and its tasks. */
typedef struct array {
    char id[32];
    long long offset;
    long long count;
} array_t;

/* path quoted for sh: in single quotes, each ' as '\''. NULL on ENOMEM. */
static char *sh_quote(const char *s)
{
    size_t n = 3;
    char *q, *p;

    for (const char *c = s; *c != '\0'; c++)
        n += *c == '\'' ? 4 : 1;
    q = malloc(n);
    if (q == NULL)
        return NULL;
    p = q;
    *p++ = '\'';
    for (const char *c = s; *c != '\0'; c++) {
        if (*c == '\'') {
            memcpy(p, "'\\''", 4);
            p += 4;
        } else {
            *p++ = *c;
        }
    }
    *p++ = '\'';
    *p = '\0';
    return q;
}

/* Writes the batch script every task runs. */
static int write_script(const char *path, const char *self, const char *sweep, const char *plan,
                        const char *shim, long long interval_ms)
{
    char *qs = sh_quote(self), *qd = sh_quote(sweep), *qp = sh_quote(plan), *qh = sh_quote(shim);
    FILE *f = NULL;
    int rc = -ENOMEM;

    if (qs != NULL && qd != NULL && qp != NULL && qh != NULL) {
        f = fopen(path, "wxe");
        rc = f != NULL ? 0 : -errno;
    }
    if (f != NULL) {
        fprintf(f,
                "#!/bin/sh\n"
                "# Written by memsweep run --slurm: each task of the array is one run of the\n"
                "# plan, measured by memsweep exec into the sweep directory.\n"
                "# Its argument is the plan index of the array's task 0. slurmstepd signals every\n"
                "# process of the task, the command included: memsweep passes nothing on.\n"
                "exec %s exec --sweep %s --plan %s \\\n"
                "    --plan-index \"$((SLURM_ARRAY_TASK_ID + ${1:-0}))\" \\\n"
                "    --no-forward-signals --interval-ms %lld --preload %s\n",
                qs, qd, qp, interval_ms, qh);
        if (fflush(f) != 0 || ferror(f))
            rc = -EIO;
        if (fclose(f) != 0 && rc == 0)
            rc = -errno;
        if (rc == 0 && chmod(path, 0755) != 0)
            rc = -errno;
    }
    free(qs);
    free(qd);
    free(qp);
    free(qh);
    return rc;
}

/*
 * Says what the compute nodes need before anything is submitted: memsweep, its shim and
 * the sweep directory at the same paths. Only what can be seen from here: a sweep
 * directory on a filesystem of this machine alone while the cluster has other nodes.
 */
static void check_reach(const char *sweep, const char *self)
{
    char *const argv[] = {"sinfo", "-h", "-N", "-o", "%N", NULL};
    char *nodes = ms_slurm_capture(argv);
    char host[256];
    struct statfs fs;
    size_t others = 0;

    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    if (nodes != NULL) {
        for (char *p = strtok(nodes, "\n"); p != NULL; p = strtok(NULL, "\n"))
            if (strcmp(p, host) != 0 && strncmp(host, p, strlen(p)) != 0)
                others++;
    }
    free(nodes);
    if (others > 0 && statfs(sweep, &fs) == 0 &&
        !ms_spooldir_is_network_fs((unsigned long long)fs.f_type))
        ms_cli_error("warning: %s is on a filesystem of this machine, but the cluster has %zu "
                     "other node%s: their tasks cannot write it",
                     sweep, others, others == 1 ? "" : "s");
    if (strncmp(self, "/tmp/", 5) == 0)
        ms_cli_error("warning: %s is under /tmp, which compute nodes usually do not share", self);
}

/* s with every '%' doubled, as sbatch reads file name patterns; NULL on ENOMEM. */
static char *pct_escape(const char *s)
{
    size_t n = 1;
    char *o, *p;

    for (const char *c = s; *c != '\0'; c++)
        n += *c == '%' ? 2 : 1;
    o = malloc(n);
    if (o == NULL)
        return NULL;
    p = o;
    for (const char *c = s; *c != '\0'; c++) {
        *p++ = *c;
        if (*c == '%')
            *p++ = '%';
    }
    *p = '\0';
    return o;
}

/* sbatch of one array; its job id into a->id. */
static int submit(const ms_slurm_opts_t *o, const char *dir, const char *script,
                  const char *after, array_t *a)
{
    char arr[96], off[32], dep[64], name[300];
    char *out = NULL, *errp = NULL, *dir_pct = pct_escape(dir);
    char **argv = calloc(o->n_sbatch_args + 16, sizeof *argv);
    size_t n = 0;
    char *res;
    int rc = 0;

    if (argv == NULL)
        return -ENOMEM;
    if (o->jobs > 0)
        snprintf(arr, sizeof arr, "--array=0-%lld%%%lld", a->count - 1, o->jobs);
    else
        snprintf(arr, sizeof arr, "--array=0-%lld", a->count - 1);
    snprintf(off, sizeof off, "%lld", a->offset);
    /* sbatch expands % in these names: the directory's own are doubled. */
    if (dir_pct == NULL ||
        asprintf(&out, "--output=%s/%s/slurm-%%A_%%a.out", dir_pct, MS_LOG_DIR) < 0 ||
        asprintf(&errp, "--error=%s/%s/slurm-%%A_%%a.err", dir_pct, MS_LOG_DIR) < 0) {
        free(argv);
        free(dir_pct);
        free(out);
        return -ENOMEM;
    }
    snprintf(name, sizeof name, "--job-name=memsweep-%s", strrchr(dir, '/') + 1);
    argv[n++] = "sbatch";
    argv[n++] = "--parsable";
    argv[n++] = arr;
    argv[n++] = out;
    argv[n++] = errp;
    argv[n++] = name;
    if (after != NULL) {
        /* The arrays run one after another, so that -j holds for the whole grid. */
        snprintf(dep, sizeof dep, "--dependency=afterany:%s", after);
        argv[n++] = dep;
    }
    for (size_t i = 0; i < o->n_sbatch_args; i++)
        argv[n++] = o->sbatch_args[i];
    argv[n++] = (char *)script;
    argv[n++] = off;
    argv[n] = NULL;
    res = ms_slurm_capture(argv);
    if (res == NULL || sscanf(res, "%31[0-9]", a->id) != 1) {
        ms_cli_error("sbatch refused the array (run it by hand to see why: sbatch %s %s%s %s)",
                     arr, o->n_sbatch_args > 0 ? "with your --sbatch-arg options " : "",
                     "...", script);
        rc = -EIO;
    }
    free(res);
    free(argv);
    free(dir_pct);
    free(out);
    free(errp);
    return rc;
}

/* Reads DIR/slurm/jobs; *n arrays into a new array. */
static int read_jobs(const char *dir, array_t **out, size_t *n)
{
    char path[PATH_MAX];
    FILE *f;
    array_t a, *v = NULL;
    size_t cap = 0;

    *out = NULL;
    *n = 0;
    snprintf(path, sizeof path, "%s/%s/%s", dir, SLURM_DIR, JOBS_FILE);
    f = fopen(path, "re");
    if (f == NULL)
        return -errno;
    while (fscanf(f, "%31s %lld %lld", a.id, &a.offset, &a.count) == 3) {
        if (*n == cap) {
            array_t *nv = realloc(v, (cap ? cap * 2 : 4) * sizeof *nv);
            if (nv == NULL) {
                free(v);
                fclose(f);
                return -ENOMEM;
            }
            v = nv;
            cap = cap ? cap * 2 : 4;
        }
        v[(*n)++] = a;
    }
    fclose(f);
    *out = v;
    return 0;
}

/*
 * Tasks an squeue line "ID STATE" stands for: one, or for the pending part of an array
 * ("1234_[5-9,12,20-30%4]"), the indices its ranges hold.
 */
static long long line_tasks(const char *line)
{
    const char *b = strchr(line, '[');
    long long n = 0;

    if (b == NULL)
        return 1;
    for (const char *p = b + 1; *p != '\0' && *p != ']' && *p != '%';) {
        long long lo, hi;
        int used = 0;
        if (sscanf(p, "%lld-%lld%n", &lo, &hi, &used) == 2 && used > 0 && hi >= lo)
            n += hi - lo + 1;
        else if (sscanf(p, "%lld%n", &lo, &used) == 1 && used > 0)
            n++;
        else
            break;
        p += used;
        if (*p == ',')
            p++;
    }
    return n > 0 ? n : 1;
}

/* Tasks of the arrays still in the queue, and of them running; -1 when squeue failed. */
static long long queued(const array_t *a, size_t n, long long *running)
{
    size_t len = 1;
    char *ids, *out;
    long long q = 0;

    for (size_t i = 0; i < n; i++)
        len += strlen(a[i].id) + 1;
    ids = malloc(len);
    if (ids == NULL)
        return -1;
    ids[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(ids, ",");
        strcat(ids, a[i].id);
    }
    {
        /* Pending tasks of an array come as one line with their ranges, not one each. */
        char *argv[] = {"squeue", "-h", "-o", "%i %T", "-j", ids, NULL};
        out = ms_slurm_capture(argv);
    }
    free(ids);
    *running = 0;
    if (out == NULL)
        return -1;
    for (char *p = strtok(out, "\n"); p != NULL; p = strtok(NULL, "\n")) {
        const long long t = line_tasks(p);
        q += t;
        if (strstr(p, " RUNNING") != NULL || strstr(p, " COMPLETING") != NULL)
            *running += t;
    }
    free(out);
    return q;
}

/* Sleeps ms, or less when a stop signal comes; returns that signal, or 0. */
static int nap(long long ms, const sigset_t *stop)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    const int sig = sigtimedwait(stop, NULL, &ts);

    return sig > 0 ? sig : 0;
}

/* Waits until no task of the arrays is queued; the stop signal that cut it short, or 0. */
static int wait_arrays(const array_t *a, size_t n, long long total, const sigset_t *stop)
{
    const int tty = isatty(STDERR_FILENO);
    long long last_q = -2, last_r = -2, delay = POLL_FIRST_MS;
    int failures = 0;
    const int64_t t0 = ms_mono_ns();

    for (;;) {
        long long running = 0;
        const long long q = queued(a, n, &running);
        int sig;

        if (q < 0) {
            /* slurmctld busy or restarting: ask again later, then give up. */
            if (++failures == 30) {
                ms_cli_error("squeue keeps failing; not waiting any longer (memsweep collect "
                             "finishes the sweep later)");
                return 0;
            }
        } else {
            failures = 0;
            if (q != last_q || running != last_r) {
                const double secs = (double)(ms_mono_ns() - t0) / 1e9;
                if (tty)
                    fprintf(stderr, "\r\033[Kmemsweep: %lld/%lld tasks done, %lld running, "
                                    "%lld pending  %.0fs",
                            total - q, total, running, q - running, secs);
                else
                    fprintf(stderr, "memsweep: %lld/%lld tasks done, %lld running, %lld pending "
                                    "(%.0fs)\n",
                            total - q, total, running, q - running, secs);
                last_q = q;
                last_r = running;
                delay = POLL_FIRST_MS;
            }
            if (q == 0)
                break;
        }
        sig = nap(delay, stop);
        if (sig != 0) {
            if (tty)
                fputc('\n', stderr);
            return sig;
        }
        delay = delay * 3 / 2 < POLL_MAX_MS ? delay * 3 / 2 : POLL_MAX_MS;
    }
    if (tty)
        fputc('\n', stderr);
    return 0;
}

/* scancel of every array; says which could not be cancelled. */
static void cancel_arrays(const array_t *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *const argv[] = {"scancel", (char *)a[i].id, NULL};
        char *res = ms_slurm_capture(argv);
        if (res == NULL)
            ms_cli_error("scancel %s failed: cancel it by hand", a[i].id);
        free(res);
    }
}

int ms_run_slurm(const ms_slurm_opts_t *o)
{
    ms_sweepdir_t dir = {0};
    ms_shard_sweep_t sw = {0};
    char self[PATH_MAX], sdir[PATH_MAX + 16], plan[PATH_MAX + 32], script[PATH_MAX + 32];
    char jobs[PATH_MAX + 32], err[1024];
    array_t *arrays = NULL;
    size_t n_arrays = 0;
    long long max_array, total = (long long)o->plan->n_runs;
    sigset_t stop, orig;
    FILE *jf = NULL;
    char *path = NULL;
    int created, status = EXIT_FAILURE, sig = 0, all_ok = 0, blocked = 0;
    ssize_t len;

    if (ms_exe_resolve("sbatch", getenv("PATH"), &path) != 0) {
        ms_cli_error("sbatch: command not found in PATH (--slurm submits with SLURM's sbatch)");
        free(path);
        return EXIT_FAILURE;
    }
    free(path);
    len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        ms_cli_error("/proc/self/exe: %s", strerror(errno));
        return EXIT_FAILURE;
    }
    self[len] = '\0';
    if (ms_sweepdir_create(o->output, time(NULL), &dir, err, sizeof err) != 0 ||
        ms_shard_sweep_open(dir.abs_path, NULL, &sw, &created, err, sizeof err) != 0) {
        ms_cli_error("%s", err);
        goto out;
    }
    check_reach(sw.path, self);
    snprintf(sdir, sizeof sdir, "%s/%s", sw.path, SLURM_DIR);
    snprintf(plan, sizeof plan, "%s/%s", sdir, PLAN_FILE);
    snprintf(script, sizeof script, "%s/%s", sdir, SCRIPT_FILE);
    snprintf(jobs, sizeof jobs, "%s/%s", sdir, JOBS_FILE);
    if (mkdir(sdir, 0777) != 0) {
        ms_cli_error("%s: %s", sdir, strerror(errno));
        goto out;
    }
    if (ms_planfile_write(plan, o->src, err, sizeof err) != 0) {
        ms_cli_error("%s", err);
        goto out;
    }
    if (write_script(script, self, sw.path, plan, o->shim, o->interval_ms) != 0) {
        ms_cli_error("%s: %s", script, strerror(errno));
        goto out;
    }
    jf = fopen(jobs, "we");
    if (jf == NULL) {
        ms_cli_error("%s: %s", jobs, strerror(errno));
        goto out;
    }
    /* From here on a stop signal waits: it must not orphan arrays half submitted. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop, &orig);
    blocked = 1;
    /* Indices of one array go up to MaxArraySize - 1: larger grids are split. */
    max_array = ms_slurm_max_array_size();
    for (long long off = 0; off < total; off += max_array) {
        array_t *na = realloc(arrays, (n_arrays + 1) * sizeof *na);
        if (na == NULL) {
            ms_cli_error("%s", strerror(ENOMEM));
            goto out;
        }
        arrays = na;
        arrays[n_arrays].offset = off;
        arrays[n_arrays].count = total - off < max_array ? total - off : max_array;
        if (submit(o, sw.path, script, n_arrays > 0 ? arrays[n_arrays - 1].id : NULL,
                   &arrays[n_arrays]) != 0) {
            if (n_arrays > 0) {
                ms_cli_error("cancelling the %zu array%s submitted before", n_arrays,
                             n_arrays == 1 ? "" : "s");
                cancel_arrays(arrays, n_arrays);
            }
            goto out;
        }
        fprintf(jf, "%s %lld %lld\n", arrays[n_arrays].id, off, arrays[n_arrays].count);
        fflush(jf);
        n_arrays++;
    }
    if (fclose(jf) != 0) {
        jf = NULL;
        ms_cli_error("%s: %s", jobs, strerror(errno));
        goto out;
    }
    jf = NULL;
    printf("Sweep directory: %s\n", dir.path);
    fflush(stdout);
    ms_cli_error("submitted %lld run%s as %zu job array%s (%s%s)", total, total == 1 ? "" : "s",
                 n_arrays, n_arrays == 1 ? "" : "s", arrays[0].id, n_arrays > 1 ? ", ..." : "");
    if (o->no_wait) {
        ms_cli_error("not waiting: 'memsweep collect %s' writes the advisory once the arrays "
                     "have ended", dir.path);
        status = EXIT_SUCCESS;
        goto out;
    }
    {
        /* A stop signal that came while submitting stops the sweep now. */
        const struct timespec zero = {0, 0};
        sig = sigtimedwait(&stop, NULL, &zero);
        if (sig > 0) {
            ms_cli_error("stopping: cancelling the arrays");
            cancel_arrays(arrays, n_arrays);
        }
        sig = sig > 0 ? sig : 0;
    }
    if (sig == 0)
        sig = wait_arrays(arrays, n_arrays, total, &stop);
    if (sig != 0) {
        /* A sweep stopped is a sweep cancelled: its tasks must not go on without it. */
        ms_cli_error("stopping: cancelling the arrays (a second signal leaves at once)");
        cancel_arrays(arrays, n_arrays);
        if (wait_arrays(arrays, n_arrays, total, &stop) != 0) {
            ms_cli_error("not waiting for the arrays to end: 'memsweep collect %s' writes the "
                         "advisory later", dir.path);
            status = EXIT_INTERRUPTED;
            goto out;
        }
    }
    sigprocmask(SIG_SETMASK, &orig, NULL);
    blocked = 0;
    putchar('\n');
    if (ms_cli_finish_shards(dir.path, 1, &all_ok) != 0)
        goto out;
    status = sig != 0 ? EXIT_INTERRUPTED : all_ok ? EXIT_SUCCESS : EXIT_FAILURE;
out:
    if (blocked)
        sigprocmask(SIG_SETMASK, &orig, NULL);
    if (jf != NULL)
        fclose(jf);
    free(arrays);
    ms_shard_sweep_free(&sw);
    ms_sweepdir_free(&dir);
    return status;
}

/* The batch jobs of the runs the sweep holds, as one string "\nJOB\nJOB\n...". */
static char *known_jobs(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    size_t len = 1, cap = 256;
    char *s = malloc(cap);

    if (s == NULL)
        return NULL;
    strcpy(s, "\n");
    if (sqlite3_prepare_v2(db, "SELECT batch_job FROM runs WHERE batch_job IS NOT NULL", -1, &st,
                           NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *j = (const char *)sqlite3_column_text(st, 0);
            const size_t l = strlen(j);
            if (len + l + 2 > cap) {
                char *ns = realloc(s, cap * 2 + l);
                if (ns == NULL)
                    break;
                s = ns;
                cap = cap * 2 + l;
            }
            memcpy(s + len, j, l);
            len += l;
            s[len++] = '\n';
            s[len] = '\0';
        }
    }
    sqlite3_finalize(st);
    return s;
}

/* A shard for a task that never ran (cancelled while pending...). */
static int record_unstarted(const ms_shard_sweep_t *sw, const ms_planfile_t *pf, long long index,
                            const char *job, const ms_batch_end_t *be)
{
    char local_dir[PATH_MAX], local[PATH_MAX + 64], uid[32], err[1024] = "";
    ms_run_spec_t spec = {0};
    ms_rundb_t *db = NULL;
    long long run_id = 0;
    int rc;

    if (ms_shard_local_dir(local_dir, sizeof local_dir, err, sizeof err) != 0 ||
        ms_shard_new_uid(uid, sizeof uid) != 0 ||
        ms_plan_expand(&pf->plan, (size_t)index + 1, &spec) != 0) {
        ms_cli_error("%s", err[0] != '\0' ? err : strerror(errno != 0 ? errno : ENOMEM));
        return -EIO;
    }
    snprintf(local, sizeof local, "%s/%s%s", local_dir, uid, MS_SHARD_SUFFIX);
    {
        const ms_sweep_row_t row = {.started_ns = ms_now_ns(),
                                    .reserve_mb = MS_DEFAULT_RESERVE_MB,
                                    .safety_factor = MS_DEFAULT_SAFETY_FACTOR,
                                    .interval_ms = MS_DEFAULT_INTERVAL_MS,
                                    .jobs = 1,
                                    .planned_runs = 1,
                                    .origin = MS_ORIGIN_EXEC,
                                    .rollback_journal = 1};
        const ms_run_identity_t id = {.uid = uid, .batch_job = job};
        const ms_run_end_t end = {.finished_ns = ms_now_ns(),
                                  .status = ms_batch_status(be),
                                  .have_exit_code = be->have_exit_code,
                                  .exit_code = be->exit_code,
                                  .have_term_signal = be->have_signal,
                                  .term_signal = be->signal,
                                  .uninstrumented = "not started: the batch system ended it"};
        rc = ms_rundb_create(local, &row, &db, err, sizeof err);
        if (rc == 0)
            rc = ms_rundb_start_run(db, (size_t)index + 1, spec.label, spec.command, 0, &run_id,
                                    err, sizeof err);
        if (rc == 0)
            rc = ms_rundb_set_identity(db, run_id, &id, err, sizeof err);
        if (rc == 0)
            rc = ms_rundb_finish_run(db, run_id, &end, err, sizeof err);
        if (rc == 0)
            rc = ms_rundb_set_batch_state(db, run_id, be->state, err, sizeof err);
        if (rc == 0)
            rc = ms_rundb_finish_sweep(db, ms_now_ns(), err, sizeof err);
        ms_rundb_close(db);
        if (rc == 0)
            rc = ms_shard_publish(sw, local, uid, err, sizeof err);
    }
    if (rc != 0)
        ms_cli_error("%s", err);
    (void)unlink(local);
    ms_run_spec_free(&spec);
    return rc;
}

/* Runs for the tasks of DIR's arrays that have none and that SLURM says ended. */
static int add_unstarted(const ms_shard_sweep_t *sw)
{
    char plan[PATH_MAX + 32], err[1024];
    ms_planfile_t pf = {0};
    array_t *arrays = NULL;
    size_t n = 0;
    ms_merge_t *m = NULL;
    sqlite3 *db = NULL;
    char *known = NULL;
    int rc;

    if (read_jobs(sw->path, &arrays, &n) != 0 || n == 0)
        return 0; /* not a sweep of memsweep run --slurm */
    snprintf(plan, sizeof plan, "%s/%s/%s", sw->path, SLURM_DIR, PLAN_FILE);
    rc = ms_planfile_read(plan, &pf, err, sizeof err);
    if (rc == 0)
        rc = ms_merge_open(&m, err, sizeof err);
    if (rc == 0)
        rc = ms_merge_add(m, sw->path, err, sizeof err);
    if (rc == 0) {
        rc = ms_merge_finish(m, &db, NULL, err, sizeof err);
        m = NULL;
        if (rc == -ENOENT)
            rc = 0; /* no shard yet: no task ran */
    }
    if (rc != 0) {
        ms_cli_error("%s", err);
        goto out;
    }
    known = db != NULL ? known_jobs(db) : strdup("\n");
    for (size_t i = 0; rc == 0 && known != NULL && i < n; i++) {
        ms_batch_end_t *ends = calloc((size_t)arrays[i].count, sizeof *ends);
        unsigned char *have = calloc((size_t)arrays[i].count, 1);
        int looked = 0;
        if (ends == NULL || have == NULL) {
            free(ends);
            free(have);
            rc = -ENOMEM;
            break;
        }
        for (long long t = 0; rc == 0 && t < arrays[i].count; t++) {
            char job[64], needle[72];
            snprintf(job, sizeof job, "%s_%lld", arrays[i].id, t);
            snprintf(needle, sizeof needle, "\n%s\n", job);
            if (strstr(known, needle) != NULL || arrays[i].offset + t >= (long long)pf.plan.n_runs)
                continue;
            /* One query of each source for the whole array, only when a task lacks its run. */
            if (!looked) {
                ms_slurm_array_lookup(arrays[i].id, arrays[i].count, ends, have);
                looked = 1;
            }
            if (have[t])
                rc = record_unstarted(sw, &pf, arrays[i].offset + t, job, &ends[t]);
        }
        free(ends);
        free(have);
    }
out:
    free(known);
    sqlite3_close(db);
    ms_merge_free(m);
    ms_planfile_free(&pf);
    free(arrays);
    return rc != 0;
}

int ms_cli_finish_shards(const char *dir, int print, int *all_ok)
{
    ms_shard_sweep_t sw;
    ms_settle_counts_t counts;
    ms_merge_t *m = NULL;
    ms_sweep_data_t data;
    ms_advise_opts_t opts;
    ms_advisory_t adv;
    sqlite3 *db = NULL;
    char err[1024] = "";
    int created = 0, rc, status = 1;

    memset(&data, 0, sizeof data);
    *all_ok = 0;
    if (ms_shard_sweep_open(dir, NULL, &sw, &created, err, sizeof err) != 0) {
        ms_cli_error("%s", err);
        return 1;
    }
    rc = ms_shard_settle(&sw, ms_slurm_available() ? ms_slurm_lookup : NULL, NULL, &counts, err,
                         sizeof err);
    if (rc == 0 && ms_slurm_available() && add_unstarted(&sw) != 0)
        rc = -EIO;
    if (rc == 0)
        rc = ms_merge_open(&m, err, sizeof err);
    if (rc == 0)
        rc = ms_merge_add(m, sw.path, err, sizeof err);
    if (rc == 0) {
        rc = ms_merge_finish(m, &db, NULL, err, sizeof err);
        m = NULL;
    }
    if (rc == 0)
        rc = ms_sweep_read(db, dir, &data, err, sizeof err);
    ms_advise_opts_init(&opts);
    if (rc == 0)
        rc = ms_sweep_advise(&data, &opts, &adv);
    if (rc == 0 && ms_shard_write_post(&sw, &adv, err, sizeof err) != 0)
        rc = -EIO;
    if (rc != 0) {
        if (err[0] != '\0')
            ms_cli_error("%s", err);
        goto out;
    }
    if (counts.settled > 0)
        ms_cli_error("%s: %zu run%s ended without recording it; now recorded", dir,
                     counts.settled, counts.settled == 1 ? "" : "s");
    if (counts.relabelled > 0)
        ms_cli_error("%s: %zu run%s killed by the batch system (status from its state)", dir,
                     counts.relabelled, counts.relabelled == 1 ? "" : "s");
    if (counts.running > 0)
        ms_cli_error("%s: %zu run%s still running", dir, counts.running,
                     counts.running == 1 ? "" : "s");
    *all_ok = adv.counts.total > 0 && adv.counts.failed == 0 && adv.counts.running == 0;
    if (print) {
        ms_advisory_write_post(stdout, &adv);
        if (fflush(stdout) != 0) {
            ms_cli_error("standard output: %s", strerror(errno));
            goto out;
        }
    }
    status = 0;
out:
    ms_merge_free(m);
    ms_sweep_free(&data);
    sqlite3_close(db);
    ms_shard_sweep_free(&sw);
    return status;
}
