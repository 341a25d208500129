/* Reading what the machine lets this sweep use (hostlimits_probe.h). */
#include "hostlimits_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memsweep/procfs.h"
#include "textclean.h"

/* mountinfo of a host with thousands of mounts stays far below this. */
#define PROC_FILE_MAX (8u << 20)

/* A limit file holds one number or "max"; more than this is not one. */
#define LIMIT_FILE_MAX 256

void ms_probe_paths_default(ms_probe_paths_t *p)
{
    p->meminfo = "/proc/meminfo";
    p->self_cgroup = "/proc/self/cgroup";
    p->mountinfo = "/proc/self/mountinfo";
}

void ms_slurm_env_get(ms_slurm_env_t *s)
{
    s->mem_per_node = getenv("SLURM_MEM_PER_NODE");
    s->mem_per_cpu = getenv("SLURM_MEM_PER_CPU");
    s->cpus_on_node = getenv("SLURM_CPUS_ON_NODE");
}

static void warn(ms_mem_probe_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(ms_mem_probe_t *p, const char *fmt, ...)
{
    char raw[MS_PROBE_WARNING_MAX];
    va_list ap;

    if (p->n_warnings >= MS_PROBE_WARNINGS) {
        p->more_warnings++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    ms_clean_text(p->warning[p->n_warnings++], MS_PROBE_WARNING_MAX, raw);
}

int ms_probe_slurp(const char *path, size_t max, char **text, size_t *len)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = NULL;
    size_t cap = 0, n = 0;
    int rc = 0;

    if (fd < 0)
        return -errno;
    for (;;) {
        ssize_t got;

        if (cap - n < 2) {
            const size_t ncap = cap == 0 ? 4096 : cap * 2;
            char *t;
            if (cap > max) {
                rc = -EFBIG;
                break;
            }
            t = realloc(buf, ncap);
            if (t == NULL) {
                rc = -ENOMEM;
                break;
            }
            buf = t;
            cap = ncap;
        }
        got = read(fd, buf + n, cap - n - 1);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    if (rc == 0 && n > max)
        rc = -EFBIG;
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

static void probe_meminfo(const char *path, ms_mem_probe_t *p)
{
    char *text = NULL;
    size_t len = 0;
    unsigned long long kb;

    /* Without MemTotal the advisory says so itself; a limit can still stand in. */
    if (ms_probe_slurp(path, PROC_FILE_MAX, &text, &len) != 0)
        return;
    if (ms_procfs_kb_field(text, len, "MemTotal:", &kb) == 0 && kb > 0 &&
        kb < MS_MEM_KB_UNLIMITED)
        ms_mem_candidate_simple(&p->cand[p->n++], MS_MEM_MEMINFO, kb);
    free(text);
}

/*
 * Whether the limits above dir do not bound it: only in cgroup v1, when its
 * memory.use_hierarchy is 0 (kernels before 5.x allowed that; later ones are always 1).
 */
static int hierarchy_stops(int version, const char *dir)
{
    char path[PATH_MAX + 32];
    char *text = NULL;
    size_t len = 0;
    int stops;

    if (version != 1 ||
        snprintf(path, sizeof path, "%s/memory.use_hierarchy", dir) >= (int)sizeof path ||
        ms_probe_slurp(path, LIMIT_FILE_MAX, &text, &len) != 0)
        return 0;
    stops = (len == 1 || (len == 2 && text[1] == '\n')) && text[0] == '0';
    free(text);
    return stops;
}

/*
 * The smallest limit of one hierarchy (version 2 or 1) over memsweep's cgroup and its
 * ancestors, as a candidate. The deepest cgroup wins a tie: it is the one the processes
 * are in.
 */
static void probe_cgroup(int version, const char *self_cgroup, size_t self_len,
                         const char *mountinfo, size_t mi_len, ms_mem_probe_t *p)
{
    const char *const file = version == 2 ? "memory.max" : "memory.limit_in_bytes";
    char cgpath[PATH_MAX];
    char dir[PATH_MAX];
    char point[PATH_MAX];
    char best_dir[PATH_MAX];
    unsigned long long best = 0;
    int rc;

    rc = ms_cgroup_self_path(self_cgroup, self_len, version == 2 ? NULL : "memory", cgpath,
                             sizeof cgpath);
    if (rc == -ENOENT)
        return;
    if (rc != 0) {
        warn(p, "/proc/self/cgroup: no usable cgroup v%d path (%s); its limit is not used",
             version, strerror(-rc));
        return;
    }
    /* The hierarchy is not mounted where this process can see it: nothing to read. */
    if (ms_cgroup_find_dir(mountinfo, mi_len, version, cgpath, dir, sizeof dir, point,
                           sizeof point) != 0)
        return;
    do {
        char path[PATH_MAX + 32];
        char *text = NULL;
        size_t len = 0;
        unsigned long long kb;

        if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
            break;
        rc = ms_probe_slurp(path, LIMIT_FILE_MAX, &text, &len);
        if (rc == -ENOENT)
            continue;
        if (rc != 0) {
            warn(p, "%s: %s; not used as a memory limit", path, strerror(-rc));
            continue;
        }
        rc = ms_cgroup_limit_parse(text, len, version, &kb);
        if (rc < 0) {
            if (len > 0 && text[len - 1] == '\n')
                text[len - 1] = '\0';
            warn(p, "%s: '%.64s' is not a memory limit; not used", path, text);
        } else if (rc > 0 && (best == 0 || kb < best)) {
            best = kb;
            snprintf(best_dir, sizeof best_dir, "%s", dir);
        }
        free(text);
    } while (!hierarchy_stops(version, dir) && ms_cgroup_parent_dir(dir, point));
    if (best > 0)
        ms_mem_candidate_cgroup(&p->cand[p->n++], version == 2 ? MS_MEM_CGROUP2 : MS_MEM_CGROUP1,
                                best, best_dir);
}

void ms_mem_probe(const ms_probe_paths_t *paths, const ms_slurm_env_t *slurm,
                  ms_mem_probe_t *out)
{
    char *self = NULL, *mi = NULL;
    size_t self_len = 0, mi_len = 0;
    int rc;

    memset(out, 0, sizeof *out);
    probe_meminfo(paths->meminfo, out);

    rc = ms_probe_slurp(paths->self_cgroup, PROC_FILE_MAX, &self, &self_len);
    if (rc == 0)
        rc = ms_probe_slurp(paths->mountinfo, PROC_FILE_MAX, &mi, &mi_len);
    if (rc == 0) {
        probe_cgroup(2, self, self_len, mi, mi_len, out);
        probe_cgroup(1, self, self_len, mi, mi_len, out);
    } else if (rc != -ENOENT) {
        warn(out, "%s: %s; cgroup memory limits are not used",
             self == NULL ? paths->self_cgroup : paths->mountinfo, strerror(-rc));
    }
    free(self);
    free(mi);

    rc = ms_slurm_mem_per_node(slurm->mem_per_node, &out->cand[out->n]);
    if (rc > 0)
        out->n++;
    else if (rc < 0)
        warn(out, "SLURM_MEM_PER_NODE='%.64s' is not a plausible whole number of MB; not used",
             slurm->mem_per_node);
    rc = ms_slurm_mem_per_cpu(slurm->mem_per_cpu, slurm->cpus_on_node, &out->cand[out->n]);
    if (rc > 0)
        out->n++;
    else if (rc == 0 && slurm->mem_per_cpu != NULL && slurm->cpus_on_node == NULL)
        warn(out, "SLURM_MEM_PER_CPU is set but SLURM_CPUS_ON_NODE is not; not used");
    else if (rc < 0)
        warn(out, "SLURM_MEM_PER_CPU='%.64s' and SLURM_CPUS_ON_NODE='%.64s' do not give a "
                  "plausible size in MB; not used",
             slurm->mem_per_cpu != NULL ? slurm->mem_per_cpu : "",
             slurm->cpus_on_node != NULL ? slurm->cpus_on_node : "");
}

long long ms_probe_affinity_cpus(void)
{
    /* Start at glibc's default set size and grow it for machines with more CPUs. */
    for (int ncpus = 1024; ncpus <= (1 << 20); ncpus *= 2) {
        cpu_set_t *set = CPU_ALLOC((size_t)ncpus);
        const size_t size = CPU_ALLOC_SIZE((size_t)ncpus);
        int count;

        if (set == NULL)
            break;
        CPU_ZERO_S(size, set);
        if (sched_getaffinity(0, size, set) == 0) {
            count = CPU_COUNT_S(size, set);
            CPU_FREE(set);
            if (count > 0)
                return count;
            break;
        }
        CPU_FREE(set);
        if (errno != EINVAL)
            break;
    }
    {
        const long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? n : 1;
    }
}

int ms_probe_cgroup_dir(const ms_probe_paths_t *paths, int version, char *dir, size_t len)
{
    char *self = NULL, *mountinfo = NULL;
    size_t self_len = 0, mi_len = 0;
    char cgpath[PATH_MAX];
    char point[PATH_MAX];
    int rc;

    rc = ms_probe_slurp(paths->self_cgroup, PROC_FILE_MAX, &self, &self_len);
    if (rc == 0)
        rc = ms_probe_slurp(paths->mountinfo, PROC_FILE_MAX, &mountinfo, &mi_len);
    if (rc == 0)
        rc = ms_cgroup_self_path(self, self_len, version == 2 ? NULL : "memory", cgpath,
                                 sizeof cgpath);
    if (rc == 0)
        rc = ms_cgroup_find_dir(mountinfo, mi_len, version, cgpath, dir, len, point,
                                sizeof point);
    free(self);
    free(mountinfo);
    return rc;
}
