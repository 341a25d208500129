/*
 * Memory by parameter value: the included runs of a sweep grouped by each NAME=value of
 * their labels ("level=3 seed=1", as the launcher writes them with -P and `memsweep exec
 * --label` does), with the end and peak RSS of each group and whether the parameter
 * moves memory at all (docs/advisory.md). Pure logic on labels and figures the caller
 * gives, and its rendering into the advisory's text and JSON; no database access.
 */
#ifndef MS_ANALYZER_PARAMMEM_H
#define MS_ANALYZER_PARAMMEM_H

#include <stddef.h>
#include <stdio.h>

#include "memsweep/defaults.h"

/*
 * A parameter moves memory when the largest median peak of one of its values is more
 * than this multiple of the smallest. It is the margin at which the specification
 * already calls runs divergent (MS_DIVERGENCE_RATIO): a difference the advice must
 * answer to, where a smaller one is within what run-to-run noise and the safety factor
 * absorb. The two are one constant so that a parameter that moves memory and a grid
 * whose runs "differ from each other" on the Divergence line are told by the same rule.
 */
#define MS_PARAM_MOVES_RATIO MS_DIVERGENCE_RATIO

/* Parameters shown, and values shown per parameter; a line counts the rest. */
#define MS_PARAM_SHOW_PARAMS 8
#define MS_PARAM_SHOW_VALUES 20

/*
 * Distinct names examined. A launcher's label has one name per -P option; more than
 * this only comes from hand-made labels, whose further names are left out (and said so).
 */
#define MS_PARAM_NAMES_MAX 64

/*
 * Longest label read, in bytes. Launcher labels are a few dozen bytes (a value is cut at
 * 100); a longer label is not read, which keeps the reader's memory proportional to the
 * runs whatever a database holds.
 */
#define MS_PARAM_LABEL_MAX 1024

/* Room for a name or a value as shown, terminator included; longer ones end in "...". */
#define MS_PARAM_TEXT_MAX 128

/* One NAME=value of a label: pointers into the label, not terminated. */
typedef struct ms_param_pair {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} ms_param_pair_t;

/*
 * Steps through the NAME=value pairs of a label. *cursor starts at the label and moves on
 * with every pair. A pair starts at the label's start or after a space, with a name (at
 * least one byte, no space, no '=') and an '='; its value runs to the space before the
 * next pair or to the end, so a value keeps its spaces and any '=' after the first
 * (ms_params_label writes values with spaces as they are). Returns 1 with *pair filled,
 * or 0 at the end; a label that does not start with a pair (a command line) has none.
 */
int ms_param_label_next(const char **cursor, ms_param_pair_t *pair);

/*
 * Whether label is the command line of its run rather than parameters: what the launcher
 * writes for a run without -P, and `memsweep exec` without --label. That is command
 * itself, or command as ms_label_text writes it (control characters as \n, \r, \t or
 * \xHH), whole or cut and ended with "...". command may be only the first
 * MS_PARAM_LABEL_MAX + 1 characters of the run's command; NULL when there is none.
 */
int ms_param_label_is_command(const char *label, const char *command);

/* One included run: its label (NULL when it has none) and its figures, MiB. */
typedef struct ms_param_run {
    const char *label;
    double end_mb;
    double peak_mb;
} ms_param_run_t;

/* The runs of one value of a parameter. */
typedef struct ms_param_value {
    char text[MS_PARAM_TEXT_MAX]; /* the value as the label has it, cut to fit */
    size_t runs;
    double end_median, end_max;   /* end RSS, MiB */
    double peak_median, peak_max; /* peak RSS, MiB */
    double peak_p95;              /* the basis of the class's conservative count */
} ms_param_value_t;

/* One parameter with more than one value. */
typedef struct ms_param_mem {
    char name[MS_PARAM_TEXT_MAX];
    size_t n_values;         /* distinct values, shown or not */
    size_t n_shown;          /* the first ones, in values[] */
    int numeric;             /* every value is a decimal number: ordered by it */
    int moves;               /* largest median peak > MS_PARAM_MOVES_RATIO x smallest */
    double median_peak_min;  /* over all n_values values, MiB */
    double median_peak_max;
    ms_param_value_t values[MS_PARAM_SHOW_VALUES];
} ms_param_mem_t;

/* The table: parameters in order of their first appearance. */
typedef struct ms_param_table {
    size_t n_params;    /* parameters with more than one value, shown or not */
    size_t n_shown;     /* the first ones, in params[] */
    int names_dropped;  /* a name beyond MS_PARAM_NAMES_MAX was not examined */
    ms_param_mem_t params[MS_PARAM_SHOW_PARAMS];
} ms_param_table_t;

/*
 * Groups n runs, given in sequence order, by every NAME=value of their labels. Values
 * are ordered numerically when all of a parameter's values are decimal numbers (ties by
 * first appearance), else by first appearance. A run whose label names a parameter twice
 * counts for neither of its values (which one it ran with is unknown), but still for its
 * other parameters. Parameters with a single value are left out. Medians and the 95th
 * percentile are ms_stats_percentile's, as the advisory's. Returns 0 or -ENOMEM (then
 * *out is empty).
 */
int ms_param_table_compute(const ms_param_run_t *runs, size_t n, ms_param_table_t *out);

/*
 * The conservative count a value alone would get, floor(usable_mb / P95 peak x factor),
 * or -1 when it has none (no memory figure, have_usable 0, or a P95 peak of 0).
 */
long long ms_param_value_workers(const ms_param_value_t *v, int have_usable, long long usable_mb,
                                 double safety_factor);

/*
 * Writes the table's lines: per parameter a "ParamMemory: NAME moves memory (...)" or
 * "does not move memory" line, one "ParamMemory_NAME=VALUE: ..." line per value shown,
 * and lines counting what was not shown. Nothing when no parameter has two values.
 */
void ms_param_table_write(FILE *f, const ms_param_table_t *t, int have_usable,
                          long long usable_mb, double safety_factor);

/*
 * Writes the key "ParamMemory" (an object keyed by parameter name, each with its verdict
 * and a "Values" array) and "ParamMemoryNotShown", as members of the object that *first
 * belongs to (jsonw.h).
 */
void ms_param_table_write_json(FILE *f, int *first, const ms_param_table_t *t, int have_usable,
                               long long usable_mb, double safety_factor);

#endif
