/*
 * Predicting a run's peak from the runs of the same sweep that have finished, for
 * memory-aware admission (`memsweep run --mem-budget`, docs/usage.md). Pure: it learns from
 * the figures the supervisor gives it and touches nothing else, so unit tests drive it.
 *
 * A prediction, in order of preference:
 *   1. "same parameters": the largest peak of finished runs with the run's own label (the
 *      same value of every parameter, or the same command line);
 *   2. "trend of NAME": runs that differ from it only in the numeric parameter NAME, with
 *      at least two values of NAME measured: between two measured values the larger of
 *      their peaks, beyond them a straight line through the two nearest (never below the
 *      nearest); the largest such figure over the parameters that have one;
 *   3. "largest so far": the largest peak of any finished run.
 * The figure is then divided by the safety factor, the same headroom the advisory's
 * formulas give a worker. Nothing is predicted before a run has finished with a peak.
 */
#ifndef MS_LAUNCHER_PREDICT_H
#define MS_LAUNCHER_PREDICT_H

#include <stddef.h>
#include <stdint.h>

#include "params.h"

typedef struct ms_predict ms_predict_t;

/* Room for the text of a prediction's basis. */
#define MS_PREDICT_BASIS_MAX 160

/*
 * A predictor for the runs of params (NULL, or no parameter, for a sweep of command lines:
 * then only labels and the largest peak count). safety_factor in (0, 1]. NULL on ENOMEM.
 */
ms_predict_t *ms_predict_new(const ms_params_t *params, double safety_factor);

/*
 * Learns that a run ended with peak_kb (> 0), reached to_peak_ns after its start (< 0:
 * not known). choice is the run's value index of each parameter (ms_params_choice; NULL
 * without parameters), label its label. Returns 0 or -ENOMEM.
 */
int ms_predict_learn(ms_predict_t *p, const size_t *choice, const char *label,
                     unsigned long long peak_kb, int64_t to_peak_ns);

/*
 * The predicted peak of a run, headroom included. Returns 1 with *kb and the basis text
 * ("same parameters (2 runs)", "trend of level", "largest so far") in basis, or 0 when no
 * run has been learned yet.
 */
int ms_predict_run(const ms_predict_t *p, const size_t *choice, const char *label,
                   unsigned long long *kb, char *basis, size_t len);

/*
 * Whether a run has a parameter value that no learned run had, of a parameter not shown
 * to leave memory alone: its size is then a guess from other values, whatever the basis
 * says. A parameter leaves memory alone once two of its values, every other parameter the
 * same, peaked within 10% of each other, and no two such values differed by more (a seed,
 * a replicate). 0 without parameters.
 */
int ms_predict_is_new(const ms_predict_t *p, const size_t *choice);

/* Runs learned so far. */
size_t ms_predict_count(const ms_predict_t *p);

/*
 * The median time from a run's start to its peak over the runs learned with one. Returns 1
 * with *ns, or 0 when none is known.
 */
int ms_predict_to_peak_ns(const ms_predict_t *p, int64_t *ns);

void ms_predict_free(ms_predict_t *p);

#endif
