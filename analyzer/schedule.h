/*
 * How `memsweep run` scheduled a sweep (schema 9): the options the sweeps row records
 * (--mem-budget, -j auto, --stagger, --order, --retry-oom), the admissions table's row of
 * each run started under one of them, and the summary the advisory prints of both: how
 * close the sweep came to its budget, by the launcher's predictions and by what was
 * measured, which rules let the runs start, how long they waited, and how well the
 * predictions matched the peaks (docs/advisory.md, "Scheduled sweeps"). Pure computation
 * and rendering; sweepsched.c reads the rows.
 */
#ifndef MS_ANALYZER_SCHEDULE_H
#define MS_ANALYZER_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Room for a rule's name, the basis of a prediction and the source of available memory. */
#define MS_SCHED_RULE_MAX 16
#define MS_SCHED_BASIS_MAX 96
#define MS_SCHED_SOURCE_MAX 192

/* Distinct rules counted by name; further ones are counted together as "other". */
#define MS_SCHED_RULES_MAX 8

/*
 * The scheduling options of the sweeps row. A sweep run with none of them, and a
 * database written before schema 9, has every have_* at 0.
 */
typedef struct ms_sched_opts {
    int have_budget;               /* sweeps.mem_budget_kb */
    unsigned long long budget_kb;
    int jobs_auto;                 /* sweeps.jobs_auto is 1: -j auto */
    long long jobs;                /* sweeps.jobs: the workers at most; 0 not recorded */
    int have_stagger;              /* sweeps.stagger_ms */
    long long stagger_ms;          /* -1: --stagger auto */
    char order[MS_SCHED_RULE_MAX]; /* sweeps.run_order, cleaned; "" not recorded */
    int have_retry;                /* sweeps.retry_oom */
    long long retry_oom;
} ms_sched_opts_t;

/* Whether any scheduling option is recorded. */
int ms_sched_opts_any(const ms_sched_opts_t *o);

/*
 * The options as `memsweep run` takes them, for the Schedule line: "-j auto (at most 2),
 * --mem-budget 900 MiB, --stagger auto, --order size, --retry-oom 1". Returns 0, or -1
 * (buf "") when no option is recorded.
 */
int ms_sched_opts_text(const ms_sched_opts_t *o, char *buf, size_t len);

/*
 * One row of the admissions table, checked: a value that is not usable reads as absent
 * (have_* 0), and texts are cleaned for printing.
 */
typedef struct ms_sched_admission {
    long long run_id;
    int have_decided;
    int64_t decided_ns;
    char rule[MS_SCHED_RULE_MAX];
    int have_predicted;            /* predicted_kb: the run's prediction with headroom */
    unsigned long long predicted_kb;
    char basis[MS_SCHED_BASIS_MAX]; /* "" when NULL */
    long long running;             /* runs already running; -1 not usable */
    int have_running_predicted;
    unsigned long long running_predicted_kb;
    int have_running_rss;
    unsigned long long running_rss_kb;
    int have_available;
    unsigned long long available_kb;
    char available_source[MS_SCHED_SOURCE_MAX];
    int have_budget;
    unsigned long long budget_kb;
    long long waited_ms;           /* 0 when not usable */
} ms_sched_admission_t;

/* The admission of run_id among n admissions sorted by run_id, or NULL. */
const ms_sched_admission_t *ms_sched_admission_find(const ms_sched_admission_t *v, size_t n,
                                                    long long run_id);

/* A run's measured peak beside the prediction it was admitted on, both in KiB. */
typedef struct ms_sched_pair {
    unsigned long long peak_kb;
    unsigned long long predicted_kb; /* above 0 */
} ms_sched_pair_t;

/* What the advisory says of a scheduled sweep. */
typedef struct ms_sched_summary {
    ms_sched_opts_t opts;
    size_t admissions;              /* rows of the runs read, superseded attempts included */
    int have_budget;                /* the budget: the sweeps row's, else the rows' largest */
    unsigned long long budget_kb;
    int budgets_differ;             /* sweeps read together held different budgets: no
                                     * budget and no share of one is given */
    int have_predicted;             /* some admission had a prediction */
    unsigned long long highest_predicted_kb; /* running_predicted_kb + predicted_kb */
    int have_measured;              /* the time-aligned sum of samples has a figure */
    unsigned long long highest_measured_kb;
    size_t n_rules;                 /* distinct rules kept, most frequent first */
    char rule[MS_SCHED_RULES_MAX][MS_SCHED_RULE_MAX];
    size_t rule_count[MS_SCHED_RULES_MAX];
    size_t rules_other;             /* admissions under rules beyond the kept ones */
    unsigned long long waited_ms;   /* summed over the admissions */
    size_t accuracy_runs;           /* included runs with a prediction and a peak */
    double peak_of_predicted_median_pct; /* median of peak / prediction x 100 */
    size_t above_predicted;         /* of them, runs whose peak exceeded the prediction */
} ms_sched_summary_t;

/*
 * Summarizes a scheduled sweep: its options, its n admissions (any order), the highest
 * measured total RSS of its runs at once (have_measured 0: not known), and the pairs of
 * peak and prediction of the runs the statistics are over (sorted here by nothing; the
 * percentages are computed into a scratch array). Returns 0 or -ENOMEM.
 */
int ms_sched_summarize(const ms_sched_opts_t *o, const ms_sched_admission_t *adm, size_t n,
                       int have_measured, unsigned long long measured_kb,
                       const ms_sched_pair_t *pairs, size_t n_pairs, ms_sched_summary_t *out);

/* Whether the summary has anything to say: options recorded, or admissions. */
int ms_sched_summary_any(const ms_sched_summary_t *s);

/*
 * Writes the advisory's lines of a scheduled sweep: Schedule, then, when it has
 * admissions, Admissions and the Admission_* lines (each left out when its figure is not
 * known). Nothing when ms_sched_summary_any is 0.
 */
void ms_sched_write(FILE *f, const ms_sched_summary_t *s);

/* Writes the same as keys of an open JSON object (jsonw.h); Admission_Rules an object. */
void ms_sched_write_json(FILE *f, int *first, const ms_sched_summary_t *s);

/*
 * The two lines `memsweep peaks` prints of a run's admission, without their keys or
 * newlines: what let it start and what it was predicted against its peak (have_peak 0:
 * no peak to compare), then what it started beside. sweep_start_ns 0: its time is not
 * told.
 */
void ms_sched_admission_text(const ms_sched_admission_t *a, int64_t sweep_start_ns,
                             int have_peak, unsigned long long peak_kb, char *what,
                             size_t what_len, char *beside, size_t beside_len);

/* Writes the admission as the JSON object of a key already written (jsonw.h). */
void ms_sched_admission_write_json(FILE *f, const ms_sched_admission_t *a,
                                   int64_t sweep_start_ns, int have_peak,
                                   unsigned long long peak_kb);

#endif
