/* Descriptive statistics for the advisory. */
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a;
    const double y = *(const double *)b;

    return (x > y) - (x < y);
}

void ms_stats_sort(double *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_double);
}

double ms_stats_percentile(const double *sorted, size_t n, double p)
{
    double rank;
    size_t lo, hi;

    if (n == 0)
        return 0.0;
    if (p <= 0.0)
        return sorted[0];
    if (p >= 100.0)
        return sorted[n - 1];
    rank = p / 100.0 * (double)(n - 1);
    lo = (size_t)floor(rank);
    hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - (double)lo);
}

double ms_stats_mean(const double *v, size_t n)
{
    double sum = 0.0;

    if (n == 0)
        return 0.0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    return sum / (double)n;
}

int ms_stats_summarize(double *v, size_t n, ms_summary_t *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return -EINVAL;
    ms_stats_sort(v, n);
    out->n = n;
    out->mean = ms_stats_mean(v, n);
    out->median = ms_stats_percentile(v, n, 50.0);
    out->p95 = ms_stats_percentile(v, n, 95.0);
    out->max = v[n - 1];
    return 0;
}

/* Below this, a quotient is taken for the integer above it (floating-point error). */
#define WORKERS_EPSILON 1e-9

long long ms_advisory_workers(long long usable_mb, double basis_mb, double safety_factor)
{
    double w;

    if (!(basis_mb > 0.0))
        return -1;
    w = floor((double)usable_mb / basis_mb * safety_factor + WORKERS_EPSILON);
    if (w < 0.0)
        return 0;
    if (w > 9.0e18)
        return (long long)9.0e18;
    return (long long)w;
}
