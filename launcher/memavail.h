/*
 * The memory available to this sweep now, which memory-aware admission asks before it
 * starts the next worker. Outside any cgroup limit it is MemAvailable of /proc/meminfo.
 * Under a memory cgroup limit MemAvailable says nothing about the room left, so each
 * cgroup with a limit, from memsweep's own up to the top of the hierarchy (a limit on an
 * ancestor counts its other children too), gives its limit minus its working set: the
 * usage without the inactive page cache, which the kernel reclaims before it would fail
 * an allocation (how container runtimes count a "working set"). The answer is the
 * smallest of them all.
 *
 * The parsers and the formula take text and values and touch nothing else, so unit tests
 * call them on fixed text. ms_memavail_open finds the cgroups once; ms_memavail_read
 * reads the limits and the usage again each time, since a limit can change while a
 * sweep runs, and it is cheap enough to be called several times a second.
 */
#ifndef MS_LAUNCHER_MEMAVAIL_H
#define MS_LAUNCHER_MEMAVAIL_H

#include <limits.h>
#include <stddef.h>

#include "hostlimits_probe.h"

/*
 * The MemAvailable value of the text of /proc/meminfo ("MemAvailable:   N kB"). Returns
 * 0 with *kb set, -ENOENT when there is no such line (kernels before 3.14 have none), or
 * -EINVAL when its value is not a whole number of kB.
 */
int ms_meminfo_available_parse(const char *text, size_t len, unsigned long long *kb);

/*
 * The value of the "key N" line of a cgroup's memory.stat text. The key matches a whole
 * name only, so "inactive_file" does not find cgroup v1's "total_inactive_file". Returns
 * 0 with *value set, -ENOENT when there is no such line, or -EINVAL when its value is not
 * a whole number (or key is empty).
 */
int ms_memory_stat_field(const char *text, size_t len, const char *key,
                         unsigned long long *value);

/*
 * The room left under a cgroup limit, all in KiB: limit minus the working set (usage
 * minus inactive_kb, and 0 when the inactive page cache is larger than the usage, as the
 * two are not read at the same instant), and 0 when the working set is at or above the
 * limit (a limit lowered below the usage).
 */
unsigned long long ms_cgroup_available_kb(unsigned long long limit_kb,
                                          unsigned long long usage_kb,
                                          unsigned long long inactive_kb);

/*
 * The most cgroup levels kept, memsweep's own first: a deeper chain than this is not
 * seen on real systems, and its top levels would be left out.
 */
#define MS_MEMAVAIL_LEVELS 32

/*
 * Where to read. Every level is an ancestor of memsweep's cgroup, so its directory is a
 * prefix of dir and only its length is kept.
 */
typedef struct ms_memavail {
    int version;                    /* 2 or 1; 0 when no cgroup has a memory limit file */
    size_t n;                       /* levels in end[] */
    size_t end[MS_MEMAVAIL_LEVELS]; /* the length of each level's directory in dir */
    char dir[PATH_MAX];             /* memsweep's cgroup directory */
    char meminfo[PATH_MAX];         /* paths->meminfo */
} ms_memavail_t;

/*
 * Finds memsweep's cgroup and the ancestors that hold a memory limit file, up to the
 * hierarchy's mount point: those of cgroup v2 when it has the memory controller, else
 * those of the v1 memory controller's hierarchy. In v1 the walk stops below an ancestor
 * whose memory.use_hierarchy is 0, since its limit does not cover its children (kernels
 * before 5.x). A level is kept whether or not a limit is set on it now, so that a limit
 * set later is seen. Never fails: without a cgroup only /proc/meminfo is read.
 */
void ms_memavail_open(ms_memavail_t *m, const ms_probe_paths_t *paths);

/*
 * Reads the files now and sets *kb to the smallest memory available in KiB. source (len
 * bytes, may be NULL when len is 0) receives a one-line text naming where it came from:
 * "cgroup DIR: limit L MiB, in use U MiB", U being the working set, or
 * "/proc/meminfo MemAvailable"; the deepest cgroup is named on a tie. A file that cannot
 * be read or makes no sense is passed over (a cgroup's memory.stat counts as no inactive
 * page cache, the safe side). Returns 0, or /proc/meminfo's negative code when nothing
 * at all could be read.
 */
int ms_memavail_read(const ms_memavail_t *m, unsigned long long *kb, char *source,
                     size_t len);

#endif
