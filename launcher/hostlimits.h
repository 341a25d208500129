/*
 * What the machine lets this sweep use: the memory the advisory divides (the smallest of
 * the machine's MemTotal, the memory limit of memsweep's cgroup and its ancestors, and
 * SLURM's memory allocation), the reserve that goes with it, and the CPUs the workers
 * may run on. docs/advisory.md says why and how.
 *
 * The parsers and rules here take text and values and touch nothing else, so unit tests
 * call them on fixed text; hostlimits_probe.c reads /proc and the cgroup files and feeds
 * them. Nothing found here ever fails a sweep: a source that cannot be read or makes no
 * sense is left out (with a warning the caller prints), and the next one is used.
 */
#ifndef MS_LAUNCHER_HOSTLIMITS_H
#define MS_LAUNCHER_HOSTLIMITS_H

#include <stddef.h>

#include "advisory.h"

/*
 * A figure at or above this many KiB (4 PiB) is no limit: the cgroup v1 "unlimited"
 * (LONG_MAX bytes rounded down to a page, whatever the page size) is far above it, and no
 * machine has that much memory. The analyzer refuses larger sizes (MS_KB_LIMIT).
 */
#define MS_MEM_KB_UNLIMITED (1ULL << 42)

/* Where a candidate for the memory this sweep can use comes from. */
typedef enum ms_mem_kind {
    MS_MEM_MEMINFO = 0, /* MemTotal of /proc/meminfo: the whole machine */
    MS_MEM_CGROUP2,     /* memory.max of memsweep's cgroup v2 or an ancestor */
    MS_MEM_CGROUP1,     /* memory.limit_in_bytes of the v1 memory controller's hierarchy */
    MS_MEM_SLURM_NODE,  /* SLURM_MEM_PER_NODE */
    MS_MEM_SLURM_CPU,   /* SLURM_MEM_PER_CPU x SLURM_CPUS_ON_NODE */
    MS_MEM_OPTION       /* --mem-total-mb */
} ms_mem_kind_t;

typedef struct ms_mem_candidate {
    ms_mem_kind_t kind;
    unsigned long long kb;          /* at least 1, below MS_MEM_KB_UNLIMITED */
    char source[MS_MEM_SOURCE_MAX]; /* as sweeps.mem_source records it (schema.h) */
} ms_mem_candidate_t;

/* Whether a kind is a limit narrower than the machine, under which the reserve shrinks. */
int ms_mem_kind_is_limit(ms_mem_kind_t kind);

/*
 * The path of memsweep's cgroup in the text of /proc/self/cgroup: with controller NULL
 * the cgroup v2 line ("0::/path"), otherwise the v1 line whose controller list holds
 * controller ("4:memory:/path" or "3:cpu,memory:/path"). Returns 0 with the path in out,
 * -ENOENT when there is no such line, -EINVAL when the path is not absolute or goes up
 * ("/.."), -ENAMETOOLONG when it does not fit.
 */
int ms_cgroup_self_path(const char *text, size_t len, const char *controller, char *out,
                        size_t outlen);

/* The fields of a /proc/self/mountinfo line that locate a cgroup hierarchy. */
typedef struct ms_mountinfo {
    char root[1024];   /* field 4: the directory of the filesystem mounted there */
    char point[1024];  /* field 5: the mount point */
    char fstype[64];   /* after the "-" separator */
    char super[512];   /* super options, comma separated (a v1 cgroup's controllers) */
} ms_mountinfo_t;

/*
 * Parses one mountinfo line (without its newline), undoing the kernel's octal escapes
 * (\040 for a blank, \011, \012, \134). Returns 0, or -EINVAL when the line is malformed
 * or a field does not fit.
 */
int ms_mountinfo_parse(const char *line, size_t len, ms_mountinfo_t *m);

/*
 * The directory of the cgroup at cgpath (as /proc/self/cgroup names it) through a mount
 * whose root is root and mount point is point: point plus cgpath without root. Returns
 * 0, -ENOENT when cgpath is not under root (the cgroup is not visible there), -EINVAL
 * when cgpath is not an absolute path without "..", -ENAMETOOLONG.
 */
int ms_cgroup_dir(const char *point, const char *root, const char *cgpath, char *out,
                  size_t outlen);

/*
 * Finds, in the text of /proc/self/mountinfo, the first mount of the hierarchy (version 2:
 * fstype cgroup2; version 1: fstype cgroup with the memory controller) through which
 * cgpath is visible, and writes the cgroup's directory to dir and the mount point to
 * point. Returns 0 or -ENOENT (also when dir or point would not fit).
 */
int ms_cgroup_find_dir(const char *text, size_t len, int version, const char *cgpath,
                       char *dir, size_t dirlen, char *point, size_t pointlen);

/*
 * Moves dir up one component, unless it is point (or not below it). Returns 1 when it
 * moved, 0 at the top.
 */
int ms_cgroup_parent_dir(char *dir, const char *point);

/*
 * Parses the text of a cgroup memory limit file: memory.max (version 2: "max" or bytes)
 * or memory.limit_in_bytes (version 1: bytes), with or without its newline. Returns 1
 * with the limit in *kb (bytes / 1024, rounded down), 0 for no limit ("max", or at least
 * MS_MEM_KB_UNLIMITED), or -EINVAL when the text is not such a value or the limit is
 * below 1 KiB (no program runs in that).
 */
int ms_cgroup_limit_parse(const char *text, size_t len, int version, unsigned long long *kb);

/*
 * A SLURM memory figure: SLURM_MEM_PER_NODE (mem_per_cpu NULL) or SLURM_MEM_PER_CPU times
 * SLURM_CPUS_ON_NODE, whose values are given (NULL when unset). SLURM's MB are MiB.
 * Returns 1 with *c filled, 0 when the variables are unset, 0 MB (SLURM's "all the
 * memory of the node") or only one of the two per-CPU ones is set, -EINVAL when a value
 * is not a whole number or the product is implausibly large (MS_MEM_KB_UNLIMITED).
 */
int ms_slurm_mem_per_node(const char *mem_per_node, ms_mem_candidate_t *c);
int ms_slurm_mem_per_cpu(const char *mem_per_cpu, const char *cpus_on_node,
                         ms_mem_candidate_t *c);

/* Fills a candidate of a kind that needs no text beyond its name (meminfo, option). */
void ms_mem_candidate_simple(ms_mem_candidate_t *c, ms_mem_kind_t kind, unsigned long long kb);

/*
 * Fills a cgroup candidate: kind MS_MEM_CGROUP2 or MS_MEM_CGROUP1, the limit and the
 * directory of the cgroup it belongs to.
 */
void ms_mem_candidate_cgroup(ms_mem_candidate_t *c, ms_mem_kind_t kind, unsigned long long kb,
                             const char *dir);

/*
 * The index of the smallest of n candidates, the first one on a tie (so that the order
 * meminfo, cgroup v2, cgroup v1, SLURM names the machine before a limit equal to it, and
 * the limit the kernel enforces before SLURM's figure), or -1 when n is 0.
 */
int ms_mem_choose(const ms_mem_candidate_t *c, size_t n);

/* The memory a sweep may use and the reserve that goes with it, as the advisory shows them. */
typedef struct ms_mem_choice {
    int have_total;
    unsigned long long total_kb;
    char source[MS_MEM_SOURCE_MAX];
    int have_host;                 /* the machine's MemTotal is known */
    unsigned long long host_kb;
    long long reserve_mb;
    ms_reserve_rule_t rule;
} ms_mem_choice_t;

/*
 * Decides from the candidates (any order of kinds, as ms_mem_choose expects) and the
 * options: total_mb >= 0 is --mem-total-mb, which replaces every source and stands for a
 * whole machine of that size; reserve_mb >= 0 is --reserve-mb. Without --reserve-mb the
 * reserve is ms_limit_reserve_mb of the total under a limit, else MS_DEFAULT_RESERVE_MB.
 * The host figure is the meminfo candidate's, whichever wins.
 */
void ms_mem_decide(const ms_mem_candidate_t *c, size_t n, long long total_mb,
                   long long reserve_mb, ms_mem_choice_t *out);

/*
 * The CPUs this sweep may use: affinity (the count of sched_getaffinity, at least 1),
 * or SLURM_CPUS_ON_NODE (slurm_cpus, NULL when unset) when that is a whole number and
 * smaller. Returns 0 with *cpus set, or -EINVAL when slurm_cpus is set but not a positive
 * whole number (then *cpus is affinity).
 */
int ms_cpus_choose(long long affinity, const char *slurm_cpus, long long *cpus);

#endif
