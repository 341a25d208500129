/*
 * The advisory of a sweep already read: the machine it is for (the recorded one or
 * another), the runs that count, and the periodic-miss summary; and the launcher's
 * shortcut from a database path to its advisory.
 */
#include "sweepread.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "memsweep/defaults.h"
#include "memsweep/schema.h"

void ms_sweep_peak_summary(const ms_sweep_data_t *d, ms_peak_summary_t *out)
{
    ms_peak_summary_init(out);
    for (size_t i = 0; i < d->n_runs; i++) {
        if (ms_run_measured(&d->runs[i]))
            ms_peak_summary_add(out, d->runs[i].seq, &d->runs[i].peaks);
        out->retried_runs += d->runs[i].earlier_attempts > 0;
    }
    out->retried_attempts = d->n_superseded;
}

void ms_advise_opts_init(ms_advise_opts_t *o)
{
    o->mem_total_mb = -1;
    o->reserve_mb = -1;
    o->safety_factor = 0.0;
}

/* The safety factor of the advice: the option's, else the recorded one, else the default. */
static double factor_of(const ms_sweep_info_t *in, const ms_advise_opts_t *o)
{
    if (o->safety_factor > 0.0 && o->safety_factor <= 1.0)
        return o->safety_factor;
    if (in->safety_factor > 0.0 && in->safety_factor <= 1.0)
        return in->safety_factor;
    return MS_DEFAULT_SAFETY_FACTOR;
}

/*
 * The machine of the advice: the recorded one, or a whole machine of --mem-total-mb; the
 * reserve of --reserve-mb, else the recorded one, else the rule's for the source.
 */
static void advise_machine(const ms_sweep_info_t *in, const ms_advise_opts_t *o, ms_machine_t *m)
{
    ms_reserve_rule_t rule;
    long long reserve;

    if (o->mem_total_mb >= 0) {
        if (o->reserve_mb >= 0) {
            reserve = o->reserve_mb;
            rule = MS_RESERVE_RULE_OPTION;
        } else {
            reserve = MS_DEFAULT_RESERVE_MB;
            rule = MS_RESERVE_RULE_MACHINE;
        }
        ms_machine_init(m, 1, (unsigned long long)o->mem_total_mb * 1024ULL, reserve,
                        factor_of(in, o));
        /* Another machine's: the recorded one's MemTotal is not its own. */
        ms_machine_describe(m, MS_MEM_SOURCE_OPTION, 0, 0, rule, in->cpus);
        return;
    }
    {
        const long long total_mb = in->have_mem_total ? (long long)(in->mem_total_kb / 1024ULL)
                                                      : 0;
        if (o->reserve_mb >= 0) {
            reserve = o->reserve_mb;
            rule = MS_RESERVE_RULE_OPTION;
        } else if (in->have_reserve) {
            reserve = in->reserve_mb;
            rule = ms_reserve_rule_of(in->mem_source, total_mb, reserve);
        } else if (ms_mem_source_is_limit(in->mem_source)) {
            reserve = ms_limit_reserve_mb(total_mb);
            rule = MS_RESERVE_RULE_LIMIT;
        } else {
            reserve = MS_DEFAULT_RESERVE_MB;
            rule = MS_RESERVE_RULE_MACHINE;
        }
    }
    ms_machine_init(m, in->have_mem_total, in->mem_total_kb, reserve, factor_of(in, o));
    ms_machine_describe(m, in->mem_source, in->have_host_mem_total, in->host_mem_total_kb, rule,
                        in->cpus);
}

/* Whether run r ran on node size n (the same memory). */
static int on_size(const ms_run_mem_t *r, const ms_node_size_t *n)
{
    return r->node_mem_kb == n->mem_total_kb;
}

/*
 * The advice per node size, when the included runs (indices inc[0..n)) ran on nodes, or
 * in job allocations, of more than one size: each size's runs and memory through the
 * seed's formulas. Sizes are ordered by memory; runs without a node are left out.
 */
static int node_sizes(const ms_sweep_data_t *d, const ms_advise_opts_t *o, const size_t *inc,
                      size_t n, ms_advisory_t *out)
{
    double *end = NULL, *peak = NULL;
    unsigned long long extra[64];
    size_t k = 0, n_extra = 0;

    out->n_node_sizes = 0;
    out->more_node_sizes = 0;
    /* Another machine asked for (--mem-total-mb): the nodes' sizes are not its. */
    if (o->mem_total_mb >= 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const ms_run_mem_t *r = &d->runs[inc[i]];
        size_t j;
        if (!r->have_node)
            continue;
        for (j = 0; j < k && !on_size(r, &out->node_sizes[j]); j++)
            ;
        if (j < k) {
            /* Runs of one size with other reserves or CPUs: the larger reserve, fewer CPUs. */
            ms_node_size_t *ns = &out->node_sizes[j];
            ns->runs++;
            if (r->node_reserve_mb > ns->reserve_mb)
                ns->reserve_mb = r->node_reserve_mb;
            if (r->node_cpus > 0 && (ns->cpus == 0 || r->node_cpus < ns->cpus))
                ns->cpus = r->node_cpus;
            continue;
        }
        if (k == MS_NODE_SIZES_MAX) {
            size_t e;
            for (e = 0; e < n_extra && extra[e] != r->node_mem_kb; e++)
                ;
            if (e == n_extra && n_extra < sizeof extra / sizeof extra[0])
                extra[n_extra++] = r->node_mem_kb;
            continue;
        }
        memset(&out->node_sizes[k], 0, sizeof out->node_sizes[k]);
        out->node_sizes[k].mem_total_kb = r->node_mem_kb;
        out->node_sizes[k].reserve_mb = r->node_reserve_mb;
        out->node_sizes[k].cpus = r->node_cpus;
        out->node_sizes[k].runs = 1;
        k++;
    }
    out->more_node_sizes = n_extra;
    if (k + n_extra < 2) {
        out->more_node_sizes = 0;
        return 0;
    }
    end = malloc(n * sizeof *end);
    peak = malloc(n * sizeof *peak);
    if (end == NULL || peak == NULL) {
        free(end);
        free(peak);
        return -ENOMEM;
    }
    for (size_t j = 0; j < k; j++) {
        ms_node_size_t *ns = &out->node_sizes[j];
        ms_run_counts_t counts;
        ms_advisory_t tmp;
        size_t m = 0;
        const long long reserve = ns->reserve_mb >= 0 ? ns->reserve_mb : MS_DEFAULT_RESERVE_MB;

        for (size_t i = 0; i < n; i++) {
            const ms_run_mem_t *r = &d->runs[inc[i]];
            if (r->have_node && on_size(r, ns)) {
                end[m] = (double)r->end_kb / 1024.0;
                peak[m] = (double)r->peak_kb / 1024.0;
                m++;
            }
        }
        memset(&counts, 0, sizeof counts);
        counts.total = counts.included = m;
        ms_machine_init(&ns->machine, 1, ns->mem_total_kb, reserve, factor_of(&d->info, o));
        ms_advisory_compute(&ns->machine, &counts, end, m, peak, m, &tmp);
        ns->have_peak = tmp.have_peak;
        ns->p95_peak_mb = tmp.peak_mb.p95;
        ns->have_aggressive = tmp.have_aggressive;
        ns->aggressive = tmp.aggressive;
        ns->have_conservative = tmp.have_conservative;
        ns->conservative = tmp.conservative;
    }
    /* Smallest first: the size that admits the fewest workers leads. */
    for (size_t a = 1; a < k; a++)
        for (size_t b = a; b > 0 && out->node_sizes[b].mem_total_kb <
                                        out->node_sizes[b - 1].mem_total_kb; b--) {
            const ms_node_size_t t = out->node_sizes[b];
            out->node_sizes[b] = out->node_sizes[b - 1];
            out->node_sizes[b - 1] = t;
        }
    out->n_node_sizes = k;
    free(end);
    free(peak);
    return 0;
}

/*
 * What a scheduled sweep (schema 9) did with its budget: its options, its admissions,
 * the measured total, and how the peaks of the included runs (indices inc[0..n)) compare
 * with the predictions they were admitted on. Nothing for a sweep without either.
 */
static int schedule_summary(const ms_sweep_data_t *d, const size_t *inc, size_t n,
                            ms_advisory_t *out)
{
    ms_sched_pair_t *pairs = NULL;
    size_t n_pairs = 0;
    int rc;

    out->have_schedule = 0;
    if (!ms_sched_opts_any(&d->sched) && d->n_admissions == 0)
        return 0;
    if (d->n_admissions > 0 && n > 0) {
        pairs = malloc(n * sizeof *pairs);
        if (pairs == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
            const ms_run_mem_t *r = &d->runs[inc[i]];
            const ms_sched_admission_t *a = ms_sweep_admission(d, r);
            if (a != NULL && a->have_predicted && a->predicted_kb > 0)
                pairs[n_pairs++] = (ms_sched_pair_t){r->peak_kb, a->predicted_kb};
        }
    }
    rc = ms_sched_summarize(&d->sched, d->admissions, d->n_admissions, d->have_measured_total,
                            d->measured_total_kb, pairs, n_pairs, &out->schedule);
    out->have_schedule = rc == 0;
    free(pairs);
    return rc;
}

int ms_sweep_advise(const ms_sweep_data_t *d, const ms_advise_opts_t *o, ms_advisory_t *out)
{
    size_t *inc = NULL;
    ms_machine_t m;
    ms_run_counts_t counts;
    ms_divergence_t div;
    double *end_mb = NULL, *peak_mb = NULL;
    ms_param_run_t *param_runs = NULL;
    ms_safety_run_t *safety_runs = NULL;
    char (*config)[24] = NULL; /* each included run's configuration: its command's hash */
    size_t n = 0, oom_runs = 0;
    int rc;

    memset(&counts, 0, sizeof counts);
    ms_divergence_init(&div);
    advise_machine(&d->info, o, &m);

    end_mb = malloc((d->n_runs ? d->n_runs : 1) * sizeof *end_mb);
    peak_mb = malloc((d->n_runs ? d->n_runs : 1) * sizeof *peak_mb);
    param_runs = malloc((d->n_runs ? d->n_runs : 1) * sizeof *param_runs);
    inc = malloc((d->n_runs ? d->n_runs : 1) * sizeof *inc);
    safety_runs = malloc((d->n_runs ? d->n_runs : 1) * sizeof *safety_runs);
    config = malloc((d->n_runs ? d->n_runs : 1) * sizeof *config);
    if (end_mb == NULL || peak_mb == NULL || param_runs == NULL || inc == NULL ||
        safety_runs == NULL || config == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    counts.total = d->n_runs;
    counts.unfinished = d->info.unfinished;
    for (size_t i = 0; i < d->n_runs; i++) {
        const ms_run_mem_t *r = &d->runs[i];
        const int running = strcmp(r->status, MS_STATUS_RUNNING) == 0;
        /* Cancelled by the batch system, or lost with its recorder: also cut short. */
        const int stopped = strcmp(r->status, MS_STATUS_INTERRUPTED) == 0 ||
                            strcmp(r->status, MS_STATUS_TIMEOUT) == 0 ||
                            strcmp(r->status, MS_STATUS_CANCELLED) == 0 ||
                            strcmp(r->status, MS_STATUS_LOST) == 0;

        /* An unknown status is not ok either; a run still running has not failed. */
        if (running)
            counts.running++;
        else if (strcmp(r->status, MS_STATUS_OK) != 0)
            counts.failed++;
        /* Any out-of-memory kill caps the suggested factor, measured or not. */
        if (strcmp(r->status, MS_STATUS_OOM) == 0)
            oom_runs++;
        if (!ms_run_measured(r)) {
            counts.excluded++;
            continue;
        }
        /*
         * A run stopped by the user or by --timeout did not show what it needs to
         * finish, nor does a run of an unfinished sweep that is still running: left out,
         * with the largest peak such a run reached so far (a lower bound).
         */
        if (stopped || (running && d->info.unfinished)) {
            const double peak = (double)r->peak_kb / 1024.0;
            if (stopped)
                counts.stopped++;
            else
                counts.unfinished_runs++;
            if (!counts.have_left_out_peak || peak > counts.left_out_peak_mb) {
                counts.have_left_out_peak = 1;
                counts.left_out_peak_mb = peak;
                counts.left_out_peak_seq = r->seq;
            }
            continue;
        }
        counts.included++;
        end_mb[n] = (double)r->end_kb / 1024.0;
        peak_mb[n] = (double)r->peak_kb / 1024.0;
        /* ms_advisory_compute sorts the figures in place; the table keeps its own. */
        param_runs[n] = (ms_param_run_t){.label = ms_sweep_label(d, r), .end_mb = end_mb[n],
                                         .peak_mb = peak_mb[n]};
        /* The peak the statistics use, and the periodic view the PeriodicMiss lines use. */
        /*
         * One configuration is one command: runs that differ only in a parameter the
         * command does not use (-P rep=1..3) repeat it. Without the command, the label.
         */
        if (r->have_command_key)
            snprintf(config[n], sizeof config[n], "%016llx",
                     (unsigned long long)r->command_key);
        safety_runs[n] = (ms_safety_run_t){.seq = r->seq,
                                           .label = r->have_command_key ? config[n]
                                                                        : ms_sweep_label(d, r),
                                           .peak_kb = r->peak_kb,
                                           .periodic_kb = r->peaks.periodic_kb};
        inc[n] = i;
        n++;
        ms_divergence_add(&div, r->seq, r->peak_kb, r->end_kb);
    }
    /*
     * The attempts --retry-oom replaced are in no count above (the run counts once, with
     * the attempt that finished); they are counted apart. Each was an out-of-memory kill
     * all the same, which caps the suggested factor as any other does.
     */
    counts.retried_attempts = d->n_superseded;
    for (size_t i = 0; i < d->n_runs; i++)
        counts.retried_runs += d->runs[i].earlier_attempts > 0;
    /*
     * Runs, not attempts: a run whose last attempt ended oom was counted above; one that a
     * retry saved counts once however many attempts were killed, and so does an attempt
     * whose retry is not in the database.
     */
    for (size_t i = 0; i < d->n_runs; i++)
        if (d->runs[i].earlier_attempts > 0 && strcmp(d->runs[i].status, MS_STATUS_OOM) != 0)
            oom_runs++;
    for (size_t i = 0; i < d->n_superseded; i++)
        if (d->superseded[i].retried_as == 0 &&
            strcmp(d->superseded[i].status, MS_STATUS_OOM) == 0)
            oom_runs++;
    ms_advisory_compute(&m, &counts, end_mb, n, peak_mb, n, out);
    out->divergence = div;
    out->have_divergence = 1;
    ms_sweep_peak_summary(d, &out->peaks);
    out->have_peak_summary = 1;
    out->report = d->report;
    out->have_report = 1;
    rc = ms_safety_advice_compute(safety_runs, n, oom_runs, m.safety_factor, &out->safety);
    out->have_safety = rc == 0;
    if (rc == 0)
        rc = ms_param_table_compute(param_runs, n, &out->params);
    out->have_params = rc == 0;
    if (rc == 0)
        rc = node_sizes(d, o, inc, n, out);
    if (rc == 0)
        rc = schedule_summary(d, inc, n, out);
out:
    free(config);
    free(safety_runs);
    free(inc);
    free(end_mb);
    free(peak_mb);
    free(param_runs);
    return rc;
}

int ms_advise_db(const char *db_path, const ms_advise_opts_t *opts, ms_advisory_t *out,
                 char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    ms_sweep_data_t d;
    ms_advise_opts_t o;
    int rc;

    rc = ms_sweep_open(db_path, &db, err, errlen);
    if (rc != 0)
        return rc;
    rc = ms_sweep_read(db, db_path, &d, err, errlen);
    sqlite3_close(db);
    if (rc != 0)
        return rc;
    if (opts != NULL)
        o = *opts;
    else
        ms_advise_opts_init(&o);
    rc = ms_sweep_advise(&d, &o, out);
    if (rc != 0)
        ms_set_err(err, errlen, "%s: %s", db_path, strerror(-rc));
    ms_sweep_free(&d);
    return rc;
}
