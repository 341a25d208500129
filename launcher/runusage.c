/* The launcher's floor under ru_maxrss and the out-of-memory kill counter (see runusage.h). */
#include "runusage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostlimits_probe.h"
#include "memsweep/procfs.h"

int ms_parse_statm_rss_kb(const char *text, long page_size, unsigned long long *kb)
{
    unsigned long long pages;

    if (page_size <= 0 || ms_procfs_statm_resident(text, strlen(text), &pages) != 0)
        return -EINVAL;
    *kb = pages * (unsigned long long)(page_size / 1024);
    return 0;
}

int ms_self_rss_kb(unsigned long long *kb)
{
    char *text = NULL;
    size_t len = 0;
    int rc = ms_probe_slurp("/proc/self/statm", 256, &text, &len);

    if (rc != 0)
        return rc;
    rc = ms_parse_statm_rss_kb(text, sysconf(_SC_PAGESIZE), kb);
    free(text);
    return rc;
}

int ms_parse_oom_kill(const char *text, unsigned long long *n)
{
    static const char key[] = "oom_kill ";
    const char *line = text;

    while (*line != '\0') {
        const char *nl = strchr(line, '\n');
        if (strncmp(line, key, sizeof key - 1) == 0) {
            const size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
            size_t pos = sizeof key - 1;
            unsigned long long v;
            if (ms_procfs_number(line, len, &pos, &v) != 0 || pos != len)
                return -EINVAL;
            *n = v;
            return 0;
        }
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return -ENOENT;
}

/* A counter file is a few lines; /proc/vmstat a few hundred. */
#define COUNTER_FILE_MAX (1u << 20)

/* Reads path and finds its oom_kill line. */
static int read_counter(const char *path, unsigned long long *n)
{
    char *text = NULL;
    size_t len = 0;
    int rc = ms_probe_slurp(path, COUNTER_FILE_MAX, &text, &len);

    if (rc == 0)
        rc = ms_parse_oom_kill(text, n);
    free(text);
    return rc;
}

/* Sets c's path to FILE in memsweep's cgroup of that version, when it counts kills. */
static int try_cgroup(ms_oom_counter_t *c, int version, const char *file, const char *source)
{
    ms_probe_paths_t paths;
    char dir[2048];
    unsigned long long n;
    int rc;

    ms_probe_paths_default(&paths);
    rc = ms_probe_cgroup_dir(&paths, version, dir, sizeof dir);
    if (rc != 0)
        return rc;
    if (snprintf(c->path, sizeof c->path, "%s/%s", dir, file) >= (int)sizeof c->path)
        return -ENAMETOOLONG;
    rc = read_counter(c->path, &n);
    if (rc == 0)
        snprintf(c->source, sizeof c->source, "%s", source);
    return rc;
}

void ms_oom_counter_open_cgroup(ms_oom_counter_t *c)
{
    memset(c, 0, sizeof *c);
    if (try_cgroup(c, 2, "memory.events", "cgroup v2 memory.events") == 0 ||
        try_cgroup(c, 1, "memory.oom_control", "cgroup v1 memory.oom_control") == 0)
        c->available = 1;
}

void ms_oom_counter_open_machine(ms_oom_counter_t *c)
{
    unsigned long long n;

    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "/proc/vmstat");
    snprintf(c->source, sizeof c->source, "/proc/vmstat");
    c->available = read_counter(c->path, &n) == 0;
}

int ms_oom_counter_read(const ms_oom_counter_t *c, unsigned long long *n)
{
    return c->available ? read_counter(c->path, n) : -ENOENT;
}
