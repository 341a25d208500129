/*
 * What the kernel tells the launcher about a run besides its exit status: the launcher's
 * own RSS when it starts a run (the floor under the run's ru_maxrss), and the count of
 * out-of-memory kills, read before and after a run to tell an out-of-memory kill from
 * any other SIGKILL.
 *
 * ru_maxrss, as wait4() returns it for a worker, is the largest peak RSS of any single
 * process among the worker and the descendants it reaped, and it folds in the high-water
 * mark of the image that called exec: the launcher's forked copy, whose RSS is at most
 * the launcher's RSS at fork plus the few pages the copy touches before exec. So a
 * ru_maxrss above that floor is the kernel's exact peak of some process of the run; one
 * at or below it says only that no process of the run went above the floor.
 */
#ifndef MS_LAUNCHER_RUNUSAGE_H
#define MS_LAUNCHER_RUNUSAGE_H

#include <stddef.h>

/*
 * Room for the pages the forked copy touches between fork and exec (its stack, the
 * descriptors it moves): added to the launcher's RSS to make the floor, in KiB.
 */
#define MS_FLOOR_SLACK_KB 256ULL

/* The launcher's resident set size now, from /proc/self/statm. Returns 0 or -errno. */
int ms_self_rss_kb(unsigned long long *kb);

/*
 * Parses the resident field (the second) of a /proc/PID/statm text into KiB for the
 * given page size. Returns 0, or -EINVAL when the text is not statm's.
 */
int ms_parse_statm_rss_kb(const char *text, long page_size, unsigned long long *kb);

/*
 * Finds the "oom_kill N" line of a memory.events, memory.oom_control or /proc/vmstat
 * text and sets *n. Returns 0, or -ENOENT when the text has no such line (a kernel that
 * does not count them), or -EINVAL when its value is not a number.
 */
int ms_parse_oom_kill(const char *text, unsigned long long *n);

/* One place where out-of-memory kills are counted. */
typedef struct ms_oom_counter {
    int available;    /* 0: this counter could not be read */
    char path[4096];  /* the file read */
    char source[64];  /* "cgroup v2 memory.events", "cgroup v1 memory.oom_control", ... */
} ms_oom_counter_t;

/*
 * The counter of the launcher's own cgroup, where its workers are: memory.events of its
 * cgroup v2 group, else memory.oom_control of its v1 memory cgroup. The kernel counts a
 * kill in the victim's group, whether a group's limit or the whole machine ran out, and on
 * cgroup v2 (unless mounted with memory_localevents) in its ancestors below the root too:
 * this sees every kill of a worker that stays in the launcher's group, and on v2 of one
 * below it. A file without an oom_kill line (an old kernel, or the root group,
 * which has no memory.events) is passed over. Never fails: c->available says whether one
 * was found.
 */
void ms_oom_counter_open_cgroup(ms_oom_counter_t *c);

/*
 * The machine's counter, oom_kill of /proc/vmstat: every out-of-memory kill, of a cgroup
 * limit or of the whole machine, of any process, the sweep's or not. For where no cgroup
 * counts kills.
 */
void ms_oom_counter_open_machine(ms_oom_counter_t *c);

/* Reads the counter. Returns 0, or a negative code (the value is then unknown). */
int ms_oom_counter_read(const ms_oom_counter_t *c, unsigned long long *n);

#endif
