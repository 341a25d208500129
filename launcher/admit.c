/* The admission rules of a scheduled sweep (see admit.h). */
#include "admit.h"

#include <stddef.h>

ms_admit_verdict_t ms_admit_decide(const ms_admit_in_t *in, const char **rule, int *oversize)
{
    const int budget = in->budget_kb > 0;

    *rule = NULL;
    *oversize = budget && in->have_prediction && in->predicted_kb > in->budget_kb;
    if (in->running >= in->cap)
        return MS_ADMIT_WAIT_CAP;
    if (in->running > 0 && (in->running_alone || in->candidate_retry || *oversize))
        return MS_ADMIT_WAIT_ALONE;
    if (in->stagger_ns > 0 && in->since_start_ns >= 0 && in->since_start_ns < in->stagger_ns)
        return MS_ADMIT_WAIT_STAGGER;
    if (in->candidate_retry) {
        *rule = "retry";
        return MS_ADMIT_START;
    }
    if (!budget) {
        *rule = "slot";
        return MS_ADMIT_START;
    }
    if (in->running == 0) {
        *rule = *oversize ? "alone" : in->have_prediction ? "idle" : "first";
        return MS_ADMIT_START;
    }
    if (!in->have_prediction || (in->candidate_new && in->running_new))
        return MS_ADMIT_WAIT_FIRST;
    if (in->in_use_kb + in->predicted_kb > in->budget_kb)
        return MS_ADMIT_WAIT_BUDGET;
    if (in->have_available && in->available_kb < in->predicted_kb + in->to_grow_kb)
        return MS_ADMIT_WAIT_AVAILABLE;
    *rule = "fit";
    return MS_ADMIT_START;
}

const char *ms_admit_verdict_text(ms_admit_verdict_t v)
{
    switch (v) {
    case MS_ADMIT_START:
        return "starting";
    case MS_ADMIT_WAIT_CAP:
        return "all workers busy";
    case MS_ADMIT_WAIT_ALONE:
        return "waiting to run a run alone";
    case MS_ADMIT_WAIT_STAGGER:
        return "staggering the next start";
    case MS_ADMIT_WAIT_FIRST:
        return "waiting for a run to be measured";
    case MS_ADMIT_WAIT_BUDGET:
        return "waiting for the budget";
    case MS_ADMIT_WAIT_AVAILABLE:
        return "waiting for free memory";
    }
    return "";
}
