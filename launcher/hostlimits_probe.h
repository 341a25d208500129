/*
 * The I/O half of hostlimits.h: reads /proc/meminfo, /proc/self/cgroup, mountinfo and the
 * cgroup limit files, and hands their text to the parsers there. Never fails: what cannot
 * be read is left out, and what is there but makes no sense is left out with a warning.
 */
#ifndef MS_LAUNCHER_HOSTLIMITS_PROBE_H
#define MS_LAUNCHER_HOSTLIMITS_PROBE_H

#include <stddef.h>

#include "hostlimits.h"

/* The files the probe reads: /proc's by default; unit tests point them at their own. */
typedef struct ms_probe_paths {
    const char *meminfo;     /* /proc/meminfo */
    const char *self_cgroup; /* /proc/self/cgroup */
    const char *mountinfo;   /* /proc/self/mountinfo */
} ms_probe_paths_t;

/* The values of SLURM's variables, NULL when unset. */
typedef struct ms_slurm_env {
    const char *mem_per_node; /* SLURM_MEM_PER_NODE */
    const char *mem_per_cpu;  /* SLURM_MEM_PER_CPU */
    const char *cpus_on_node; /* SLURM_CPUS_ON_NODE */
} ms_slurm_env_t;

#define MS_PROBE_CANDIDATES 5 /* meminfo, cgroup v2, cgroup v1, two SLURM figures */
#define MS_PROBE_WARNINGS 4
#define MS_PROBE_WARNING_MAX (MS_MEM_SOURCE_MAX + 160)

/* What the probe found, in the order ms_mem_choose expects. */
typedef struct ms_mem_probe {
    ms_mem_candidate_t cand[MS_PROBE_CANDIDATES];
    size_t n;
    /* Sources left out because their text made no sense, or a file could not be read. */
    char warning[MS_PROBE_WARNINGS][MS_PROBE_WARNING_MAX];
    size_t n_warnings;
    size_t more_warnings; /* beyond the ones kept */
} ms_mem_probe_t;

void ms_probe_paths_default(ms_probe_paths_t *p);

/* The SLURM variables of the environment. */
void ms_slurm_env_get(ms_slurm_env_t *s);

/*
 * Collects the candidates: MemTotal of paths->meminfo, the smallest memory.max of
 * memsweep's cgroup v2 and its ancestors up to the mount point, the same for the v1
 * memory controller's memory.limit_in_bytes, and SLURM's figures. A missing file (no
 * such hierarchy, or a level without the memory controller) is skipped in silence.
 */
void ms_mem_probe(const ms_probe_paths_t *paths, const ms_slurm_env_t *slurm,
                  ms_mem_probe_t *out);

/*
 * Reads the whole file at path (at most max bytes) into a new NUL-terminated buffer,
 * *len bytes before the NUL. Returns 0, -errno, or -EFBIG when it is longer.
 */
int ms_probe_slurp(const char *path, size_t max, char **text, size_t *len);

/*
 * The directory of memsweep's own cgroup: of the v2 hierarchy (version 2) or of the v1
 * memory controller's (version 1), as this process sees it mounted. Returns 0, or a
 * negative code when there is no such hierarchy or it is not visible here.
 */
int ms_probe_cgroup_dir(const ms_probe_paths_t *paths, int version, char *dir, size_t len);

/* The CPUs sched_getaffinity allows this process, or the online CPUs when it fails; >= 1. */
long long ms_probe_affinity_cpus(void);

#endif
