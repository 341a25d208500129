/*
 * memsweep's suggested safety factor (docs/advisory.md, "A safety factor from the
 * sweep"): a factor derived from what the sweep measured, shown after the seed's lines,
 * which keep their fixed SafetyFactor. Pure computation on figures the caller gives and
 * the text of its reason; no database access and no rendering of the advisory itself.
 *
 *   m  the 95th percentile, over the runs with a periodic peak, of the fraction by which
 *      the periodic peak falls below the run's peak: peaks shorter than a sampling
 *      interval mean memory that swings faster than anything sampled shows;
 *   v  the largest spread of peaks within one configuration (runs of the same command,
 *      or of the same label where the command is not recorded):
 *      (largest peak - smallest peak) / largest peak, over configurations run twice or
 *      more: how much the same work varies from one run to the next;
 *   base  what no measurement of the sweep covers.
 *
 *   suggested = 1 / (1 + base + m + v), rounded down to hundredths, clamped to
 *   [MS_SAFETY_MIN, MS_SAFETY_MAX], then capped as the caps below say.
 */
#ifndef MS_ANALYZER_SAFETYADVICE_H
#define MS_ANALYZER_SAFETYADVICE_H

#include <stddef.h>

/*
 * The margin for what no measurement of a sweep covers: the operating system and the
 * allocator's arenas beside the workers, and the next version of the program. Together
 * with nothing measured it gives 1 / 1.05 = 0.95, the top of the range the seed calls a
 * very stable workload.
 */
#define MS_SAFETY_BASE 0.05

/* The range of the suggestion, in hundredths: the seed's 0.9-0.95 top, and half. */
#define MS_SAFETY_MIN_HUNDREDTHS 50
#define MS_SAFETY_MAX_HUNDREDTHS 95

/*
 * The most that is suggested after any run was killed for its memory: the seed's own
 * advice on out-of-memory kills is to lower the factor to 0.8.
 */
#define MS_SAFETY_OOM_CAP_HUNDREDTHS 80

/* The percentile of the periodic miss fractions that m takes. */
#define MS_SAFETY_MISS_PERCENTILE 95.0

/* Fewer included runs than this give no suggestion: one run shows no variation at all. */
#define MS_SAFETY_MIN_RUNS 2

/* One included run as the suggestion needs it. */
typedef struct ms_safety_run {
    long long seq;                  /* the run's sequence number, to name it */
    const char *label;              /* its configuration's key; NULL: in no configuration */
    unsigned long long peak_kb;     /* its peak, as the statistics use it */
    unsigned long long periodic_kb; /* its periodic peak (start, tick, end); 0: none */
} ms_safety_run_t;

/* The suggestion and every term of it, for the lines and the reason. */
typedef struct ms_safety_advice {
    int have;                 /* a suggestion: at least MS_SAFETY_MIN_RUNS runs */
    size_t runs;              /* included runs given */
    size_t miss_runs;         /* ... of which with a periodic peak: m's sample */
    double miss;              /* m, a fraction; 0 when no run has a periodic peak */
    int have_spread;          /* some configuration ran at least twice */
    double spread;            /* v, a fraction; 0 when unknown */
    size_t spread_configs;    /* configurations that ran at least twice */
    long long spread_max_seq; /* the first run with the largest peak of v's configuration */
    long long spread_min_seq; /* ... and the first with its smallest peak */
    double quotient;          /* 1 / (1 + base + m + v), unrounded */
    int rounded;              /* the quotient rounded down, in hundredths */
    int clamped;              /* the range moved it: -1 raised to its floor, +1 lowered */
    int current;              /* the SafetyFactor of the seed's lines, rounded down, in
                               * hundredths: the cap when m or v is unknown */
    int capped_unknown;       /* m or v is unknown, and the suggestion was above current */
    size_t oom_runs;          /* runs of the sweep that ended oom */
    int capped_oom;           /* a run ended oom, and the suggestion was above the cap */
    int hundredths;           /* the suggestion, in hundredths */
} ms_safety_advice_t;

/*
 * Computes the suggestion from the n included runs (any order; ties name the lowest seq)
 * of a sweep in which oom_runs runs, included or not, ended oom, and the safety factor
 * of the seed's lines. With fewer than MS_SAFETY_MIN_RUNS runs, out->have is 0 and only
 * the counts are filled. Returns 0, or -ENOMEM (then out->have is 0).
 */
int ms_safety_advice_compute(const ms_safety_run_t *runs, size_t n, size_t oom_runs,
                             double current_factor, ms_safety_advice_t *out);

/* The suggestion as a factor: hundredths / 100. */
double ms_safety_advice_factor(const ms_safety_advice_t *s);

/*
 * Writes the one-line reason (without the key) into buf: the arithmetic with its terms,
 * where each term comes from, and each clamp and cap that moved the figure.
 */
void ms_safety_advice_reason(const ms_safety_advice_t *s, char *buf, size_t len);

#endif
