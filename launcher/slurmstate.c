/* What SLURM says about how a job or array task ended (see slurmstate.h). */
#include "slurmstate.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exeprobe.h"

extern char **environ;

/* Most output read from one command. */
#define OUT_MAX (16 * 1024 * 1024)

/* Whether p starts a KEY= word: letters, digits and '_' then '='. */
static int is_key_start(const char *p)
{
    if (!isalpha((unsigned char)*p))
        return 0;
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    return *p == '=';
}

int ms_slurm_field(const char *line, const char *key, char *out, size_t len)
{
    const size_t kl = strlen(key);

    for (const char *p = line; *p != '\0'; p++) {
        if ((p != line && !isspace((unsigned char)p[-1])) || strncmp(p, key, kl) != 0 ||
            p[kl] != '=')
            continue;
        const char *v = p + kl + 1, *end = v;
        while (*end != '\0' && *end != '\n') {
            if (isspace((unsigned char)*end) && is_key_start(end + 1))
                break;
            end++;
        }
        while (end > v && isspace((unsigned char)end[-1]))
            end--;
        snprintf(out, len, "%.*s", (int)(end - v), v);
        return 1;
    }
    return 0;
}

int ms_slurm_parse_end(const char *line, ms_batch_end_t *end)
{
    static const char *const unfinished[] = {"PENDING", "RUNNING", "SUSPENDED", "COMPLETING",
                                             "CONFIGURING", "REQUEUED", "REQUEUE_FED",
                                             "REQUEUE_HOLD", "RESIZING", "SIGNALING",
                                             "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"};
    char v[64];
    int a, b;

    memset(end, 0, sizeof *end);
    if (!ms_slurm_field(line, "JobState", v, sizeof v) && !ms_slurm_field(line, "State", v, sizeof v))
        return 0;
    /* sacct writes "CANCELLED by 0". */
    v[strcspn(v, " +")] = '\0';
    snprintf(end->state, sizeof end->state, "%s", v);
    for (size_t i = 0; i < sizeof unfinished / sizeof unfinished[0]; i++)
        if (strcmp(v, unfinished[i]) == 0)
            return 0;
    if (ms_slurm_field(line, "ExitCode", v, sizeof v) && sscanf(v, "%d:%d", &a, &b) == 2) {
        end->have_exit_code = b == 0;
        end->exit_code = a;
        end->have_signal = b != 0;
        end->signal = b;
    }
    return end->state[0] != '\0';
}

int ms_slurm_record_is(const char *line, const char *job)
{
    char id[64], arr[64], task[64], want[128];
    const char *us = strchr(job, '_');

    if (us == NULL)
        return ms_slurm_field(line, "JobId", id, sizeof id) && strcmp(id, job) == 0;
    snprintf(want, sizeof want, "%.*s", (int)(us - job), job);
    return ms_slurm_field(line, "ArrayJobId", arr, sizeof arr) &&
           ms_slurm_field(line, "ArrayTaskId", task, sizeof task) && strcmp(arr, want) == 0 &&
           strcmp(task, us + 1) == 0;
}

int ms_slurm_memory_kill_line(const char *text, char *out, size_t len)
{
    static const char *const marks[] = {"exceeded memory limit", "Exceeded job memory limit",
                                        "Exceeded step memory limit", "oom-kill",
                                        "out-of-memory", "OOM Killed"};
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        const char *hit = strstr(text, marks[i]);
        if (hit == NULL)
            continue;
        const char *b = hit, *e = hit;
        while (b > text && b[-1] != '\n')
            b--;
        while (*e != '\0' && *e != '\n')
            e++;
        snprintf(out, len, "%.*s", (int)(e - b), b);
        return 1;
    }
    return 0;
}

char *ms_slurm_capture(char *const argv[])
{
    int fds[2];
    char *buf = NULL;
    size_t n = 0;
    pid_t pid;
    int st;

    if (pipe2(fds, O_CLOEXEC) != 0)
        return NULL;
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return NULL;
    }
    if (pid == 0) {
        const int devnull = open("/dev/null", O_RDWR);
        sigset_t none;
        if (dup2(fds[1], STDOUT_FILENO) < 0 || devnull < 0 || dup2(devnull, STDERR_FILENO) < 0 ||
            dup2(devnull, STDIN_FILENO) < 0)
            _exit(127);
        /* The caller may block its stop signals; the command gets none blocked. */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* The user's SQUEUE_* defaults (states, partitions, format) would change the answer. */
        for (char **e = environ; *e != NULL;) {
            if (strncmp(*e, "SQUEUE_", 7) == 0) {
                char name[128];
                snprintf(name, sizeof name, "%.*s", (int)strcspn(*e, "="), *e);
                unsetenv(name);
            } else {
                e++;
            }
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    buf = malloc(OUT_MAX + 1);
    if (buf == NULL) {
        close(fds[0]);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        return NULL;
    }
    if (buf != NULL) {
        ssize_t r;
        while (n < OUT_MAX && ((r = read(fds[0], buf + n, OUT_MAX - n)) > 0 || (r < 0 && errno == EINTR)))
            if (r > 0)
                n += (size_t)r;
        buf[n] = '\0';
        /* More than that is not an answer memsweep can use whole. */
        if (n == OUT_MAX) {
            free(buf);
            buf = NULL;
        }
    }
    close(fds[0]);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (buf != NULL && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

/* Reads up to the last 16 KiB of the file at path into a new string; NULL on failure. */
static char *tail_of(const char *path)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf;
    off_t size;
    ssize_t r;

    if (fd < 0)
        return NULL;
    size = lseek(fd, 0, SEEK_END);
    buf = malloc(16385);
    if (buf == NULL || size < 0) {
        free(buf);
        close(fd);
        return NULL;
    }
    r = pread(fd, buf, 16384, size > 16384 ? size - 16384 : 0);
    close(fd);
    if (r < 0) {
        free(buf);
        return NULL;
    }
    buf[r] = '\0';
    return buf;
}

/* Fills the reason of a task SIGKILLed by SLURM from its standard error file, if it says. */
static void memory_reason(const char *record, ms_batch_end_t *end)
{
    char path[4096];
    char *text;

    if (!end->have_signal || end->signal != 9 || !ms_slurm_field(record, "StdErr", path, sizeof path))
        return;
    text = tail_of(path);
    if (text != NULL && ms_slurm_memory_kill_line(text, end->reason, sizeof end->reason)) {
        /* Keep the reason short and on one line. */
        for (char *p = end->reason; *p != '\0'; p++)
            if (*p == '\t' || *p == '\r')
                *p = ' ';
    }
    free(text);
}

/* The line of text that is the record of job, copied into a new string; NULL when none. */
static char *record_of(const char *text, const char *job)
{
    char *found = NULL;

    for (const char *p = text; *p != '\0';) {
        const char *e = strchr(p, '\n');
        const size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        char *line = strndup(p, len);
        if (line == NULL)
            break;
        if (ms_slurm_record_is(line, job)) {
            free(found);
            found = line; /* the last one: a requeued job's latest */
        } else {
            free(line);
        }
        p += len + (e != NULL);
    }
    return found;
}

/* From `sacct` (accounting). 1 when it knows the job's end. */
static int from_sacct(const char *job, ms_batch_end_t *end)
{
    char *const argv[] = {"sacct", "-n", "-X", "-P", "-j", (char *)job,
                          "-o", "JobIDRaw,State,ExitCode", NULL};
    char *out = ms_slurm_capture(argv);
    char line[512];
    int ok = 0;

    if (out != NULL) {
        char id[64], state[64], code[32];
        /* The last line is the latest attempt of a requeued job. */
        for (char *p = strtok(out, "\n"); p != NULL; p = strtok(NULL, "\n")) {
            if (sscanf(p, "%63[^|]|%63[^|]|%31s", id, state, code) == 3) {
                snprintf(line, sizeof line, "State=%s ExitCode=%s", state, code);
                ok = ms_slurm_parse_end(line, end);
            }
        }
    }
    free(out);
    return ok;
}

/* From `scontrol show job -o`, while slurmctld remembers it. */
static int from_scontrol(const char *job, ms_batch_end_t *end)
{
    char *const argv[] = {"scontrol", "show", "job", "-o", (char *)job, NULL};
    char *out = ms_slurm_capture(argv);
    char *rec = out != NULL ? record_of(out, job) : NULL;
    int ok = rec != NULL && ms_slurm_parse_end(rec, end);

    if (ok)
        memory_reason(rec, end);
    free(rec);
    free(out);
    return ok;
}

/* From the job-completion log of jobcomp/filetxt, named by `scontrol show config`. */
/*
 * The job-completion log's path into loc, when the cluster writes one (JobCompType
 * jobcomp/filetxt, an absolute JobCompLoc): 1, else 0.
 */
static int jobcomp_log(char *loc, size_t len)
{
    char *const argv[] = {"scontrol", "show", "config", NULL};
    char *conf = ms_slurm_capture(argv);
    char type[64] = "";

    loc[0] = '\0';
    if (conf != NULL) {
        for (char *p = strtok(conf, "\n"); p != NULL; p = strtok(NULL, "\n")) {
            char k[64], v[4096];
            if (sscanf(p, " %63s = %4095[^\n]", k, v) != 2)
                continue;
            if (strcmp(k, "JobCompType") == 0)
                snprintf(type, sizeof type, "%.63s", v);
            else if (strcmp(k, "JobCompLoc") == 0)
                snprintf(loc, len, "%s", v);
        }
    }
    free(conf);
    return strcmp(type, "jobcomp/filetxt") == 0 && loc[0] == '/';
}

static int from_jobcomp(const char *job, ms_batch_end_t *end)
{
    char loc[4096];
    int ok = 0;

    if (jobcomp_log(loc, sizeof loc)) {
        FILE *f = fopen(loc, "re");
        char *line = NULL, *last = NULL;
        size_t cap = 0;
        while (f != NULL && getline(&line, &cap, f) > 0) {
            if (ms_slurm_record_is(line, job)) {
                free(last);
                last = strdup(line);
            }
        }
        if (f != NULL)
            fclose(f);
        free(line);
        ok = last != NULL && ms_slurm_parse_end(last, end);
        free(last);
    }
    return ok;
}

int ms_slurm_lookup(void *arg, const char *job, ms_batch_end_t *end)
{
    (void)arg;
    return from_sacct(job, end) || from_scontrol(job, end) || from_jobcomp(job, end);
}

int ms_slurm_available(void)
{
    char *path = NULL;
    const int rc = ms_exe_resolve("scontrol", getenv("PATH"), &path);

    free(path);
    return rc == 0;
}

long long ms_slurm_max_array_size(void)
{
    char *const argv[] = {"scontrol", "show", "config", NULL};
    char *conf = ms_slurm_capture(argv);
    long long n = 1001;

    if (conf != NULL) {
        for (char *p = strtok(conf, "\n"); p != NULL; p = strtok(NULL, "\n")) {
            long long v;
            if (sscanf(p, " MaxArraySize = %lld", &v) == 1 && v > 0)
                n = v;
        }
    }
    free(conf);
    return n;
}

/*
 * Applies the record line (of array id) to the tasks it names: its ArrayTaskId, a task
 * index or ranges ("5-9,12%4"), each in [0, count) without an end yet.
 */
static void apply_record(const char *line, const char *id, long long count, ms_batch_end_t *ends,
                         unsigned char *have)
{
    char arr[64], tasks[4096];
    ms_batch_end_t e;

    if (!ms_slurm_field(line, "ArrayJobId", arr, sizeof arr) || strcmp(arr, id) != 0 ||
        !ms_slurm_field(line, "ArrayTaskId", tasks, sizeof tasks) || !ms_slurm_parse_end(line, &e))
        return;
    memory_reason(line, &e);
    for (const char *p = tasks; *p != '\0' && *p != '%';) {
        long long lo, hi;
        int used = 0;
        if (sscanf(p, "%lld-%lld%n", &lo, &hi, &used) == 2 && used > 0) {
        } else if (sscanf(p, "%lld%n", &lo, &used) == 1 && used > 0) {
            hi = lo;
        } else {
            break;
        }
        for (long long t = lo < 0 ? 0 : lo; t <= hi && t < count; t++)
            if (!have[t]) {
                ends[t] = e;
                have[t] = 1;
            }
        p += used;
        if (*p == ',')
            p++;
    }
}

void ms_slurm_array_lookup(const char *id, long long count, ms_batch_end_t *ends,
                           unsigned char *have)
{
    char *const sacct[] = {"sacct", "-n", "-X", "-P", "-j", (char *)id,
                           "-o", "JobID,State,ExitCode", NULL};
    char *const scontrol[] = {"scontrol", "show", "job", "-o", (char *)id, NULL};
    char *out;

    memset(have, 0, (size_t)count);
    /* sacct: "ID_T|STATE|X:S" or, for tasks that never ran, "ID_[5-9]|CANCELLED by 0|0:0". */
    out = ms_slurm_capture(sacct);
    if (out != NULL) {
        for (char *p = strtok(out, "\n"); p != NULL; p = strtok(NULL, "\n")) {
            char job[4200], state[64], code[32], line[4400];
            const size_t il = strlen(id);
            if (sscanf(p, "%4199[^|]|%63[^|]|%31s", job, state, code) != 3 ||
                strncmp(job, id, il) != 0 || job[il] != '_')
                continue;
            char *tasks = job + il + 1 + (job[il + 1] == '[');
            tasks[strcspn(tasks, "]")] = '\0';
            snprintf(line, sizeof line, "ArrayJobId=%s ArrayTaskId=%s State=%s ExitCode=%s", id,
                     tasks, state, code);
            apply_record(line, id, count, ends, have);
        }
    }
    free(out);
    out = ms_slurm_capture(scontrol);
    if (out != NULL)
        for (char *p = strtok(out, "\n"); p != NULL; p = strtok(NULL, "\n"))
            apply_record(p, id, count, ends, have);
    free(out);
    {
        char loc[4096];
        if (jobcomp_log(loc, sizeof loc)) {
            FILE *f = fopen(loc, "re");
            char *line = NULL;
            size_t cap = 0;
            /* The last record of a task is its latest: read them all, the latest kept. */
            ms_batch_end_t *last = calloc((size_t)count, sizeof *last);
            unsigned char *seen = calloc((size_t)count, 1);
            while (f != NULL && last != NULL && seen != NULL && getline(&line, &cap, f) > 0) {
                memset(seen, 0, (size_t)count);
                apply_record(line, id, count, last, seen);
                for (long long t = 0; t < count; t++)
                    if (seen[t] && !have[t])
                        ends[t] = last[t], have[t] = 2;
            }
            for (long long t = 0; t < count; t++)
                if (have[t] == 2)
                    have[t] = 1;
            if (f != NULL)
                fclose(f);
            free(line);
            free(last);
            free(seen);
        }
    }
}
