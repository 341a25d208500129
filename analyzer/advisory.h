/*
 * The memory advisory: the formulas and the exact text format of memory_advisory.txt
 * (docs/advisory.md). Pure computation plus rendering to a FILE; no database access, so
 * the launcher and the analyzer share one implementation and unit tests can feed it
 * fixed figures.
 */
#ifndef MS_ANALYZER_ADVISORY_H
#define MS_ANALYZER_ADVISORY_H

#include <stddef.h>
#include <stdio.h>

#include "dbreport.h"
#include "parammem.h"
#include "peaks.h"
#include "safetyadvice.h"
#include "schedule.h"
#include "stats.h"

/* Longest text of where the memory figure came from, terminator included. */
#define MS_MEM_SOURCE_MAX 640

/* How the reserve was chosen, as the ReserveRule line names it. */
typedef enum ms_reserve_rule {
    MS_RESERVE_RULE_NONE = 0, /* not stated: no ReserveRule line */
    MS_RESERVE_RULE_MACHINE,  /* MS_DEFAULT_RESERVE_MB: the sweep may use the whole machine */
    MS_RESERVE_RULE_LIMIT,    /* ms_limit_reserve_mb: under a cgroup or SLURM limit */
    MS_RESERVE_RULE_OPTION,   /* --reserve-mb */
    MS_RESERVE_RULE_RECORDED  /* as the sweep recorded it, by no rule this version knows */
} ms_reserve_rule_t;

/*
 * The machine the advice is for. MB means MiB throughout. The first five figures are
 * the specification's; the rest are memsweep's own lines after them, each left out when
 * unknown.
 */
typedef struct ms_machine {
    int have_mem_total;      /* 0 when no source of the memory could be read */
    long long mem_total_mb;  /* floor(kB / 1024) of the memory this sweep can use */
    long long reserve_mb;    /* subtracted before any division */
    long long usable_mb;     /* max(0, mem_total_mb - reserve_mb) */
    double safety_factor;    /* multiplier on the theoretical capacity */
    char mem_source[MS_MEM_SOURCE_MAX]; /* where mem_total_mb came from; "" unknown */
    int have_host_mem_total; /* the machine's own MemTotal is known */
    long long host_mem_total_mb;
    ms_reserve_rule_t reserve_rule;
    long long cpus;          /* the CPUs the sweep may use; 0 when not recorded */
} ms_machine_t;

/* Basis of the conservative recommendation, best first. */
typedef enum ms_basis {
    MS_BASIS_NONE = 0,
    MS_BASIS_P95_PEAK,
    MS_BASIS_P95_END,
    MS_BASIS_MEAN_END
} ms_basis_t;

/* Per-run counts reported after the specification's lines. */
typedef struct ms_run_counts {
    size_t total;    /* runs recorded in the database */
    size_t included; /* runs whose figures enter the statistics */
    size_t failed;   /* runs that ended with a status other than ok (failed, killed, oom,
                        timeout, interrupted, or one this version does not know) */
    size_t excluded; /* runs not measured: no memory sample, or marked not measured */
    size_t running;  /* runs whose status is still running */
    size_t stopped;  /* measured runs stopped by the user or by --timeout: left out */
    size_t unfinished_runs; /* measured runs still running in an unfinished sweep: left out */
    int unfinished;  /* the sweep has not finished (still running, or its launcher died) */
    int have_left_out_peak;  /* a stopped or unfinished run has a peak */
    double left_out_peak_mb; /* the largest such peak, MiB: a lower bound of its need */
    long long left_out_peak_seq; /* the run that reached it */
    /*
     * Schema 9, --retry-oom: runs whose standing attempt followed at least one attempt the
     * out-of-memory killer ended, and those superseded attempts (counted in no field
     * above: a run counts once, with the attempt that finished).
     */
    size_t retried_runs;
    size_t retried_attempts;
} ms_run_counts_t;

/*
 * What lies behind MaxPeakRSS_MB exceeding MeanRSS_End_MB: runs whose peak rises above
 * their own end RSS (spikes within a run), or runs that differ from each other (one run's
 * peak above another's, as across a grid of sizes). Filled over the included runs, in seq
 * order, from their unrounded figures in KiB.
 */
typedef struct ms_divergence {
    size_t runs;                 /* runs added */
    int have_within;             /* some run had an end RSS above 0 */
    double within_ratio;         /* the largest peak / end RSS of one run */
    long long within_seq;        /* the first run with it */
    int have_across;             /* some run had a peak above 0 */
    unsigned long long max_peak_kb;
    long long max_seq;           /* the first run with the largest peak */
    unsigned long long min_peak_kb;
    long long min_seq;           /* the first run with the smallest peak above 0 */
} ms_divergence_t;

void ms_divergence_init(ms_divergence_t *d);

/* Adds an included run; call in seq order so that ties name the first run. */
void ms_divergence_add(ms_divergence_t *d, long long seq, unsigned long long peak_kb,
                       unsigned long long end_kb);

/* The largest run peak over the smallest one above 0; 0 when no run has a peak. */
double ms_divergence_across(const ms_divergence_t *d);

/*
 * The text of memsweep's Divergence line (without "Divergence: "): whether the runs spike,
 * differ from each other, both or neither by more than MS_DIVERGENCE_RATIO, then the two
 * ratios and the runs that have them.
 */
void ms_divergence_text(const ms_divergence_t *d, char *buf, size_t len);

/* Every figure of the post-run section. */
/* Most node sizes given a line of their own; the rest are counted. */
#define MS_NODE_SIZES_MAX 16

/*
 * The advice for one size of node (or of job allocation) that runs of a merged sweep ran
 * on: the seed's formulas over that size's runs and memory. Runs of one memory size are
 * one size; where they recorded different reserves or CPUs, the larger reserve and the
 * fewer CPUs are taken.
 */
typedef struct ms_node_size {
    unsigned long long mem_total_kb; /* runs.node_mem_kb */
    long long reserve_mb;
    long long cpus;                  /* 0: unknown */
    size_t runs;                     /* included runs that ran on it */
    ms_machine_t machine;
    int have_peak;
    double p95_peak_mb;
    int have_aggressive, have_conservative;
    long long aggressive, conservative;
} ms_node_size_t;

typedef struct ms_advisory {
    ms_machine_t machine;
    ms_run_counts_t counts;
    int have_end;            /* at least one run has an end RSS */
    int have_peak;           /* at least one run has a peak RSS */
    ms_summary_t end_mb;     /* end RSS over included runs, MiB */
    ms_summary_t peak_mb;    /* peak RSS over included runs, MiB */
    int have_aggressive;
    long long aggressive;    /* floor(usable / mean_end * safety) */
    int have_conservative;
    long long conservative;  /* floor(usable / basis * safety) */
    ms_basis_t basis;
    int warn_divergence;     /* max peak > MS_DIVERGENCE_RATIO x mean end */
    int warn_no_fit;         /* a recommendation is 0: one worker does not fit */
    int warn_left_out_peak;  /* a left-out run reached more than P95PeakRSS_MB */
    int warn_few_runs;       /* fewer than MS_FEW_RUNS runs included */
    int warn_many_left_out;  /* more than MS_LEFT_OUT_PCT % of the runs left out */
    int have_divergence;     /* the breakdown below was filled in */
    ms_divergence_t divergence; /* within runs or across them, told with warn_divergence */
    int have_peak_summary;   /* the periodic-miss summary below was filled in */
    ms_peak_summary_t peaks; /* how much the periodic sampler missed (peaks.h) */
    int have_report;         /* the database report below was filled in */
    ms_db_report_t report;   /* runs not measured, rows skipped, readings not stored */
    size_t n_node_sizes;     /* 0, or 2 and more: the runs ran on nodes of different sizes */
    size_t more_node_sizes;  /* sizes beyond MS_NODE_SIZES_MAX, not shown (at most 64 counted) */
    ms_node_size_t node_sizes[MS_NODE_SIZES_MAX];
    int have_params;         /* the table of memory by parameter value was filled in */
    ms_param_table_t params; /* the included runs grouped by NAME=value (parammem.h) */
    int have_safety;         /* the suggested safety factor below was filled in */
    ms_safety_advice_t safety; /* memsweep's factor from the sweep (safetyadvice.h) */
    int have_schedule;       /* the scheduled sweep's summary below was filled in */
    ms_sched_summary_t schedule; /* how close a scheduled sweep came to its budget */
} ms_advisory_t;

/*
 * What a batch job's memory limit holds beside the worker, in MiB, added to the per-task
 * memory of the sbatch line: the batch script's shell (a few MiB) and SLURM's step
 * daemon, slurmstepd, which the sbatch manual puts at 20 to 200 MiB. 128 covers a shell
 * and a step daemon of the usual size; Snakemake's mem_mb and Nextflow's memory are the
 * process's own, and get nothing added.
 */
#define MS_PASTE_SBATCH_ALLOWANCE_MB 128

/* Decimal megabytes in a MiB: Snakemake's mem_mb counts the former. */
#define MS_MIB_IN_MB 1.048576

/*
 * The figures of the ready-to-paste runner lines (docs/advisory.md): N workers at once
 * and per-task memory, derived from the advisory's figures.
 */
typedef struct ms_paste {
    int have;              /* the lines are given: a conservative recommendation above 0 */
    int no_fit;            /* the conservative recommendation is 0: one line says so */
    long long workers;     /* RecommendedMaxWorkers_Conservative, at most the CPUs */
    long long last_index;  /* RunsTotal - 1, at least 0: the top of sbatch's --array */
    int have_mem;          /* a peak above 0 and a safety factor above 0: the memory lines */
    long long task_mb;     /* ceil(MaxPeakRSS_MB / SafetyFactor) */
    long long sbatch_mb;   /* task_mb + MS_PASTE_SBATCH_ALLOWANCE_MB */
} ms_paste_t;

/* Derives the runner lines' figures from a computed advisory. */
void ms_advisory_paste(const ms_advisory_t *a, ms_paste_t *out);

/* The seed's two worker counts, each with whether it can be given. */
typedef struct ms_recommendation {
    int have_aggressive;
    long long aggressive;    /* floor(usable / mean_end * factor) */
    int have_conservative;
    long long conservative;  /* floor(usable / basis * factor), a->basis's figure */
} ms_recommendation_t;

/*
 * The seed's recommendations from a computed advisory's statistics and machine at
 * another safety factor: the formulas, the basis and the absent cases of the
 * RecommendedMaxWorkers lines, which are this with the machine's own factor.
 */
void ms_advisory_recommend(const ms_advisory_t *a, double factor, ms_recommendation_t *out);

/*
 * Fills *m from MemTotal in kB (have_mem_total 0 when unknown), a reserve and a safety
 * factor, deriving mem_total_mb and usable_mb as the specification says.
 */
void ms_machine_init(ms_machine_t *m, int have_mem_total, unsigned long long mem_total_kb,
                     long long reserve_mb, double safety_factor);

/*
 * Sets what memsweep says about the machine after the specification's figures: where the
 * memory figure came from (source, cleaned and cut to fit; NULL or "" for none), the
 * machine's MemTotal in kB (have_host 0 when unknown), the rule the reserve followed and
 * the CPUs the sweep may use (0 when unknown).
 */
void ms_machine_describe(ms_machine_t *m, const char *source, int have_host,
                         unsigned long long host_kb, ms_reserve_rule_t rule, long long cpus);

/* Whether a sweeps.mem_source text names a cgroup or SLURM limit (schema.h). */
int ms_mem_source_is_limit(const char *source);

/*
 * The rule that gives reserve_mb for a memory figure of mem_total_mb from source: the
 * limit rule or the machine's fixed reserve when one of them gives it, else
 * MS_RESERVE_RULE_RECORDED. For reading back a recorded sweep.
 */
ms_reserve_rule_t ms_reserve_rule_of(const char *source, long long mem_total_mb,
                                     long long reserve_mb);

/* The text of the ReserveRule line (without the key), or NULL for MS_RESERVE_RULE_NONE. */
const char *ms_reserve_rule_text(ms_reserve_rule_t rule);

/* Name of a basis as printed: "p95_peak", "p95_end", "mean_end" or "none". */
const char *ms_basis_name(ms_basis_t basis);

/*
 * Computes the post-run advisory from per-run figures in MiB. end_mb has n_end values
 * and peak_mb n_peak values (the included runs that have each figure); both arrays are
 * sorted in place. counts is copied into the result. The periodic-miss summary, the
 * database report, the table by parameter value and the suggested safety factor are left
 * out (have_peak_summary, have_report, have_params and have_safety 0); callers that read
 * a database fill them in afterwards.
 */
void ms_advisory_compute(const ms_machine_t *m, const ms_run_counts_t *counts,
                         double *end_mb, size_t n_end, double *peak_mb, size_t n_peak,
                         ms_advisory_t *out);

/* Writes the pre-run section exactly as specified (or its fallback message). */
void ms_advisory_write_pre(FILE *f, const ms_machine_t *m);

/*
 * Writes the post-run section: the specification's lines, then memsweep's own lines (the
 * RetriedAfterOOM_* counts after the Runs* ones when a run was retried, the Schedule and
 * Admission_* lines of a scheduled sweep after the machine's, when filled in), then
 * the periodic-miss summary when there is one, then the database report's Excluded,
 * Skipped and Ignored lines, then notes and warnings; a Divergence line follows the
 * divergence warning when the breakdown was filled in. Last come the suggested safety
 * factor (SuggestedSafetyFactor*) when it was filled in and there is one, the
 * ready-to-paste runner lines (Paste_*) and the table of memory by parameter value
 * (ParamMemory) when it was filled in.
 */
void ms_advisory_write_post(FILE *f, const ms_advisory_t *a);

/*
 * Writes both sections as one JSON object keyed by the same field names, the database
 * report's keys (dbreport.h), "Divergence" with the divergence warning and its breakdown,
 * "Notes" and "Warnings", then the SuggestedSafetyFactor* keys (with
 * "SuggestedSafetyFactor_Terms", its terms as numbers), the Paste_* keys and the table's
 * (parammem.h), and a newline.
 */
void ms_advisory_write_json(FILE *f, const ms_advisory_t *a);

#endif
