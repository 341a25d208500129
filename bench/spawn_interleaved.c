/*
 * The start and exit of a process under each of several environments, measured process by
 * process: for i in 1..N, one `posix_spawn` + `wait4` of PROGRAM per mode, the modes'
 * order rotated each time. Interleaving single processes, rather than timing a loop of
 * each mode in turn, puts every mode under the same load at the same moments, so that the
 * drift of a busy machine cancels out of the differences.
 *
 * Usage: spawn_interleaved N PROGRAM MODE...
 *   MODE  "NAME=VAR=VALUE VAR=VALUE ..." (the whole environment of the process; NAME
 *         alone for an empty one), e.g. "none=" or "inert=LD_PRELOAD=/x/libmemsweep.so"
 * Prints one line per mode: its name, the median wall time of one process (µs), the
 * difference from the first mode's median, the first quartile, the mean, the minor page
 * faults and the CPU time (user + system) of one process, as wait4 reports them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#define MODES_MAX 16
#define VARS_MAX 32

typedef struct {
    char *name;
    char *env[VARS_MAX + 1];
    double *wall_us;
    double faults;
    double cpu_us;
} spawn_mode_t;

static double now_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static int parse_mode(char *spec, spawn_mode_t *m, long n)
{
    char *eq = strchr(spec, '=');
    char *save = NULL;
    int k = 0;

    if (eq == NULL)
        return -1;
    *eq = '\0';
    m->name = spec;
    for (char *v = strtok_r(eq + 1, " ", &save); v != NULL; v = strtok_r(NULL, " ", &save)) {
        if (k == VARS_MAX || strchr(v, '=') == NULL)
            return -1;
        m->env[k++] = v;
    }
    m->env[k] = NULL;
    m->wall_us = calloc((size_t)n, sizeof(double));
    return m->wall_us == NULL ? -1 : 0;
}

int main(int argc, char **argv)
{
    spawn_mode_t modes[MODES_MAX] = {0};
    char *end = NULL;
    long n;
    int nm;

    if (argc < 4 || argc - 3 > MODES_MAX) {
        fprintf(stderr, "usage: spawn_interleaved N PROGRAM MODE... (at most %d modes)\n",
                MODES_MAX);
        return 2;
    }
    n = strtol(argv[1], &end, 10);
    if (*end != '\0' || n < 1 || n > 10000000) {
        fprintf(stderr, "spawn_interleaved: N must be a whole number from 1\n");
        return 2;
    }
    nm = argc - 3;
    for (int m = 0; m < nm; m++) {
        if (parse_mode(argv[3 + m], &modes[m], n) != 0) {
            fprintf(stderr, "spawn_interleaved: not a mode: %s\n", argv[3 + m]);
            return 2;
        }
    }
    char *const child_argv[] = {argv[2], NULL};
    for (long i = 0; i < n; i++) {
        for (int k = 0; k < nm; k++) {
            spawn_mode_t *const m = &modes[(k + i) % nm];
            struct rusage ru;
            double t0;
            pid_t pid;
            int st, err;

            t0 = now_us();
            err = posix_spawn(&pid, argv[2], NULL, NULL, child_argv, m->env);
            if (err != 0) {
                fprintf(stderr, "spawn_interleaved: %s: %s\n", argv[2], strerror(err));
                return 1;
            }
            if (wait4(pid, &st, 0, &ru) != pid) {
                perror("spawn_interleaved: wait4");
                return 1;
            }
            m->wall_us[i] = now_us() - t0;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "spawn_interleaved: %s (mode %s) did not exit 0\n", argv[2],
                        m->name);
                return 1;
            }
            m->faults += (double)ru.ru_minflt;
            m->cpu_us += (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
        }
    }
    double base = 0;
    printf("  %-44s %8s %8s %8s %8s %7s %8s\n", "mode", "median", "vs first", "q1", "mean",
           "faults", "cpu");
    for (int m = 0; m < nm; m++) {
        double sum = 0;
        for (long i = 0; i < n; i++)
            sum += modes[m].wall_us[i];
        qsort(modes[m].wall_us, (size_t)n, sizeof(double), cmp_double);
        const double med = modes[m].wall_us[n / 2];
        if (m == 0)
            base = med;
        printf("  %-44.44s %8.0f %+8.0f %8.0f %8.0f %7.1f %8.0f\n", modes[m].name, med,
               med - base, modes[m].wall_us[n / 4], sum / (double)n,
               modes[m].faults / (double)n, modes[m].cpu_us / (double)n);
        free(modes[m].wall_us);
    }
    return 0;
}
