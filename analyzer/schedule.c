/* The summary of a scheduled sweep and its text and JSON renderings (schedule.h). */
#include "schedule.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "stats.h"

static double mib(unsigned long long kb)
{
    return (double)kb / 1024.0;
}

/* Appends to buf (len bytes, NUL-terminated) what fmt makes, cut when it does not fit. */
static void append(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t len, const char *fmt, ...)
{
    const size_t used = strlen(buf);
    va_list ap;

    if (used + 1 >= len)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

int ms_sched_opts_any(const ms_sched_opts_t *o)
{
    return o->have_budget || o->jobs_auto || o->have_stagger || o->order[0] != '\0' ||
           o->have_retry;
}

int ms_sched_opts_text(const ms_sched_opts_t *o, char *buf, size_t len)
{
    const char *sep = "";

    if (len > 0)
        buf[0] = '\0';
    if (!ms_sched_opts_any(o))
        return -1;
    if (o->jobs_auto) {
        append(buf, len, "-j auto");
        if (o->jobs > 0)
            append(buf, len, " (at most %lld)", o->jobs);
        sep = ", ";
    } else if (o->jobs > 0) {
        append(buf, len, "-j %lld", o->jobs);
        sep = ", ";
    }
    if (o->have_budget) {
        /* A budget given in MiB prints as given; one derived from KiB keeps a decimal. */
        if (o->budget_kb % 1024 == 0)
            append(buf, len, "%s--mem-budget %llu MiB", sep, o->budget_kb / 1024);
        else
            append(buf, len, "%s--mem-budget %.1f MiB", sep, mib(o->budget_kb));
        sep = ", ";
    }
    if (o->have_stagger) {
        if (o->stagger_ms < 0)
            append(buf, len, "%s--stagger auto", sep);
        else
            append(buf, len, "%s--stagger %g s", sep, (double)o->stagger_ms / 1000.0);
        sep = ", ";
    }
    if (o->order[0] != '\0') {
        append(buf, len, "%s--order %s", sep, o->order);
        sep = ", ";
    }
    if (o->have_retry)
        append(buf, len, "%s--retry-oom %lld", sep, o->retry_oom);
    return 0;
}

static int cmp_adm_id(const void *a, const void *b)
{
    const long long x = *(const long long *)a;
    const ms_sched_admission_t *y = b;
    return (x > y->run_id) - (x < y->run_id);
}

const ms_sched_admission_t *ms_sched_admission_find(const ms_sched_admission_t *v, size_t n,
                                                    long long run_id)
{
    if (n == 0)
        return NULL;
    return bsearch(&run_id, v, n, sizeof *v, cmp_adm_id);
}

/*
 * The rules the launcher writes, in the order a tie between their counts is shown:
 * the ordinary rule first, then the ones that say the sweep was held to one run.
 */
static const char *const known_rules[] = {"fit", "idle", "first", "alone", "retry", "slot"};

/* Where a rule goes in a tie: a known rule by the list above, others after them. */
static size_t rule_rank(const char *rule)
{
    for (size_t i = 0; i < sizeof known_rules / sizeof known_rules[0]; i++)
        if (strcmp(rule, known_rules[i]) == 0)
            return i;
    return sizeof known_rules / sizeof known_rules[0];
}

static void count_rules(const ms_sched_admission_t *adm, size_t n, ms_sched_summary_t *out)
{
    size_t first_seen[MS_SCHED_RULES_MAX];

    for (size_t i = 0; i < n; i++) {
        size_t k;
        for (k = 0; k < out->n_rules && strcmp(out->rule[k], adm[i].rule) != 0; k++)
            ;
        if (k < out->n_rules) {
            out->rule_count[k]++;
        } else if (out->n_rules < MS_SCHED_RULES_MAX) {
            snprintf(out->rule[k], sizeof out->rule[k], "%s", adm[i].rule);
            out->rule_count[k] = 1;
            first_seen[k] = i;
            out->n_rules++;
        } else {
            out->rules_other++;
        }
    }
    /* Most frequent first; a tie by the launcher's order of rules, then by first seen. */
    for (size_t a = 1; a < out->n_rules; a++) {
        for (size_t b = a; b > 0; b--) {
            const size_t cb = out->rule_count[b], cp = out->rule_count[b - 1];
            const size_t rb = rule_rank(out->rule[b]), rp = rule_rank(out->rule[b - 1]);
            char t[MS_SCHED_RULE_MAX];
            size_t tc, tf;
            if (cb < cp ||
                (cb == cp && (rb > rp || (rb == rp && first_seen[b] > first_seen[b - 1]))))
                break;
            memcpy(t, out->rule[b], sizeof t);
            memcpy(out->rule[b], out->rule[b - 1], sizeof t);
            memcpy(out->rule[b - 1], t, sizeof t);
            tc = out->rule_count[b];
            out->rule_count[b] = out->rule_count[b - 1];
            out->rule_count[b - 1] = tc;
            tf = first_seen[b];
            first_seen[b] = first_seen[b - 1];
            first_seen[b - 1] = tf;
        }
    }
}

int ms_sched_summarize(const ms_sched_opts_t *o, const ms_sched_admission_t *adm, size_t n,
                       int have_measured, unsigned long long measured_kb,
                       const ms_sched_pair_t *pairs, size_t n_pairs, ms_sched_summary_t *out)
{
    memset(out, 0, sizeof *out);
    out->opts = *o;
    out->admissions = n;
    if (o->have_budget) {
        out->have_budget = 1;
        out->budget_kb = o->budget_kb;
    }
    for (size_t i = 0; i < n; i++) {
        const ms_sched_admission_t *a = &adm[i];
        /* Without the sweeps row's budget, the largest any admission was held to. */
        if (!o->have_budget && a->have_budget &&
            (!out->have_budget || a->budget_kb > out->budget_kb)) {
            out->have_budget = 1;
            out->budget_kb = a->budget_kb;
        }
        /*
         * What the launcher counted on at this admission: the runs already running (their
         * predictions, or their RSS where higher) and this run's prediction. An admission
         * without a prediction of its own (no measurement yet) commits to no figure.
         */
        if (a->have_predicted) {
            const unsigned long long v =
                a->predicted_kb + (a->have_running_predicted ? a->running_predicted_kb : 0);
            if (!out->have_predicted || v > out->highest_predicted_kb) {
                out->have_predicted = 1;
                out->highest_predicted_kb = v;
            }
        }
        out->waited_ms += a->waited_ms > 0 ? (unsigned long long)a->waited_ms : 0;
    }
    /*
     * Sweeps read together (a merge, several paths) may each have had a budget of their
     * own: no one of them measures the others' admissions, nor a total they ran apart.
     */
    for (size_t i = 0; i < n; i++) {
        const int hb = o->have_budget ? 1 : adm[0].have_budget;
        const unsigned long long kb = o->have_budget ? o->budget_kb : adm[0].budget_kb;
        if (adm[i].have_budget != hb || (hb && adm[i].budget_kb != kb)) {
            out->budgets_differ = 1;
            out->have_budget = 0;
            out->budget_kb = 0;
            break;
        }
    }
    count_rules(adm, n, out);
    out->have_measured = have_measured && n > 0;
    out->highest_measured_kb = measured_kb;
    if (n_pairs > 0) {
        double *pct = malloc(n_pairs * sizeof *pct);
        if (pct == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < n_pairs; i++) {
            pct[i] = (double)pairs[i].peak_kb * 100.0 / (double)pairs[i].predicted_kb;
            /* Compared in KiB, so that a peak equal to its prediction is not above it. */
            out->above_predicted += pairs[i].peak_kb > pairs[i].predicted_kb;
        }
        ms_stats_sort(pct, n_pairs);
        out->peak_of_predicted_median_pct = ms_stats_percentile(pct, n_pairs, 50.0);
        out->accuracy_runs = n_pairs;
        free(pct);
    }
    return 0;
}

int ms_sched_summary_any(const ms_sched_summary_t *s)
{
    return ms_sched_opts_any(&s->opts) || s->admissions > 0;
}

/* A share of the budget in percent; the caller checks there is a budget above 0. */
static double pct_of(unsigned long long kb, unsigned long long budget_kb)
{
    return (double)kb * 100.0 / (double)budget_kb;
}

static void rules_text(const ms_sched_summary_t *s, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < s->n_rules; i++)
        append(buf, len, "%s%s %zu", i ? ", " : "", s->rule[i], s->rule_count[i]);
    if (s->rules_other > 0)
        append(buf, len, "%sother %zu", s->n_rules ? ", " : "", s->rules_other);
}

void ms_sched_write(FILE *f, const ms_sched_summary_t *s)
{
    const int budget = s->have_budget && s->budget_kb > 0;
    char text[512];

    if (ms_sched_opts_text(&s->opts, text, sizeof text) == 0)
        fprintf(f, "Schedule: %s\n", text);
    if (s->admissions == 0)
        return;
    fprintf(f, "Admissions: %zu\n", s->admissions);
    if (s->have_budget)
        fprintf(f, "Admission_Budget_MB: %.1f\n", mib(s->budget_kb));
    if (s->budgets_differ)
        fprintf(f, "Admission_BudgetsDiffer: the sweeps read together had different "
                   "budgets; no share of a budget is given\n");
    if (s->have_predicted) {
        fprintf(f, "Admission_HighestPredicted_MB: %.1f\n", mib(s->highest_predicted_kb));
        if (budget)
            fprintf(f, "Admission_HighestPredicted_PctOfBudget: %.1f\n",
                    pct_of(s->highest_predicted_kb, s->budget_kb));
    }
    if (s->have_measured) {
        fprintf(f, "Admission_HighestMeasured_MB: %.1f\n", mib(s->highest_measured_kb));
        if (budget)
            fprintf(f, "Admission_HighestMeasured_PctOfBudget: %.1f\n",
                    pct_of(s->highest_measured_kb, s->budget_kb));
    }
    rules_text(s, text, sizeof text);
    fprintf(f, "Admission_Rules: %s\n", text);
    fprintf(f, "Admission_Waited_s: %.1f\n", (double)s->waited_ms / 1000.0);
    fprintf(f, "Admission_PeakVsPredicted_Runs: %zu\n", s->accuracy_runs);
    if (s->accuracy_runs > 0) {
        fprintf(f, "Admission_PeakVsPredicted_MedianPct: %.1f\n", s->peak_of_predicted_median_pct);
        fprintf(f, "Admission_PeakAbovePredicted_Runs: %zu\n", s->above_predicted);
    }
}

void ms_sched_write_json(FILE *f, int *first, const ms_sched_summary_t *s)
{
    const int budget = s->have_budget && s->budget_kb > 0;
    char text[512];

    if (ms_sched_opts_text(&s->opts, text, sizeof text) == 0)
        ms_json_str(f, first, "Schedule", text);
    if (s->admissions == 0)
        return;
    ms_json_int(f, first, "Admissions", (long long)s->admissions);
    if (s->have_budget)
        ms_json_dec1(f, first, "Admission_Budget_MB", mib(s->budget_kb));
    if (s->budgets_differ)
        ms_json_bool(f, first, "Admission_BudgetsDiffer", 1);
    if (s->have_predicted) {
        ms_json_dec1(f, first, "Admission_HighestPredicted_MB", mib(s->highest_predicted_kb));
        if (budget)
            ms_json_dec1(f, first, "Admission_HighestPredicted_PctOfBudget",
                         pct_of(s->highest_predicted_kb, s->budget_kb));
    }
    if (s->have_measured) {
        ms_json_dec1(f, first, "Admission_HighestMeasured_MB", mib(s->highest_measured_kb));
        if (budget)
            ms_json_dec1(f, first, "Admission_HighestMeasured_PctOfBudget",
                         pct_of(s->highest_measured_kb, s->budget_kb));
    }
    {
        int rfirst = 1;
        ms_json_key(f, first, "Admission_Rules");
        for (size_t i = 0; i < s->n_rules; i++)
            ms_json_int(f, &rfirst, s->rule[i], (long long)s->rule_count[i]);
        if (s->rules_other > 0)
            ms_json_int(f, &rfirst, "other", (long long)s->rules_other);
        fputs(rfirst ? "{}" : "}", f);
    }
    ms_json_dec1(f, first, "Admission_Waited_s", (double)s->waited_ms / 1000.0);
    ms_json_int(f, first, "Admission_PeakVsPredicted_Runs", (long long)s->accuracy_runs);
    if (s->accuracy_runs > 0) {
        ms_json_dec1(f, first, "Admission_PeakVsPredicted_MedianPct",
                     s->peak_of_predicted_median_pct);
        ms_json_int(f, first, "Admission_PeakAbovePredicted_Runs", (long long)s->above_predicted);
    }
}

void ms_sched_admission_text(const ms_sched_admission_t *a, int64_t sweep_start_ns,
                             int have_peak, unsigned long long peak_kb, char *what,
                             size_t what_len, char *beside, size_t beside_len)
{
    what[0] = '\0';
    beside[0] = '\0';
    append(what, what_len, "%s", a->rule[0] != '\0' ? a->rule : "(no rule)");
    if (a->have_decided && sweep_start_ns > 0 && a->decided_ns >= sweep_start_ns)
        append(what, what_len, " at %.2f s", (double)(a->decided_ns - sweep_start_ns) / 1e9);
    append(what, what_len, ", waited %.2f s", (double)a->waited_ms / 1000.0);
    if (a->have_predicted) {
        append(what, what_len, "; predicted %.1f MiB", mib(a->predicted_kb));
        if (a->basis[0] != '\0')
            append(what, what_len, " (%s)", a->basis);
        if (have_peak && a->predicted_kb > 0)
            append(what, what_len, ", peak %.1f MiB = %.1f%% of it", mib(peak_kb),
                   (double)peak_kb * 100.0 / (double)a->predicted_kb);
    } else {
        append(what, what_len, "; no prediction");
        if (a->basis[0] != '\0')
            append(what, what_len, " (%s)", a->basis);
    }

    if (a->running == 0)
        append(beside, beside_len, "nothing running");
    else if (a->running > 0)
        append(beside, beside_len, "%lld running", a->running);
    else
        append(beside, beside_len, "running not recorded");
    /* Beside nothing, the launcher's sums of what ran are 0 and say nothing more. */
    if (a->running != 0 && (a->have_running_predicted || a->have_running_rss)) {
        const char *sep = "";
        append(beside, beside_len, " (");
        if (a->have_running_predicted) {
            append(beside, beside_len, "predicted %.1f MiB", mib(a->running_predicted_kb));
            sep = ", ";
        }
        if (a->have_running_rss)
            append(beside, beside_len, "%sRSS %.1f MiB", sep, mib(a->running_rss_kb));
        append(beside, beside_len, ")");
    }
    if (a->have_available) {
        append(beside, beside_len, ", available %.1f MiB", mib(a->available_kb));
        if (a->available_source[0] != '\0')
            append(beside, beside_len, " (%s)", a->available_source);
    }
    if (a->have_budget)
        append(beside, beside_len, ", budget %.1f MiB", mib(a->budget_kb));
    else
        append(beside, beside_len, ", no budget");
}

void ms_sched_admission_write_json(FILE *f, const ms_sched_admission_t *a,
                                   int64_t sweep_start_ns, int have_peak,
                                   unsigned long long peak_kb)
{
    int first = 1;

    ms_json_str(f, &first, "Rule", a->rule);
    if (a->have_decided) {
        ms_json_int(f, &first, "Decided_ns", (long long)a->decided_ns);
        if (sweep_start_ns > 0 && a->decided_ns >= sweep_start_ns) {
            ms_json_key(f, &first, "Decided_s");
            fprintf(f, "%.3f", (double)(a->decided_ns - sweep_start_ns) / 1e9);
        } else {
            ms_json_null(f, &first, "Decided_s");
        }
    } else {
        ms_json_null(f, &first, "Decided_ns");
        ms_json_null(f, &first, "Decided_s");
    }
    ms_json_key(f, &first, "Waited_s");
    fprintf(f, "%.3f", (double)a->waited_ms / 1000.0);
    if (a->have_predicted)
        ms_json_dec1(f, &first, "Predicted_MB", mib(a->predicted_kb));
    else
        ms_json_null(f, &first, "Predicted_MB");
    ms_json_str(f, &first, "Basis", a->basis[0] != '\0' ? a->basis : NULL);
    if (a->have_predicted && a->predicted_kb > 0 && have_peak)
        ms_json_dec1(f, &first, "PeakOfPredicted_Pct",
                     (double)peak_kb * 100.0 / (double)a->predicted_kb);
    else
        ms_json_null(f, &first, "PeakOfPredicted_Pct");
    if (a->running >= 0)
        ms_json_int(f, &first, "Running", a->running);
    else
        ms_json_null(f, &first, "Running");
#define MB_OR_NULL(key, have, kb)                                                          \
    do {                                                                                   \
        if (have)                                                                          \
            ms_json_dec1(f, &first, key, mib(kb));                                         \
        else                                                                               \
            ms_json_null(f, &first, key);                                                  \
    } while (0)
    MB_OR_NULL("RunningPredicted_MB", a->have_running_predicted, a->running_predicted_kb);
    MB_OR_NULL("RunningRSS_MB", a->have_running_rss, a->running_rss_kb);
    MB_OR_NULL("Available_MB", a->have_available, a->available_kb);
    ms_json_str(f, &first, "AvailableSource",
                a->available_source[0] != '\0' ? a->available_source : NULL);
    MB_OR_NULL("Budget_MB", a->have_budget, a->budget_kb);
#undef MB_OR_NULL
    fputc('}', f);
}
