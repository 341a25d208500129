/*
 * Whether the next run of a sweep may start now, under the scheduling options of
 * `memsweep run` (--mem-budget, -j auto, --stagger, --retry-oom; docs/usage.md). Pure:
 * the supervisor gathers the figures and acts on the verdict, so unit tests call it on
 * any situation.
 *
 * The rules, in order:
 *   - no more than cap runs at once;
 *   - nothing starts beside a run that must run alone (a retry, or a run predicted to
 *     need more than the whole budget), and such a run starts only when nothing runs;
 *   - at least stagger_ns between two starts;
 *   - with a budget: when nothing runs, the run starts whatever its prediction (a sweep
 *     never waits for memory that no run holds); otherwise it needs a prediction (the
 *     first runs start one at a time until one is measured, and a run with a parameter
 *     value no finished run had does not start beside another such run), its
 *     prediction plus what the
 *     running runs are predicted to use (or use, where more) must fit in the budget, and
 *     the memory available now must hold its prediction plus what the running runs are
 *     still predicted to grow by.
 */
#ifndef MS_LAUNCHER_ADMIT_H
#define MS_LAUNCHER_ADMIT_H

#include <stdint.h>

typedef enum ms_admit_verdict {
    MS_ADMIT_START = 0,
    MS_ADMIT_WAIT_CAP,       /* cap runs are running */
    MS_ADMIT_WAIT_ALONE,     /* a run that must run alone runs, or this one must */
    MS_ADMIT_WAIT_STAGGER,   /* the last start was less than stagger_ns ago */
    MS_ADMIT_WAIT_FIRST,     /* no measurement yet: one run at a time */
    MS_ADMIT_WAIT_BUDGET,    /* the predictions would exceed the budget */
    MS_ADMIT_WAIT_AVAILABLE  /* the memory available now is short */
} ms_admit_verdict_t;

typedef struct ms_admit_in {
    unsigned running;            /* runs running now */
    unsigned cap;                /* at most this many at once, >= 1 */
    int running_alone;           /* a running run must run alone */
    int candidate_retry;         /* the next run is a retry after an out-of-memory kill */
    int candidate_new;           /* it has a parameter value no finished run had */
    int running_new;             /* a running run started so, and has not finished */
    int64_t since_start_ns;      /* since the last start (< 0: none yet) */
    int64_t stagger_ns;          /* 0: none */
    unsigned long long budget_kb; /* 0: no budget */
    int have_prediction;
    unsigned long long predicted_kb;  /* the next run's, headroom included */
    unsigned long long in_use_kb;     /* the running runs: max(predicted, RSS) summed */
    unsigned long long to_grow_kb;    /* the running runs: max(0, predicted - RSS) summed */
    int have_available;
    unsigned long long available_kb;  /* memory available now */
} ms_admit_in_t;

/*
 * The verdict, and in *rule the rule it starts under (schema.h's admissions.rule: "fit",
 * "idle", "alone", "retry", "first", "slot") when it is MS_ADMIT_START. *oversize is set
 * when the run is predicted to need more than the whole budget (it then runs alone).
 */
ms_admit_verdict_t ms_admit_decide(const ms_admit_in_t *in, const char **rule, int *oversize);

/* A few words on a verdict, for the status line ("waiting for memory", ...). */
const char *ms_admit_verdict_text(ms_admit_verdict_t v);

#endif
