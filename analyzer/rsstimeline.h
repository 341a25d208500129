/*
 * The total RSS of a sweep's processes over time, as the report's timeline and the
 * advisory's Admission_HighestMeasured_MB count it: at any moment, the sum of the latest
 * reading of every process between its first sample and its last. Readings are fed in
 * time order (a reading before an end at the same instant). Being a sum of samples
 * aligned in time, it misses two processes' peaks that fall between readings, and counts
 * pages the processes share in each of them: an estimate, not a bound. Pure; the callers
 * read the samples.
 */
#ifndef MS_ANALYZER_RSSTIMELINE_H
#define MS_ANALYZER_RSSTIMELINE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ms_rss_sum {
    long long *cur;   /* the latest reading of each process; 0 before it and after its end */
    size_t n_proc;
    long long total;  /* the sum of cur */
    int have_max;     /* a reading was fed */
    long long max;    /* the largest total so far, and the first time it was reached */
    int64_t max_at_ns;
} ms_rss_sum_t;

/* Prepares the sum of n_proc processes, numbered 0 to n_proc - 1. 0 or -ENOMEM. */
int ms_rss_sum_init(ms_rss_sum_t *s, size_t n_proc);

/* Process proc read rss_kb at t_ns; returns the total after it. */
long long ms_rss_sum_reading(ms_rss_sum_t *s, size_t proc, int64_t t_ns, long long rss_kb);

/* Process proc ended (its last sample has passed); returns the total after it. */
long long ms_rss_sum_end(ms_rss_sum_t *s, size_t proc);

void ms_rss_sum_free(ms_rss_sum_t *s);

#endif
