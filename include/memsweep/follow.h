/*
 * Following growth after an `alloc` sample (docs/spool.md): the rules the shim's sampler
 * thread and the collector of `memsweep run` share, as constants and pure functions, so
 * that a process followed from inside and one followed from outside are read alike.
 */
#ifndef MS_MEMSWEEP_FOLLOW_H
#define MS_MEMSWEEP_FOLLOW_H

#include <stdint.h>

/*
 * The first reading comes MS_FOLLOW_PERIOD_MIN_NS after the `alloc` sample; the period
 * then adapts, within these bounds, so that RSS rises by about 1/MS_FOLLOW_RISE_DIV of
 * itself from one reading to the next: a reading every millisecond where memory is
 * touched fast, fewer where it grows slowly against what the process holds. A kill then
 * finds the last reading within about that share of the peak.
 */
#define MS_FOLLOW_PERIOD_MIN_NS 1000000LL
#define MS_FOLLOW_PERIOD_MAX_NS 50000000LL
#define MS_FOLLOW_RISE_DIV 128

/*
 * Following stops once RSS has stopped rising: at least MS_FOLLOW_QUIET readings in a
 * row without a rise, during which the process ran for MS_FOLLOW_QUIET_CPU_NS of CPU time
 * (a process that was not running, on a busy machine, has not stopped growing), or
 * MS_FOLLOW_QUIET_WALL_NS went by (a process that waits); where its CPU time cannot be
 * read, MS_FOLLOW_QUIET_NOCPU_NS. And in any case MS_FOLLOW_MAX_NS after the last
 * `alloc` sample that asked for it.
 */
#define MS_FOLLOW_QUIET 4
#define MS_FOLLOW_QUIET_CPU_NS 5000000LL
#define MS_FOLLOW_QUIET_WALL_NS 1000000000LL
#define MS_FOLLOW_QUIET_NOCPU_NS 100000000LL
#define MS_FOLLOW_MAX_NS 10000000000LL

/* A `growth` reading is stored when RSS has risen by 1/MS_FOLLOW_STEP_DIV since the last. */
#define MS_FOLLOW_STEP_DIV 32
#define MS_FOLLOW_STEP_MIN_KB 1024

/*
 * The period after a reading that found RSS risen by rise_kb to rss_kb: the one at which
 * the same rate would raise it by rss_kb / MS_FOLLOW_RISE_DIV, moving by at most a factor
 * of two a reading, within the bounds.
 */
static inline int64_t ms_follow_next_period(int64_t period, int64_t rise_kb, int64_t rss_kb)
{
    const int64_t want_kb = rss_kb / MS_FOLLOW_RISE_DIV > 1 ? rss_kb / MS_FOLLOW_RISE_DIV : 1;
    int64_t p;

    if (rise_kb >= want_kb * 2)
        p = period / 2;
    else if (rise_kb * 2 <= want_kb)
        p = period * 2;
    else
        p = period * want_kb / rise_kb;
    if (p < MS_FOLLOW_PERIOD_MIN_NS)
        p = MS_FOLLOW_PERIOD_MIN_NS;
    if (p > MS_FOLLOW_PERIOD_MAX_NS)
        p = MS_FOLLOW_PERIOD_MAX_NS;
    return p;
}

/*
 * Whether following stops after `quiet` readings in a row without a rise, since which
 * the process used cpu_ns of CPU time (-1: unknown) and wall_ns went by.
 */
static inline int ms_follow_quiet(int quiet, int64_t cpu_ns, int64_t wall_ns)
{
    if (quiet < MS_FOLLOW_QUIET)
        return 0;
    if (wall_ns >= MS_FOLLOW_QUIET_WALL_NS)
        return 1;
    return cpu_ns < 0 ? wall_ns >= MS_FOLLOW_QUIET_NOCPU_NS : cpu_ns >= MS_FOLLOW_QUIET_CPU_NS;
}

/* Whether a reading of rss_kb is to be stored after one of stored_kb. */
static inline int ms_follow_store_due(int64_t rss_kb, int64_t stored_kb)
{
    return rss_kb - stored_kb >= MS_FOLLOW_STEP_MIN_KB &&
           rss_kb - stored_kb >= stored_kb / MS_FOLLOW_STEP_DIV;
}

#endif
