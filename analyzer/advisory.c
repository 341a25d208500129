/* The advisory's formulas and its text and JSON renderings. */
#include "advisory.h"

#include <math.h>
#include <string.h>

#include "jsonw.h"
#include "memsweep/defaults.h"
#include "memsweep/schema.h"
#include "textclean.h"

/* Absorbs floating-point error in usable / basis * factor before flooring. */

/*
 * Absorbs floating-point error in peak / factor before the ceiling (85 / 0.85 is
 * 100.00000000000001), relative to the figure, which may be large.
 */
#define TASK_MB_EPSILON 1e-12

#define STR_(x) #x
#define STR(x) STR_(x)

void ms_machine_init(ms_machine_t *m, int have_mem_total, unsigned long long mem_total_kb,
                     long long reserve_mb, double safety_factor)
{
    memset(m, 0, sizeof *m);
    m->have_mem_total = have_mem_total;
    m->reserve_mb = reserve_mb;
    m->safety_factor = safety_factor;
    if (have_mem_total) {
        m->mem_total_mb = (long long)(mem_total_kb / 1024ULL);
        m->usable_mb = m->mem_total_mb - reserve_mb;
        if (m->usable_mb < 0)
            m->usable_mb = 0;
    }
}

void ms_machine_describe(ms_machine_t *m, const char *source, int have_host,
                         unsigned long long host_kb, ms_reserve_rule_t rule, long long cpus)
{
    ms_clean_text(m->mem_source, sizeof m->mem_source, source != NULL ? source : "");
    m->have_host_mem_total = have_host;
    m->host_mem_total_mb = have_host ? (long long)(host_kb / 1024ULL) : 0;
    m->reserve_rule = rule;
    m->cpus = cpus > 0 ? cpus : 0;
}

int ms_mem_source_is_limit(const char *source)
{
    static const char cg[] = MS_MEM_SOURCE_CGROUP_PREFIX;
    static const char slurm[] = MS_MEM_SOURCE_SLURM_PREFIX;

    return source != NULL && (strncmp(source, cg, sizeof cg - 1) == 0 ||
                              strncmp(source, slurm, sizeof slurm - 1) == 0);
}

ms_reserve_rule_t ms_reserve_rule_of(const char *source, long long mem_total_mb,
                                     long long reserve_mb)
{
    if (ms_mem_source_is_limit(source))
        return reserve_mb == ms_limit_reserve_mb(mem_total_mb) ? MS_RESERVE_RULE_LIMIT
                                                                : MS_RESERVE_RULE_RECORDED;
    return reserve_mb == MS_DEFAULT_RESERVE_MB ? MS_RESERVE_RULE_MACHINE
                                               : MS_RESERVE_RULE_RECORDED;
}

const char *ms_reserve_rule_text(ms_reserve_rule_t rule)
{
    switch (rule) {
    case MS_RESERVE_RULE_MACHINE:
        return "machine: a fixed " STR(MS_DEFAULT_RESERVE_MB) " MiB for the operating "
               "system and everything else beside the workers";
    case MS_RESERVE_RULE_LIMIT:
        return "limit: " STR(MS_LIMIT_RESERVE_PCT) "% of MemTotal_MB, at least "
               STR(MS_LIMIT_RESERVE_MIN_MB) " and at most " STR(MS_LIMIT_RESERVE_MAX_MB)
               " MiB, for what runs inside the limit beside the workers";
    case MS_RESERVE_RULE_OPTION:
        return "--reserve-mb";
    case MS_RESERVE_RULE_RECORDED:
        return "as the sweep recorded it";
    case MS_RESERVE_RULE_NONE:
        break;
    }
    return NULL;
}

const char *ms_basis_name(ms_basis_t basis)
{
    switch (basis) {
    case MS_BASIS_P95_PEAK:
        return "p95_peak";
    case MS_BASIS_P95_END:
        return "p95_end";
    case MS_BASIS_MEAN_END:
        return "mean_end";
    case MS_BASIS_NONE:
        break;
    }
    return "none";
}

/* The figure the conservative recommendation divides by, for a->basis; 0 for none. */
static double basis_value(const ms_advisory_t *a)
{
    switch (a->basis) {
    case MS_BASIS_P95_PEAK:
        return a->peak_mb.p95;
    case MS_BASIS_P95_END:
        return a->end_mb.p95;
    case MS_BASIS_MEAN_END:
        return a->end_mb.mean;
    case MS_BASIS_NONE:
        break;
    }
    return 0.0;
}

void ms_advisory_recommend(const ms_advisory_t *a, double factor, ms_recommendation_t *out)
{
    const ms_machine_t *m = &a->machine;
    long long w;

    memset(out, 0, sizeof *out);
    if (!m->have_mem_total)
        return;
    if (a->have_end && (w = ms_advisory_workers(m->usable_mb, a->end_mb.mean, factor)) >= 0) {
        out->have_aggressive = 1;
        out->aggressive = w;
    }
    if (a->basis != MS_BASIS_NONE &&
        (w = ms_advisory_workers(m->usable_mb, basis_value(a), factor)) >= 0) {
        out->have_conservative = 1;
        out->conservative = w;
    }
}

void ms_advisory_compute(const ms_machine_t *m, const ms_run_counts_t *counts,
                         double *end_mb, size_t n_end, double *peak_mb, size_t n_peak,
                         ms_advisory_t *out)
{
    ms_recommendation_t rec;

    memset(out, 0, sizeof *out);
    out->machine = *m;
    out->counts = *counts;
    out->have_end = ms_stats_summarize(end_mb, n_end, &out->end_mb) == 0;
    out->have_peak = ms_stats_summarize(peak_mb, n_peak, &out->peak_mb) == 0;

    /* The conservative basis: p95 of peaks, else p95 of ends, else the mean end. */
    if (out->have_peak && out->peak_mb.p95 > 0.0)
        out->basis = MS_BASIS_P95_PEAK;
    else if (out->have_end && out->end_mb.p95 > 0.0)
        out->basis = MS_BASIS_P95_END;
    else if (out->have_end && out->end_mb.mean > 0.0)
        out->basis = MS_BASIS_MEAN_END;

    ms_advisory_recommend(out, m->safety_factor, &rec);
    out->have_aggressive = rec.have_aggressive;
    out->aggressive = rec.aggressive;
    out->have_conservative = rec.have_conservative;
    out->conservative = rec.conservative;
    out->warn_divergence = out->have_peak && out->have_end && out->end_mb.mean > 0.0 &&
                           out->peak_mb.max > MS_DIVERGENCE_RATIO * out->end_mb.mean;
    out->warn_no_fit = (out->have_aggressive && out->aggressive == 0) ||
                       (out->have_conservative && out->conservative == 0);
    out->warn_left_out_peak = counts->have_left_out_peak && out->have_peak &&
                              counts->left_out_peak_mb > out->peak_mb.p95;
    out->warn_few_runs = counts->included > 0 && counts->included < MS_FEW_RUNS;
    /* Cross-multiplied: exactly the percentage is not more than it. */
    out->warn_many_left_out =
        (double)(counts->total - counts->included) * 100.0 > MS_LEFT_OUT_PCT * (double)counts->total;
}


/* memsweep's lines about where the memory figure came from, and the CPUs. */
static void write_machine_lines(FILE *f, const ms_machine_t *m)
{
    const char *rule = ms_reserve_rule_text(m->reserve_rule);

    if (m->have_mem_total) {
        if (m->mem_source[0] != '\0')
            fprintf(f, "MemSource: %s\n", m->mem_source);
        if (m->have_host_mem_total)
            fprintf(f, "HostMemTotal_MB: %lld\n", m->host_mem_total_mb);
        if (rule != NULL)
            fprintf(f, "ReserveRule: %s\n", rule);
    }
    if (m->cpus > 0)
        fprintf(f, "CPUs: %lld\n", m->cpus);
}

void ms_divergence_init(ms_divergence_t *d)
{
    memset(d, 0, sizeof *d);
}

void ms_divergence_add(ms_divergence_t *d, long long seq, unsigned long long peak_kb,
                       unsigned long long end_kb)
{
    d->runs++;
    /* A run without an end RSS has no ratio to give: it cannot be told spiking. */
    if (end_kb > 0) {
        const double r = (double)peak_kb / (double)end_kb;
        if (!d->have_within || r > d->within_ratio) {
            d->have_within = 1;
            d->within_ratio = r;
            d->within_seq = seq;
        }
    }
    if (peak_kb > 0) {
        if (!d->have_across || peak_kb > d->max_peak_kb) {
            d->max_peak_kb = peak_kb;
            d->max_seq = seq;
        }
        if (!d->have_across || peak_kb < d->min_peak_kb) {
            d->min_peak_kb = peak_kb;
            d->min_seq = seq;
        }
        d->have_across = 1;
    }
}

double ms_divergence_across(const ms_divergence_t *d)
{
    if (!d->have_across)
        return 0.0;
    return (double)d->max_peak_kb / (double)d->min_peak_kb;
}

void ms_divergence_text(const ms_divergence_t *d, char *buf, size_t len)
{
    const double across = ms_divergence_across(d);
    const int spike = d->have_within && d->within_ratio > MS_DIVERGENCE_RATIO;
    const int differ = d->have_across && across > MS_DIVERGENCE_RATIO;
    char kind[96], within[160], between[160];

    if (spike && differ)
        snprintf(kind, sizeof kind, "runs spike, and differ from each other");
    else if (spike)
        snprintf(kind, sizeof kind, "runs spike, and differ little from each other");
    else if (differ)
        snprintf(kind, sizeof kind, "runs differ from each other, and do not spike");
    else
        snprintf(kind, sizeof kind, "runs spike a little and differ a little, neither by more "
                 "than %gx", MS_DIVERGENCE_RATIO);

    if (d->have_within)
        snprintf(within, sizeof within, "the largest peak within one run is %.2fx its end "
                 "RSS, in run %lld", d->within_ratio, d->within_seq);
    else
        snprintf(within, sizeof within, "no run has an end RSS to compare its peak with");
    if (d->have_across)
        snprintf(between, sizeof between, "the largest run peak is %.2fx the smallest, run "
                 "%lld against run %lld", across, d->max_seq, d->min_seq);
    else
        snprintf(between, sizeof between, "no run has a peak");
    snprintf(buf, len, "%s (%s; %s)", kind, within, between);
}

void ms_advisory_write_pre(FILE *f, const ms_machine_t *m)
{
    fputs("Pre-run Memory Advisory\n", f);
    if (!m->have_mem_total) {
        fputs("MemTotal unavailable (/proc/meminfo could not be read and no memory "
              "limit was found); capacity figures omitted.\n",
              f);
        return;
    }
    fprintf(f, "MemTotal_MB: %lld\n", m->mem_total_mb);
    fprintf(f, "Reserve_MB: %lld\n", m->reserve_mb);
    fprintf(f, "Usable_MB: %lld\n", m->usable_mb);
    fprintf(f, "SafetyFactor: %g\n", m->safety_factor);
    write_machine_lines(f, m);
}

static const char *const divergence_text =
    "MaxPeakRSS_MB is more than 1.2x MeanRSS_End_MB; prefer the conservative "
    "recommendation and consider staggering worker starts.";
static const char *const no_fit_text =
    "a single worker does not fit in Usable_MB at this safety factor "
    "(recommendation 0); add memory, lower the reserve or shrink the workload.";
static const char *const no_runs_text =
    "no run has a memory sample; no statistics or recommendation.";
static const char *const no_mem_text =
    "MemTotal unknown; recommendations omitted (see --mem-total-mb).";

/*
 * The recommendation that CPUs may cap: the conservative one, else the aggressive one.
 * Returns 0 with it in *workers, -1 when there is none or it does not exceed the CPUs.
 */
static int cpu_bound(const ms_advisory_t *a, long long *workers)
{
    const long long w = a->have_conservative ? a->conservative
                        : a->have_aggressive ? a->aggressive
                                             : -1;

    if (a->machine.cpus <= 0 || w <= a->machine.cpus)
        return -1;
    *workers = w;
    return 0;
}

/*
 * Note i of the post-run section (0 up): why figures are missing, whether the CPUs
 * rather than memory limit the workers, then what the database report has to say.
 * Returns 0 with the note in buf, or -1 when there is no note i.
 */
static int note_text(const ms_advisory_t *a, size_t i, char *buf, size_t len)
{
    const char *own = NULL;
    long long workers;

    if (!a->have_end && !a->have_peak)
        own = no_runs_text;
    else if (!a->machine.have_mem_total)
        own = no_mem_text;
    if (own != NULL) {
        if (i == 0) {
            snprintf(buf, len, "%s", own);
            return 0;
        }
        i--;
    }
    if (a->counts.unfinished) {
        if (i == 0) {
            snprintf(buf, len,
                     "the sweep has not finished (it is still running, or its launcher was "
                     "killed); %zu run%s still running %s left out, and the figures cover the "
                     "runs finished so far.",
                     a->counts.running, a->counts.running == 1 ? "" : "s",
                     a->counts.running == 1 ? "is" : "are");
            return 0;
        }
        i--;
    }
    if (cpu_bound(a, &workers) == 0) {
        if (i == 0) {
            snprintf(buf, len,
                     "memory admits %lld workers, but this sweep may use %lld CPU%s, so CPU, "
                     "not memory, limits how many workers run at once.",
                     workers, a->machine.cpus, a->machine.cpus == 1 ? "" : "s");
            return 0;
        }
        i--;
    }
    return a->have_report ? ms_db_report_note(&a->report, i, buf, len) : -1;
}

/*
 * Warning i of the post-run section (0 up), in a fixed order. Returns 0 with the text in
 * buf, or -1 when there is no warning i.
 */
static int warning_text(const ms_advisory_t *a, size_t i, char *buf, size_t len)
{
    const ms_run_counts_t *c = &a->counts;
    const size_t left_out = c->total - c->included;

    if (a->warn_divergence && i-- == 0) {
        snprintf(buf, len, "%s", divergence_text);
        return 0;
    }
    if (a->warn_no_fit && i-- == 0) {
        snprintf(buf, len, "%s", no_fit_text);
        return 0;
    }
    if (a->warn_left_out_peak && i-- == 0) {
        snprintf(buf, len,
                 "run %lld, left out because it did not finish, had already reached %.1f MiB, "
                 "more than P95PeakRSS_MB (%.1f); runs like it may need more than this advice "
                 "allows.",
                 c->left_out_peak_seq, c->left_out_peak_mb, a->peak_mb.p95);
        return 0;
    }
    if (a->warn_few_runs && i-- == 0) {
        snprintf(buf, len,
                 "only %zu run%s entered the statistics; percentiles of fewer than %d runs say "
                 "little about the next one.",
                 c->included, c->included == 1 ? "" : "s", MS_FEW_RUNS);
        return 0;
    }
    if (a->warn_many_left_out && i-- == 0) {
        char rest[64] = ".";
        if (c->included > 0)
            snprintf(rest, sizeof rest, "; the advice covers only the %zu included.",
                     c->included);
        snprintf(buf, len,
                 "%zu of %zu runs (%.0f%%) were left out of the statistics (not measured, "
                 "stopped before they finished, or still running)%s",
                 left_out, c->total, (double)left_out * 100.0 / (double)c->total, rest);
        return 0;
    }
    return -1;
}

void ms_advisory_paste(const ms_advisory_t *a, ms_paste_t *out)
{
    memset(out, 0, sizeof *out);
    if (!a->have_conservative)
        return;
    if (a->conservative <= 0) {
        out->no_fit = 1;
        return;
    }
    out->have = 1;
    /* More workers than CPUs only queue for them (the note on CPUs says why). */
    out->workers = a->conservative;
    if (a->machine.cpus > 0 && out->workers > a->machine.cpus)
        out->workers = a->machine.cpus;
    out->last_index = a->counts.total > 0 ? (long long)a->counts.total - 1 : 0;
    /* A per-task limit kills the largest run, not the typical one: the largest peak. */
    if (a->have_peak && a->peak_mb.max > 0.0 && a->machine.safety_factor > 0.0) {
        const double x = a->peak_mb.max / a->machine.safety_factor;
        const double task = ceil(x - x * TASK_MB_EPSILON);
        if (task < 9.0e15) {
            out->have_mem = 1;
            out->task_mb = (long long)task;
            out->sbatch_mb = out->task_mb + MS_PASTE_SBATCH_ALLOWANCE_MB;
        }
    }
}

/*
 * memsweep's suggested safety factor and the seed's two counts at it, computed by the
 * RecommendedMaxWorkers lines' own code; each count is left out where theirs would be.
 */
static void write_safety_lines(FILE *f, const ms_advisory_t *a)
{
    const ms_safety_advice_t *s = &a->safety;
    ms_recommendation_t rec;
    char reason[1024];

    if (!a->have_safety || !s->have)
        return;
    ms_advisory_recommend(a, ms_safety_advice_factor(s), &rec);
    fprintf(f, "SuggestedSafetyFactor: %d.%02d\n", s->hundredths / 100, s->hundredths % 100);
    if (rec.have_aggressive)
        fprintf(f, "SuggestedSafetyFactor_Workers_Aggressive: %lld\n", rec.aggressive);
    if (rec.have_conservative)
        fprintf(f, "SuggestedSafetyFactor_Workers_Conservative: %lld\n", rec.conservative);
    ms_safety_advice_reason(s, reason, sizeof reason);
    fprintf(f, "SuggestedSafetyFactor_Reason: %s\n", reason);
}

/* The same as keys of the open JSON object, with the terms as numbers (null: unknown). */
static void write_safety_json(FILE *f, int *first, const ms_advisory_t *a)
{
    const ms_safety_advice_t *s = &a->safety;
    ms_recommendation_t rec;
    char reason[1024];
    int tfirst = 1;

    if (!a->have_safety || !s->have)
        return;
    ms_advisory_recommend(a, ms_safety_advice_factor(s), &rec);
    ms_json_key(f, first, "SuggestedSafetyFactor");
    fprintf(f, "%d.%02d", s->hundredths / 100, s->hundredths % 100);
    if (rec.have_aggressive)
        ms_json_int(f, first, "SuggestedSafetyFactor_Workers_Aggressive", rec.aggressive);
    if (rec.have_conservative)
        ms_json_int(f, first, "SuggestedSafetyFactor_Workers_Conservative", rec.conservative);
    ms_safety_advice_reason(s, reason, sizeof reason);
    ms_json_str(f, first, "SuggestedSafetyFactor_Reason", reason);
    ms_json_key(f, first, "SuggestedSafetyFactor_Terms");
    ms_json_key(f, &tfirst, "Base");
    fprintf(f, "%.2f", MS_SAFETY_BASE);
    if (s->miss_runs > 0) {
        ms_json_key(f, &tfirst, "PeriodicMiss_P95");
        fprintf(f, "%.4f", s->miss);
    } else {
        ms_json_null(f, &tfirst, "PeriodicMiss_P95");
    }
    ms_json_int(f, &tfirst, "PeriodicMiss_Runs", (long long)s->miss_runs);
    if (s->have_spread) {
        ms_json_key(f, &tfirst, "PeakSpread");
        fprintf(f, "%.4f", s->spread);
    } else {
        ms_json_null(f, &tfirst, "PeakSpread");
    }
    ms_json_int(f, &tfirst, "PeakSpread_Configurations", (long long)s->spread_configs);
    ms_json_key(f, &tfirst, "Quotient");
    fprintf(f, "%.4f", s->quotient);
    ms_json_int(f, &tfirst, "OomRuns", (long long)s->oom_runs);
    fputc('}', f);
}

static const char *const paste_no_fit_text =
    "none: a single worker does not fit in Usable_MB at this safety factor "
    "(RecommendedMaxWorkers_Conservative is 0)";

/*
 * Runner line i (0 up) of the paste block: its key in *key and its text in buf. Returns
 * 0, or -1 when there is no line i.
 */
static int paste_line(const ms_paste_t *p, size_t i, const char **key, char *buf, size_t len)
{
    if (p->no_fit) {
        if (i > 0)
            return -1;
        *key = "Paste";
        snprintf(buf, len, "%s", paste_no_fit_text);
        return 0;
    }
    if (!p->have)
        return -1;
    switch (i) {
    case 0:
        *key = "Paste_parallel";
        snprintf(buf, len, "parallel -j %lld", p->workers);
        return 0;
    case 1:
        *key = "Paste_xargs";
        snprintf(buf, len, "xargs -P %lld", p->workers);
        return 0;
    case 2:
        *key = "Paste_make";
        snprintf(buf, len, "make -j %lld", p->workers);
        return 0;
    case 3:
        *key = "Paste_sbatch";
        if (p->have_mem)
            snprintf(buf, len, "sbatch --array=0-%lld%%%lld --mem=%lldM", p->last_index,
                     p->workers, p->sbatch_mb);
        else
            snprintf(buf, len, "sbatch --array=0-%lld%%%lld", p->last_index, p->workers);
        return 0;
    case 4:
        if (!p->have_mem)
            return -1;
        *key = "Paste_snakemake";
        /* Snakemake's mem_mb is in decimal megabytes; X is in MiB. */
        snprintf(buf, len, "resources: mem_mb=%lld",
                 (long long)ceil((double)p->task_mb * MS_MIB_IN_MB));
        return 0;
    case 5:
        if (!p->have_mem)
            return -1;
        *key = "Paste_nextflow";
        snprintf(buf, len, "memory '%lld MB'", p->task_mb);
        return 0;
    default:
        return -1;
    }
}

void ms_advisory_write_post(FILE *f, const ms_advisory_t *a)
{
    char text[1024];

    fputs("Post-run Observed Advisory\n", f);
    if (a->have_end) {
        fprintf(f, "MeanRSS_End_MB: %.1f\n", a->end_mb.mean);
        fprintf(f, "MedianRSS_End_MB: %.1f\n", a->end_mb.median);
        fprintf(f, "P95RSS_End_MB: %.1f\n", a->end_mb.p95);
        fprintf(f, "MaxRSS_End_MB: %.1f\n", a->end_mb.max);
    }
    if (a->have_peak) {
        fprintf(f, "MeanPeakRSS_MB: %.1f\n", a->peak_mb.mean);
        fprintf(f, "P95PeakRSS_MB: %.1f\n", a->peak_mb.p95);
        fprintf(f, "MaxPeakRSS_MB: %.1f\n", a->peak_mb.max);
    }
    fprintf(f, "SafetyFactor: %g\n", a->machine.safety_factor);
    if (a->have_aggressive)
        fprintf(f, "RecommendedMaxWorkers_Aggressive: %lld\n", a->aggressive);
    if (a->have_conservative)
        fprintf(f, "RecommendedMaxWorkers_Conservative: %lld\n", a->conservative);

    fprintf(f, "RunsTotal: %zu\n", a->counts.total);
    fprintf(f, "RunsIncluded: %zu\n", a->counts.included);
    fprintf(f, "RunsFailed: %zu\n", a->counts.failed);
    fprintf(f, "RunsExcluded: %zu\n", a->counts.excluded);
    fprintf(f, "RunsStopped: %zu\n", a->counts.stopped);
    fprintf(f, "RunsRunning: %zu\n", a->counts.running);
    /* Attempts --retry-oom replaced: counted in no Runs line above, so said here. */
    if (a->counts.retried_attempts > 0) {
        fprintf(f, "RetriedAfterOOM_Runs: %zu\n", a->counts.retried_runs);
        fprintf(f, "RetriedAfterOOM_Attempts: %zu\n", a->counts.retried_attempts);
    }
    if (a->counts.unfinished)
        fprintf(f, "SweepFinished: no\n");
    if (a->counts.have_left_out_peak)
        fprintf(f, "LeftOutPeakRSS_LowerBound_MB: %.1f\n", a->counts.left_out_peak_mb);
    if (a->have_conservative)
        fprintf(f, "ConservativeBasis: %s\n", ms_basis_name(a->basis));
    if (a->machine.have_mem_total) {
        fprintf(f, "MemTotal_MB: %lld\n", a->machine.mem_total_mb);
        fprintf(f, "Reserve_MB: %lld\n", a->machine.reserve_mb);
        fprintf(f, "Usable_MB: %lld\n", a->machine.usable_mb);
    }
    write_machine_lines(f, &a->machine);
    if (a->have_schedule)
        ms_sched_write(f, &a->schedule);
    if (a->have_peak_summary)
        ms_peak_summary_write(f, &a->peaks);
    if (a->have_report)
        ms_db_report_write(f, &a->report);
    for (size_t i = 0; note_text(a, i, text, sizeof text) == 0; i++)
        fprintf(f, "Note: %s\n", text);
    for (size_t i = 0; warning_text(a, i, text, sizeof text) == 0; i++) {
        fprintf(f, "Warning: %s\n", text);
        /* The seed's warning cannot tell spikes from a grid of sizes; memsweep's line can. */
        if (i == 0 && a->warn_divergence && a->have_divergence) {
            ms_divergence_text(&a->divergence, text, sizeof text);
            fprintf(f, "Divergence: %s\n", text);
        }
    }
    /* memsweep's additions after everything the section said before them. */
    write_safety_lines(f, a);
    {
        ms_paste_t p;
        const char *key;
        ms_advisory_paste(a, &p);
        for (size_t i = 0; paste_line(&p, i, &key, text, sizeof text) == 0; i++)
            fprintf(f, "%s: %s\n", key, text);
    }
    if (a->have_params)
        ms_param_table_write(f, &a->params, a->machine.have_mem_total, a->machine.usable_mb,
                             a->machine.safety_factor);
    if (a->n_node_sizes > 0) {
        fprintf(f, "NodeSizes: %zu (runs ran with different memory; the lines above are for "
                   "MemTotal_MB %lld, each line below for one size)\n",
                a->n_node_sizes + a->more_node_sizes, a->machine.mem_total_mb);
        for (size_t i = 0; i < a->n_node_sizes; i++) {
            const ms_node_size_t *n = &a->node_sizes[i];
            fprintf(f, "NodeSize_MemTotal_MB=%lld: runs %zu, Reserve_MB %lld, Usable_MB %lld",
                    n->machine.mem_total_mb, n->runs, n->machine.reserve_mb,
                    n->machine.usable_mb);
            if (n->cpus > 0)
                fprintf(f, ", CPUs %lld", n->cpus);
            if (n->have_peak)
                fprintf(f, ", P95PeakRSS_MB %.1f", n->p95_peak_mb);
            if (n->have_aggressive)
                fprintf(f, ", RecommendedMaxWorkers_Aggressive %lld", n->aggressive);
            if (n->have_conservative)
                fprintf(f, ", RecommendedMaxWorkers_Conservative %lld", n->conservative);
            fputc('\n', f);
        }
        if (a->more_node_sizes > 0)
            fprintf(f, "NodeSizes_NotShown: %zu\n", a->more_node_sizes);
    }
}

void ms_advisory_write_json(FILE *f, const ms_advisory_t *a)
{
    const ms_machine_t *m = &a->machine;
    char text[1024];
    int first = 1;
    int nwarn = 0;

    ms_json_key(f, &first, "MemTotalAvailable");
    fputs(m->have_mem_total ? "true" : "false", f);
    if (m->have_mem_total) {
        ms_json_int(f, &first, "MemTotal_MB", m->mem_total_mb);
        ms_json_int(f, &first, "Reserve_MB", m->reserve_mb);
        ms_json_int(f, &first, "Usable_MB", m->usable_mb);
        if (m->mem_source[0] != '\0')
            ms_json_str(f, &first, "MemSource", m->mem_source);
        if (m->have_host_mem_total)
            ms_json_int(f, &first, "HostMemTotal_MB", m->host_mem_total_mb);
        if (ms_reserve_rule_text(m->reserve_rule) != NULL)
            ms_json_str(f, &first, "ReserveRule", ms_reserve_rule_text(m->reserve_rule));
    }
    if (m->cpus > 0)
        ms_json_int(f, &first, "CPUs", m->cpus);
    if (a->have_end) {
        ms_json_dec1(f, &first, "MeanRSS_End_MB", a->end_mb.mean);
        ms_json_dec1(f, &first, "MedianRSS_End_MB", a->end_mb.median);
        ms_json_dec1(f, &first, "P95RSS_End_MB", a->end_mb.p95);
        ms_json_dec1(f, &first, "MaxRSS_End_MB", a->end_mb.max);
    }
    if (a->have_peak) {
        ms_json_dec1(f, &first, "MeanPeakRSS_MB", a->peak_mb.mean);
        ms_json_dec1(f, &first, "P95PeakRSS_MB", a->peak_mb.p95);
        ms_json_dec1(f, &first, "MaxPeakRSS_MB", a->peak_mb.max);
    }
    ms_json_key(f, &first, "SafetyFactor");
    fprintf(f, "%g", m->safety_factor);
    if (a->have_aggressive)
        ms_json_int(f, &first, "RecommendedMaxWorkers_Aggressive", a->aggressive);
    if (a->have_conservative)
        ms_json_int(f, &first, "RecommendedMaxWorkers_Conservative", a->conservative);
    ms_json_int(f, &first, "RunsTotal", (long long)a->counts.total);
    ms_json_int(f, &first, "RunsIncluded", (long long)a->counts.included);
    ms_json_int(f, &first, "RunsFailed", (long long)a->counts.failed);
    ms_json_int(f, &first, "RunsExcluded", (long long)a->counts.excluded);
    ms_json_int(f, &first, "RunsStopped", (long long)a->counts.stopped);
    ms_json_int(f, &first, "RunsRunning", (long long)a->counts.running);
    if (a->counts.retried_attempts > 0) {
        ms_json_int(f, &first, "RetriedAfterOOM_Runs", (long long)a->counts.retried_runs);
        ms_json_int(f, &first, "RetriedAfterOOM_Attempts", (long long)a->counts.retried_attempts);
    }
    ms_json_bool(f, &first, "SweepFinished", !a->counts.unfinished);
    if (a->counts.have_left_out_peak)
        ms_json_dec1(f, &first, "LeftOutPeakRSS_LowerBound_MB", a->counts.left_out_peak_mb);
    if (a->have_conservative) {
        ms_json_key(f, &first, "ConservativeBasis");
        ms_json_string(f, ms_basis_name(a->basis));
    }
    if (a->have_schedule)
        ms_sched_write_json(f, &first, &a->schedule);
    if (a->have_peak_summary)
        ms_peak_summary_write_json(f, &first, &a->peaks, 0);
    if (a->have_report)
        ms_db_report_write_json(f, &first, &a->report);
    if (a->warn_divergence && a->have_divergence) {
        const ms_divergence_t *d = &a->divergence;
        int dfirst = 1;
        ms_divergence_text(d, text, sizeof text);
        ms_json_key(f, &first, "Divergence");
        ms_json_str(f, &dfirst, "Text", text);
        if (d->have_within) {
            ms_json_key(f, &dfirst, "WithinRun_Ratio");
            fprintf(f, "%.2f", d->within_ratio);
            ms_json_int(f, &dfirst, "WithinRun_Run", d->within_seq);
        } else {
            ms_json_null(f, &dfirst, "WithinRun_Ratio");
            ms_json_null(f, &dfirst, "WithinRun_Run");
        }
        if (d->have_across) {
            ms_json_key(f, &dfirst, "AcrossRuns_Ratio");
            fprintf(f, "%.2f", ms_divergence_across(d));
            ms_json_int(f, &dfirst, "AcrossRuns_LargestPeak_Run", d->max_seq);
            ms_json_int(f, &dfirst, "AcrossRuns_SmallestPeak_Run", d->min_seq);
        } else {
            ms_json_null(f, &dfirst, "AcrossRuns_Ratio");
            ms_json_null(f, &dfirst, "AcrossRuns_LargestPeak_Run");
            ms_json_null(f, &dfirst, "AcrossRuns_SmallestPeak_Run");
        }
        fputc('}', f);
    }
    ms_json_key(f, &first, "Notes");
    fputc('[', f);
    for (size_t i = 0; note_text(a, i, text, sizeof text) == 0; i++) {
        if (i > 0)
            fputc(',', f);
        ms_json_string(f, text);
    }
    fputc(']', f);
    ms_json_key(f, &first, "Warnings");
    fputc('[', f);
    for (size_t i = 0; warning_text(a, i, text, sizeof text) == 0; i++) {
        if (nwarn++ > 0)
            fputc(',', f);
        ms_json_string(f, text);
    }
    fputc(']', f);
    write_safety_json(f, &first, a);
    {
        ms_paste_t p;
        const char *key;
        ms_advisory_paste(a, &p);
        for (size_t i = 0; paste_line(&p, i, &key, text, sizeof text) == 0; i++)
            ms_json_str(f, &first, key, text);
        if (p.have) {
            ms_json_int(f, &first, "Paste_Workers", p.workers);
            if (p.have_mem) {
                ms_json_int(f, &first, "Paste_TaskMemory_MB", p.task_mb);
                ms_json_int(f, &first, "Paste_SbatchMemory_MB", p.sbatch_mb);
            }
        }
    }
    if (a->have_params)
        ms_param_table_write_json(f, &first, &a->params, m->have_mem_total, m->usable_mb,
                                  m->safety_factor);
    if (a->n_node_sizes > 0) {
        ms_json_key(f, &first, "NodeSizes");
        fputc('[', f);
        for (size_t i = 0; i < a->n_node_sizes; i++) {
            const ms_node_size_t *n = &a->node_sizes[i];
            int nfirst = 1;
            if (i > 0)
                fputc(',', f);
            ms_json_int(f, &nfirst, "MemTotal_MB", n->machine.mem_total_mb);
            ms_json_int(f, &nfirst, "Runs", (long long)n->runs);
            ms_json_int(f, &nfirst, "Reserve_MB", n->machine.reserve_mb);
            ms_json_int(f, &nfirst, "Usable_MB", n->machine.usable_mb);
            if (n->cpus > 0)
                ms_json_int(f, &nfirst, "CPUs", n->cpus);
            if (n->have_peak)
                ms_json_dec1(f, &nfirst, "P95PeakRSS_MB", n->p95_peak_mb);
            if (n->have_aggressive)
                ms_json_int(f, &nfirst, "RecommendedMaxWorkers_Aggressive", n->aggressive);
            if (n->have_conservative)
                ms_json_int(f, &nfirst, "RecommendedMaxWorkers_Conservative", n->conservative);
            fputc('}', f);
        }
        fputc(']', f);
        ms_json_int(f, &first, "NodeSizes_NotShown", (long long)a->more_node_sizes);
    }
    fputs("}\n", f);
}
