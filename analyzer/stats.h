/* Descriptive statistics used by the advisory. Pure functions, no I/O. */
#ifndef MS_ANALYZER_STATS_H
#define MS_ANALYZER_STATS_H

#include <stddef.h>

/* Summary of a sample of values: count, mean, median, 95th percentile and maximum. */
typedef struct ms_summary {
    size_t n;
    double mean;
    double median;
    double p95;
    double max;
} ms_summary_t;

/* Sorts v ascending in place. */
void ms_stats_sort(double *v, size_t n);

/*
 * The p-th percentile (0 <= p <= 100) of n ascending values, interpolating linearly
 * between the closest ranks: rank = p/100 * (n - 1), as numpy.percentile does by default.
 * Returns 0.0 when n is 0.
 */
double ms_stats_percentile(const double *sorted, size_t n, double p);

/* Arithmetic mean of n values; 0.0 when n is 0. */
double ms_stats_mean(const double *v, size_t n);

/*
 * Fills *out with the summary of the n values in v, sorting v in place.
 * Returns 0, or -EINVAL when n is 0 (then *out is zeroed).
 */
int ms_stats_summarize(double *v, size_t n, ms_summary_t *out);

/*
 * The specification's worker count, floor((usable_mb / basis_mb) * safety_factor), or -1
 * when basis_mb is not positive. A tiny tolerance keeps an exact integer result from
 * rounding down through floating-point error. The advisory and the table by parameter
 * value both count with it.
 */
long long ms_advisory_workers(long long usable_mb, double basis_mb, double safety_factor);

#endif
