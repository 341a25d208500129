/* The suggested safety factor: its terms, its arithmetic and its reason. */
#include "safetyadvice.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peaks.h"
#include "stats.h"

/*
 * Absorbs floating-point error before rounding down to hundredths: 1 / (1.05 + 34/120)
 * is exactly 0.75, but computed and times 100 it comes out a hair below 75, and the
 * suggestion must not lose a hundredth to that.
 */
#define HUNDREDTHS_EPSILON 1e-9

/* x rounded down to hundredths, never below 0. */
static int floor_hundredths(double x)
{
    const double h = floor(x * 100.0 + HUNDREDTHS_EPSILON);
    return h > 0.0 ? (int)h : 0;
}

/* Orders runs by label, then by seq, so that each configuration is one stretch. */
static int cmp_label(const void *a, const void *b)
{
    const ms_safety_run_t *x = *(const ms_safety_run_t *const *)a;
    const ms_safety_run_t *y = *(const ms_safety_run_t *const *)b;
    const int c = strcmp(x->label, y->label);

    if (c != 0)
        return c;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/*
 * v over the runs by[0..n) ordered by label: the largest (max - min) / max of a label
 * with at least two runs. A configuration whose spread ties the largest does not replace
 * it unless its first run comes earlier, so that the run named does not depend on how
 * labels sort.
 */
static void find_spread(const ms_safety_run_t *const *by, size_t n, ms_safety_advice_t *out)
{
    long long best_first = 0;

    for (size_t i = 0; i < n;) {
        const ms_safety_run_t *r0 = by[i];
        unsigned long long max_kb = r0->peak_kb, min_kb = r0->peak_kb;
        long long max_seq = r0->seq, min_seq = r0->seq;
        size_t j = i + 1;
        double spread;

        for (; j < n && strcmp(by[j]->label, r0->label) == 0; j++) {
            const ms_safety_run_t *r = by[j];
            /* Runs come in seq order within a label: a tie keeps the earlier run. */
            if (r->peak_kb > max_kb) {
                max_kb = r->peak_kb;
                max_seq = r->seq;
            }
            if (r->peak_kb < min_kb) {
                min_kb = r->peak_kb;
                min_seq = r->seq;
            }
        }
        if (j - i >= 2) {
            out->spread_configs++;
            /* Runs that all peaked at 0 do not vary. */
            spread = max_kb > 0 ? (double)(max_kb - min_kb) / (double)max_kb : 0.0;
            if (!out->have_spread || spread > out->spread ||
                (spread == out->spread && r0->seq < best_first)) {
                out->have_spread = 1;
                out->spread = spread;
                out->spread_max_seq = max_seq;
                out->spread_min_seq = min_seq;
                best_first = r0->seq;
            }
        }
        i = j;
    }
}

int ms_safety_advice_compute(const ms_safety_run_t *runs, size_t n, size_t oom_runs,
                             double current_factor, ms_safety_advice_t *out)
{
    double *miss = NULL;
    const ms_safety_run_t **by = NULL;
    size_t n_by = 0;
    int h, rc = 0;

    memset(out, 0, sizeof *out);
    out->runs = n;
    out->oom_runs = oom_runs;
    out->current = floor_hundredths(current_factor);
    if (n < MS_SAFETY_MIN_RUNS)
        return 0;

    miss = malloc(n * sizeof *miss);
    by = malloc(n * sizeof *by);
    if (miss == NULL || by == NULL) {
        rc = -ENOMEM;
        goto out;
    }

    /*
     * m: the same shortfall the PeriodicMiss lines count, as a fraction. A periodic view
     * above the peak (possible with several processes) is no shortfall, not a credit.
     */
    for (size_t i = 0; i < n; i++) {
        const ms_safety_run_t *r = &runs[i];
        if (r->periodic_kb > 0) {
            const double f = ms_peak_miss_pct(r->peak_kb, r->periodic_kb) / 100.0;
            miss[out->miss_runs++] = f > 0.0 ? f : 0.0;
        }
        if (r->label != NULL)
            by[n_by++] = r;
    }
    ms_stats_sort(miss, out->miss_runs);
    out->miss = ms_stats_percentile(miss, out->miss_runs, MS_SAFETY_MISS_PERCENTILE);

    qsort(by, n_by, sizeof *by, cmp_label);
    find_spread(by, n_by, out);

    out->quotient = 1.0 / (1.0 + MS_SAFETY_BASE + out->miss + out->spread);
    out->rounded = floor_hundredths(out->quotient);
    h = out->rounded;
    if (h < MS_SAFETY_MIN_HUNDREDTHS) {
        h = MS_SAFETY_MIN_HUNDREDTHS;
        out->clamped = -1;
    } else if (h > MS_SAFETY_MAX_HUNDREDTHS) {
        h = MS_SAFETY_MAX_HUNDREDTHS;
        out->clamped = 1;
    }
    /*
     * Caps come after the range: they bound the suggestion from above whatever the
     * formula says. A term that was not measured is no evidence for a larger factor than
     * the one in use.
     */
    if ((!out->have_spread || out->miss_runs == 0) && h > out->current) {
        h = out->current;
        out->capped_unknown = 1;
    }
    if (oom_runs > 0 && h > MS_SAFETY_OOM_CAP_HUNDREDTHS) {
        h = MS_SAFETY_OOM_CAP_HUNDREDTHS;
        out->capped_oom = 1;
    }
    out->hundredths = h;
    out->have = 1;
out:
    free(miss);
    free(by);
    return rc;
}

double ms_safety_advice_factor(const ms_safety_advice_t *s)
{
    return (double)s->hundredths / 100.0;
}

/* Appends to buf at *pos, keeping what fits: the reason is one line of bounded length. */
static void put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (*pos >= len)
        return;
    va_start(ap, fmt);
    w = vsnprintf(buf + *pos, len - *pos, fmt, ap);
    va_end(ap);
    if (w > 0)
        *pos = (size_t)w >= len - *pos ? len - 1 : *pos + (size_t)w;
}

void ms_safety_advice_reason(const ms_safety_advice_t *s, char *buf, size_t len)
{
    size_t pos = 0;

    if (len == 0)
        return;
    buf[0] = '\0';
    if (!s->have) {
        put(buf, len, &pos, "fewer than %d runs entered the statistics", MS_SAFETY_MIN_RUNS);
        return;
    }
    put(buf, len, &pos, "1 / (1 + base %.2f + m %.4f + v %.4f) = %.4f, rounded down to %d.%02d",
        MS_SAFETY_BASE, s->miss, s->spread, s->quotient, s->rounded / 100, s->rounded % 100);
    if (s->clamped < 0)
        put(buf, len, &pos, ", raised to the floor %d.%02d", MS_SAFETY_MIN_HUNDREDTHS / 100,
            MS_SAFETY_MIN_HUNDREDTHS % 100);
    else if (s->clamped > 0)
        put(buf, len, &pos, ", lowered to the top %d.%02d", MS_SAFETY_MAX_HUNDREDTHS / 100,
            MS_SAFETY_MAX_HUNDREDTHS % 100);
    if (s->capped_unknown)
        put(buf, len, &pos, ", capped at SafetyFactor %d.%02d", s->current / 100,
            s->current % 100);
    if (s->capped_oom)
        put(buf, len, &pos, ", capped at %d.%02d", MS_SAFETY_OOM_CAP_HUNDREDTHS / 100,
            MS_SAFETY_OOM_CAP_HUNDREDTHS % 100);

    if (s->miss_runs > 0)
        put(buf, len, &pos, "; m: the %gth percentile of how far the periodic peak fell below "
            "the run's peak, over %zu run%s with a periodic peak",
            MS_SAFETY_MISS_PERCENTILE, s->miss_runs, s->miss_runs == 1 ? "" : "s");
    else
        put(buf, len, &pos, "; m unknown: no run has a periodic peak, so the suggestion stays "
            "at most SafetyFactor %d.%02d", s->current / 100, s->current % 100);
    if (s->have_spread)
        put(buf, len, &pos, "; v: the widest spread of peaks within one configuration, run "
            "%lld against run %lld, of %zu configuration%s run at least twice",
            s->spread_max_seq, s->spread_min_seq, s->spread_configs,
            s->spread_configs == 1 ? "" : "s");
    else
        put(buf, len, &pos, "; v unknown: no configuration (command) ran twice, so the "
            "suggestion stays at most SafetyFactor %d.%02d; repeat a configuration (for "
            "instance -P rep=1..3, a parameter the command does not use) to measure the "
            "spread of its peaks",
            s->current / 100, s->current % 100);
    if (s->oom_runs > 0)
        put(buf, len, &pos, "; %zu run%s ended oom, so the suggestion stays at most %d.%02d, "
            "the seed's advice after an out-of-memory kill",
            s->oom_runs, s->oom_runs == 1 ? "" : "s", MS_SAFETY_OOM_CAP_HUNDREDTHS / 100,
            MS_SAFETY_OOM_CAP_HUNDREDTHS % 100);
}
