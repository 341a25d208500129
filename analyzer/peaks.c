/* Peak views of a run, the periodic sampler's shortfall, and their text and JSON renderings. */
#include "peaks.h"

#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "peakblocks.h"
#include "memsweep/defaults.h"
#include "memsweep/schema.h"
#include "textclean.h"

const char *ms_sample_kind_name(ms_sample_kind_t kind)
{
    switch (kind) {
    case MS_SAMPLE_START:
        return MS_KIND_START;
    case MS_SAMPLE_TICK:
        return MS_KIND_TICK;
    case MS_SAMPLE_END:
        return MS_KIND_END;
    case MS_SAMPLE_ALLOC:
        return MS_KIND_ALLOC;
    case MS_SAMPLE_RELEASE:
        return MS_KIND_RELEASE;
    case MS_SAMPLE_GROWTH:
        return MS_KIND_GROWTH;
    case MS_SAMPLE_EXEC:
        return MS_KIND_EXEC;
    case MS_SAMPLE_OTHER:
    case MS_SAMPLE_KINDS:
        break;
    }
    return "other";
}

/* Orders span starts and ends by time, an end before a start at the same time. */
typedef struct hwm_edge {
    int64_t t;
    int is_start;
    unsigned long long kb;
} hwm_edge_t;

static int cmp_edge(const void *a, const void *b)
{
    const hwm_edge_t *x = a, *y = b;
    if (x->t != y->t)
        return (x->t > y->t) - (x->t < y->t);
    return x->is_start - y->is_start;
}

unsigned long long ms_hwm_concurrent(ms_hwm_span_t *spans, size_t n, size_t *alive)
{
    hwm_edge_t *e = malloc((n > 0 ? n : 1) * 2 * sizeof *e);
    unsigned long long sum = 0, best = 0;
    size_t now = 0;

    *alive = 0;
    if (e == NULL) {
        /* Without room to order them, the sum over all spans still bounds the run. */
        for (size_t i = 0; i < n; i++)
            best += spans[i].hwm_kb;
        *alive = n;
        return best;
    }
    for (size_t i = 0; i < n; i++) {
        /* An instant lasts a nanosecond, so that its own end never comes before its start. */
        const int64_t end = spans[i].end_ns > spans[i].start_ns ? spans[i].end_ns
                                                                : spans[i].start_ns + 1;
        e[2 * i] = (hwm_edge_t){spans[i].start_ns, 1, spans[i].hwm_kb};
        e[2 * i + 1] = (hwm_edge_t){end, 0, spans[i].hwm_kb};
    }
    qsort(e, 2 * n, sizeof *e, cmp_edge);
    for (size_t i = 0; i < 2 * n; i++) {
        if (e[i].is_start) {
            sum += e[i].kb;
            now++;
            if (sum > best) {
                best = sum;
                *alive = now;
            }
        } else {
            sum -= e[i].kb;
            now--;
        }
    }
    free(e);
    return best;
}

unsigned long long ms_run_peaks_best_kb(const ms_run_peaks_t *p)
{
    unsigned long long kb = p->all_kb > p->hwm_max_kb ? p->all_kb : p->hwm_max_kb;

    if (p->wait4 == MS_WAIT4_ABOVE && p->wait4_kb > kb)
        kb = p->wait4_kb;
    return kb;
}

int ms_run_peaks_exact(const ms_run_peaks_t *p)
{
    return p->procs > 0 && !p->overlap && p->procs == p->rows &&
           p->exit_hwm_procs == p->procs &&
           (p->wait4 != MS_WAIT4_ABOVE || p->wait4_kb <= p->hwm_max_kb);
}

double ms_peak_miss_pct(unsigned long long view_kb, unsigned long long periodic_kb)
{
    if (view_kb == 0)
        return 0.0;
    if (periodic_kb <= view_kb)
        return (double)(view_kb - periodic_kb) * 100.0 / (double)view_kb;
    return -((double)(periodic_kb - view_kb) * 100.0 / (double)view_kb);
}

int ms_peak_miss_exceeds(unsigned long long view_kb, unsigned long long periodic_kb, double pct)
{
    if (view_kb == 0 || periodic_kb >= view_kb)
        return 0;
    /* Cross-multiplied, so that a shortfall of exactly pct percent is not rounded above it. */
    return (double)(view_kb - periodic_kb) * 100.0 > pct * (double)view_kb;
}

void ms_peak_summary_init(ms_peak_summary_t *s)
{
    memset(s, 0, sizeof *s);
}

void ms_peak_summary_add(ms_peak_summary_t *s, long long seq, const ms_run_peaks_t *p)
{
    const unsigned long long true_kb = ms_run_peaks_best_kb(p);
    const double miss = ms_peak_miss_pct(true_kb, p->periodic_kb);

    s->runs++;
    if (p->pss_used)
        s->pss_runs++;
    if (p->wait4 == MS_WAIT4_ABOVE) {
        s->wait4_runs++;
        if (ms_peak_miss_exceeds(p->wait4_kb, p->all_kb, MS_PEAK_MISS_PCT_SMALL))
            s->wait4_missed++;
    }
    if (ms_peak_miss_exceeds(true_kb, p->periodic_kb, MS_PEAK_MISS_PCT_SMALL))
        s->over_small++;
    if (ms_peak_miss_exceeds(true_kb, p->periodic_kb, MS_PEAK_MISS_PCT_LARGE))
        s->over_large++;
    if (miss > s->largest_pct) {
        s->largest_pct = miss;
        s->have_largest_run = 1;
        s->largest_seq = seq;
    }
}

/* Key names carry the thresholds, so a changed constant cannot leave a stale name. */
static void key_over(char *buf, size_t len, double pct)
{
    snprintf(buf, len, "PeriodicMissOver%gPct_Runs", pct);
}

void ms_peak_summary_write(FILE *f, const ms_peak_summary_t *s)
{
    char key[64];

    key_over(key, sizeof key, MS_PEAK_MISS_PCT_SMALL);
    fprintf(f, "%s: %zu\n", key, s->over_small);
    key_over(key, sizeof key, MS_PEAK_MISS_PCT_LARGE);
    fprintf(f, "%s: %zu\n", key, s->over_large);
    if (s->runs > 0)
        fprintf(f, "LargestPeriodicMiss_Pct: %.1f\n", s->largest_pct);
    if (s->have_largest_run)
        fprintf(f, "LargestPeriodicMiss_Run: %lld\n", s->largest_seq);
    if (s->pss_runs > 0)
        fprintf(f, "SharedPagesByPSS_Runs: %zu\n", s->pss_runs);
}

void ms_peak_summary_write_json(FILE *f, int *first, const ms_peak_summary_t *s, int nulls)
{
    char key[64];

    key_over(key, sizeof key, MS_PEAK_MISS_PCT_SMALL);
    ms_json_int(f, first, key, (long long)s->over_small);
    key_over(key, sizeof key, MS_PEAK_MISS_PCT_LARGE);
    ms_json_int(f, first, key, (long long)s->over_large);
    if (s->runs > 0)
        ms_json_dec1(f, first, "LargestPeriodicMiss_Pct", s->largest_pct);
    else if (nulls)
        ms_json_null(f, first, "LargestPeriodicMiss_Pct");
    if (s->have_largest_run)
        ms_json_int(f, first, "LargestPeriodicMiss_Run", s->largest_seq);
    else if (nulls)
        ms_json_null(f, first, "LargestPeriodicMiss_Run");
    if (s->pss_runs > 0 || nulls)
        ms_json_int(f, first, "SharedPagesByPSS_Runs", (long long)s->pss_runs);
}

static double mib(unsigned long long kb)
{
    return (double)kb / 1024.0;
}

static const char *tracking_text(ms_tracking_t t)
{
    switch (t) {
    case MS_TRACKING_ON:
        return "on";
    case MS_TRACKING_OFF:
        return "off";
    case MS_TRACKING_UNKNOWN:
        break;
    }
    return "not recorded";
}

/*
 * Writes each line of frames indented, skipping empty lines: at most max of them (0: all),
 * then how many more there are.
 */
static void write_frames(FILE *f, const char *frames, size_t max)
{
    size_t shown = 0, more = 0;

    while (*frames != '\0') {
        const char *nl = strchr(frames, '\n');
        const size_t n = nl ? (size_t)(nl - frames) : strlen(frames);
        if (n > 0 && max != 0 && shown == max) {
            more++;
        } else if (n > 0) {
            char line[1024];
            /* A frame longer than the buffer is cut rather than split. */
            snprintf(line, sizeof line, "%.*s", (int)n, frames);
            fputs("    ", f);
            ms_write_clean(f, line, 0);
            fputc('\n', f);
            shown++;
        }
        frames += n + (nl != NULL);
    }
    if (more > 0)
        fprintf(f, "    ... %zu more frame%s (--full shows them)\n", more, more == 1 ? "" : "s");
}

static size_t count_frames(const char *frames)
{
    size_t n = 0;
    while (*frames != '\0') {
        const char *nl = strchr(frames, '\n');
        const size_t len = nl ? (size_t)(nl - frames) : strlen(frames);
        n += len > 0;
        frames += len + (nl != NULL);
    }
    return n;
}

int ms_peaks_run_compared(const ms_peaks_run_info_t *info)
{
    return info->n_samples > 0 && info->not_measured == NULL;
}

static int status_running(const ms_peaks_run_info_t *info)
{
    return info->status != NULL && strcmp(info->status, MS_STATUS_RUNNING) == 0;
}

/* "SIGTERM" for 15: the names of the signals numbered alike on every Linux architecture. */
static const char *signal_name(int sig)
{
    static const char *const names[] = {
        NULL,      "SIGHUP",  "SIGINT",  "SIGQUIT", "SIGILL",  "SIGTRAP", "SIGABRT",
        NULL,      "SIGFPE",  "SIGKILL", NULL,      "SIGSEGV", NULL,      "SIGPIPE",
        "SIGALRM", "SIGTERM",
    };

    if (sig > 0 && (size_t)sig < sizeof names / sizeof names[0] && names[sig] != NULL)
        return names[sig];
    return NULL;
}

/*
 * What memsweep or the kernel says about a run's main process killed by a signal, from
 * the run's status (timeout and interrupted: memsweep sent it; oom: the kernel's
 * out-of-memory killer); "" when the status adds nothing.
 */
static const char *signal_sender(const char *status, const char *batch_state)
{
    if (status == NULL)
        return "";
    if (batch_state != NULL)
        return ", by the batch system (see BatchState)";
    if (strcmp(status, MS_STATUS_TIMEOUT) == 0)
        return ", sent by memsweep at the timeout";
    if (strcmp(status, MS_STATUS_INTERRUPTED) == 0)
        return ", sent by memsweep when the sweep was interrupted";
    if (strcmp(status, MS_STATUS_OOM) == 0)
        return ", by the kernel's out-of-memory killer";
    return "";
}

/*
 * The processes of a run that left no exit record and were not replaced by exec: the
 * total, then how the main process ended when the run's row says so, then the others,
 * of which the database knows only that they left no record.
 */
static void write_no_exit_record(FILE *f, const ms_peaks_run_info_t *info)
{
    const int running = status_running(info);
    const ms_main_end_t *m = info->main_end;
    const size_t others = info->ended_abnormally - (m != NULL ? 1 : 0);

    fprintf(f, "  ProcessesWithoutExitRecord: %zu%s\n", info->ended_abnormally,
            running ? " (or still running)" : "");
    if (m != NULL && m->have_signal) {
        const char *name = signal_name(m->signal);
        fprintf(f, "  MainProcessEnd: pid %lld, killed by signal %d%s%s%s%s\n", m->pid,
                m->signal, name != NULL ? " (" : "", name != NULL ? name : "",
                name != NULL ? ")" : "", signal_sender(info->status, info->batch_state));
    } else if (m != NULL) {
        fprintf(f, "  MainProcessEnd: pid %lld, exited with status %d but left no exit "
                   "record (a raw exit system call, as Go programs make, or an exit that did "
                   "not wait for the shim's last write)\n", m->pid, m->exit_code);
    }
    if (others > 0)
        fprintf(f, "  OtherProcessesWithoutExitRecord: %zu (%skilled by a signal, crashed or "
                   "ended by a raw exit system call; the database does not say which)\n",
                others, running ? "still running, or " : "");
}

/* The lines after the peak views: unstored readings, ends without a record, the notes. */
static void write_run_notes(FILE *f, const ms_peaks_run_info_t *info)
{
    if (info->unstored > 0) {
        const unsigned long long late = info->unstored - info->unstored_failed;
        fprintf(f, "  Unstored: %llu", info->unstored);
        /* The cause the database shows: a failed write leaves a note, a late tick none. */
        if (info->unstored_failed > 0 && late > 0)
            fprintf(f, " (%llu where writes failed, see the notes; %llu not taken in time or "
                       "held up by a busy database)\n", info->unstored_failed, late);
        else if (info->unstored_failed > 0)
            fputs(" (writes to the database failed; see the notes)\n", f);
        else
            fputs(" (not taken in time or held up by a busy database; no write failed)\n", f);
    }
    if (info->ended_abnormally > 0)
        write_no_exit_record(f, info);
    for (size_t i = 0; i < info->n_notes; i++) {
        const ms_proc_note_t *n = &info->notes[i];
        if (n->processes > 1)
            fprintf(f, "  Note: %zu processes, first pid %lld: ", n->processes, n->pid);
        else
            fprintf(f, "  Note: pid %lld: ", n->pid);
        ms_write_clean(f, n->text, MS_NOTE_TEXT_MAX);
        fputc('\n', f);
    }
    if (info->more_notes > 0)
        fprintf(f, "  Note: %zu more distinct note%s not shown\n", info->more_notes,
                info->more_notes == 1 ? "" : "s");
}

/* This attempt's number: the recorded one, else one after the attempts it replaced. */
static long long attempt_no(const ms_peaks_run_info_t *info)
{
    const long long after = (long long)info->n_earlier + 1;
    return info->attempt > after ? info->attempt : after;
}

/*
 * The lines of a run that --retry-oom ran again (schema 9): which attempt this is, and
 * one line per attempt it replaced, which no figure counts; then how the run was let
 * start, when a scheduling option decided it.
 */
static void write_schedule(FILE *f, const ms_peaks_run_info_t *info, int have_peak,
                           unsigned long long peak_kb)
{
    const long long n = attempt_no(info);
    char what[512], beside[512];

    if (info->orphan) {
        fprintf(f, "  Attempt: %lld, superseded (a later attempt was to replace it after an "
                   "out-of-memory kill, but the database holds none); it counts in no figure\n",
                info->attempt > 0 ? info->attempt : 1);
    } else if (info->n_earlier == 0 && info->attempt > 1) {
        fprintf(f, "  Attempt: %lld (the attempts before it, which the out-of-memory killer "
                   "ended, are not in this database)\n", info->attempt);
    } else if (info->n_earlier > 0) {
        fprintf(f, "  Attempt: %lld of %lld (after %zu attempt%s the out-of-memory killer ended, "
                   "which count%s in no figure)\n",
                n, n, info->n_earlier, info->n_earlier == 1 ? "" : "s",
                info->n_earlier == 1 ? "s" : "");
    }
    for (size_t i = 0; i < info->n_earlier; i++) {
        const ms_peaks_attempt_t *e = &info->earlier[i];
        fprintf(f, "  EarlierAttempt: attempt %lld of %lld, ", e->attempt, n);
        ms_write_clean(f, e->status, 0);
        fputs(", retried; ", f);
        if (e->measured)
            fprintf(f, "PeakRSS_MB %.1f (%s)", mib(e->peak_kb),
                    e->peak_exact  ? "exact"
                    : e->peak_pss ? "estimate: shared pages counted once, by PSS"
                                  : "lower bound");
        else
            fputs("no memory sample", f);
        fprintf(f, ", %zu process%s, %zu sample%s", e->n_processes,
                e->n_processes == 1 ? "" : "es", e->n_samples, e->n_samples == 1 ? "" : "s");
        if (e->admission != NULL) {
            ms_sched_admission_text(e->admission, info->sweep_start_ns, e->measured,
                                    e->peak_kb, what, sizeof what, beside, sizeof beside);
            fprintf(f, "; admitted: %s", what);
        }
        fputc('\n', f);
    }
    if (info->admission != NULL) {
        ms_sched_admission_text(info->admission, info->sweep_start_ns, have_peak, peak_kb, what,
                                sizeof what, beside, sizeof beside);
        fprintf(f, "  Admission: %s\n", what);
        fprintf(f, "  AdmittedBeside: %s\n", beside);
    }
}

void ms_peaks_write_run(FILE *f, const ms_peaks_run_info_t *info, const ms_run_peaks_t *p,
                        const char *frames)
{
    fprintf(f, "Run %lld", info->seq);
    if (info->label != NULL && info->label[0] != '\0') {
        fputs(": ", f);
        ms_write_clean(f, info->label, 0);
    }
    fputc('\n', f);
    fputs("  Status: ", f);
    ms_write_clean(f, info->status, 0);
    fputs(info->status_known ? "\n" : " (unknown; counted as failed)\n", f);
    if (info->batch_state != NULL) {
        fputs("  BatchState: ", f);
        ms_write_clean(f, info->batch_state, 0);
        fputc('\n', f);
    }
    write_schedule(f, info, ms_peaks_run_compared(info), ms_run_peaks_best_kb(p));
    fprintf(f, "  Processes: %zu\n", info->n_processes);
    if (info->not_measured != NULL) {
        fputs("  NotMeasured: ", f);
        ms_write_clean(f, info->not_measured, 0);
        fputc('\n', f);
        fprintf(f, "  Samples: %zu (run not measured; not compared)\n", info->n_samples);
    } else if (info->n_samples == 0) {
        fputs("  Samples: 0 (no memory sample; not compared)\n", f);
    } else {
        const unsigned long long true_kb = ms_run_peaks_best_kb(p);
        fprintf(f, "  Samples: %zu (start %zu, tick %zu, end %zu, alloc %zu, release %zu",
                info->n_samples, p->kinds[MS_SAMPLE_START], p->kinds[MS_SAMPLE_TICK],
                p->kinds[MS_SAMPLE_END], p->kinds[MS_SAMPLE_ALLOC], p->kinds[MS_SAMPLE_RELEASE]);
        if (p->kinds[MS_SAMPLE_GROWTH] > 0)
            fprintf(f, ", growth %zu", p->kinds[MS_SAMPLE_GROWTH]);
        if (p->kinds[MS_SAMPLE_EXEC] > 0)
            fprintf(f, ", exec %zu", p->kinds[MS_SAMPLE_EXEC]);
        if (p->kinds[MS_SAMPLE_OTHER] > 0)
            fprintf(f, ", other %zu", p->kinds[MS_SAMPLE_OTHER]);
        fputs(")\n", f);
        fprintf(f, "  PeriodicPeakRSS_MB: %.1f\n", mib(p->periodic_kb));
        fprintf(f, "  AllSamplesPeakRSS_MB: %.1f%s\n", mib(p->all_kb),
                p->pss_used ? " (pages shared between processes counted once, by PSS)" : "");
        if (p->pss_used)
            fprintf(f, "  RSSSumPeak_MB: %.1f (shared pages counted in every process)\n",
                    mib(p->rss_sum_kb));
        if (p->hwm_alive > 1)
            fprintf(f, "  VmHWM_MB: %.1f (upper bound, %zu processes alive at once)\n",
                    mib(p->hwm_sum_kb), p->hwm_alive);
        else
            fprintf(f, "  VmHWM_MB: %.1f\n", mib(p->hwm_sum_kb));
        switch (p->wait4) {
        case MS_WAIT4_ABOVE:
            fprintf(f, "  Wait4MaxRSS_MB: %.1f\n", mib(p->wait4_kb));
            break;
        case MS_WAIT4_AT_FLOOR:
            fprintf(f,
                    "  Wait4MaxRSS_MB: %.1f (not above the launcher's floor of %.1f; "
                    "not used)\n",
                    mib(p->wait4_kb), mib(p->wait4_floor_kb));
            break;
        case MS_WAIT4_NONE:
            fputs("  Wait4MaxRSS_MB: not recorded\n", f);
            break;
        }
        fprintf(f, "  PeakRSS_MB: %.1f (%s)\n", mib(true_kb),
                ms_run_peaks_exact(p) ? "exact"
                : p->pss_used ? "estimate: shared pages counted once, by PSS"
                              : "lower bound");
        fprintf(f, "  PeriodicMissVsAllSamples_Pct: %.1f\n",
                ms_peak_miss_pct(p->all_kb, p->periodic_kb));
        fprintf(f, "  PeriodicMissVsVmHWM_Pct: %.1f\n",
                ms_peak_miss_pct(p->hwm_sum_kb, p->periodic_kb));
        if (p->wait4 == MS_WAIT4_ABOVE)
            fprintf(f, "  PeriodicMissVsWait4_Pct: %.1f\n",
                    ms_peak_miss_pct(p->wait4_kb, p->periodic_kb));
        fprintf(f, "  PeriodicMissVsPeak_Pct: %.1f\n", ms_peak_miss_pct(true_kb, p->periodic_kb));
    }
    fprintf(f, "  AllocTracking: %s\n", tracking_text(p->tracking));
    fprintf(f, "  AllocDropped: %llu (rate limit %llu, full queue %llu)\n", p->dropped,
            p->dropped_rate, p->dropped_queue);
    write_run_notes(f, info);
    if (!p->have_stack) {
        fputs("  PeakStack: none\n", f);
    } else if (frames == NULL) {
        fprintf(f, "  PeakStack: %s sample at %.1f MiB, stack %lld not recorded\n",
                ms_sample_kind_name(p->stack_kind), mib(p->stack_rss_kb), p->stack_id);
    } else {
        const size_t n = count_frames(frames);
        fprintf(f, "  PeakStack: %s sample at %.1f MiB, %zu frame%s\n",
                ms_sample_kind_name(p->stack_kind), mib(p->stack_rss_kb), n, n == 1 ? "" : "s");
        write_frames(f, frames, info->max_frames);
    }
    if (info->blocks != NULL)
        ms_peak_blocks_write(f, info->blocks, info->peak_kb, info->max_frames);
}

/* A count as a JSON integer: sums held at their maximum stay at the largest one. */
static long long json_count(unsigned long long n)
{
    return n > (unsigned long long)INT64_MAX ? INT64_MAX : (long long)n;
}

static void json_frames(FILE *f, const char *frames)
{
    int nfr = 0;

    fputc('[', f);
    while (*frames != '\0') {
        const char *nl = strchr(frames, '\n');
        const size_t n = nl ? (size_t)(nl - frames) : strlen(frames);
        if (n > 0) {
            char line[1024];
            /* A frame longer than the buffer is truncated rather than split. */
            snprintf(line, sizeof line, "%.*s", (int)n, frames);
            if (nfr++ > 0)
                fputc(',', f);
            ms_json_string(f, line);
        }
        frames += n + (nl != NULL);
    }
    fputc(']', f);
}

void ms_peaks_write_run_json(FILE *f, const ms_peaks_run_info_t *info, const ms_run_peaks_t *p,
                             const char *frames)
{
    const int compared = ms_peaks_run_compared(info);
    const unsigned long long true_kb = ms_run_peaks_best_kb(p);
    int first = 1;
    int kfirst = 1;

    ms_json_int(f, &first, "Seq", info->seq);
    ms_json_int(f, &first, "RunId", info->run_id);
    ms_json_str(f, &first, "Label", info->label);
    ms_json_str(f, &first, "Status", info->status);
    ms_json_bool(f, &first, "StatusKnown", info->status_known);
    if (info->batch_state != NULL)
        ms_json_str(f, &first, "BatchState", info->batch_state);
    /*
     * Schema 9, only for a run that has them, so that the output of a sweep run without
     * scheduling options is what it was: the attempts of a run --retry-oom ran again (a
     * superseded attempt that nothing follows: how many attempts the run had is unknown),
     * and how the run was let start.
     */
    if (info->orphan) {
        ms_json_int(f, &first, "Attempt", info->attempt > 0 ? info->attempt : 1);
        ms_json_null(f, &first, "Attempts");
        ms_json_bool(f, &first, "Superseded", 1);
    } else if (info->n_earlier > 0 || info->attempt > 1) {
        ms_json_int(f, &first, "Attempt", attempt_no(info));
        ms_json_int(f, &first, "Attempts", attempt_no(info));
        ms_json_bool(f, &first, "Superseded", 0);
        ms_json_key(f, &first, "EarlierAttempts");
        fputc('[', f);
        for (size_t i = 0; i < info->n_earlier; i++) {
            const ms_peaks_attempt_t *e = &info->earlier[i];
            int efirst = 1;
            if (i > 0)
                fputc(',', f);
            ms_json_int(f, &efirst, "Attempt", e->attempt);
            ms_json_int(f, &efirst, "RunId", e->run_id);
            ms_json_str(f, &efirst, "Status", e->status);
            ms_json_int(f, &efirst, "Processes", (long long)e->n_processes);
            ms_json_int(f, &efirst, "Samples", (long long)e->n_samples);
            if (e->measured) {
                ms_json_dec1(f, &efirst, "PeakRSS_MB", mib(e->peak_kb));
                ms_json_bool(f, &efirst, "PeakRSS_Exact", e->peak_exact);
                ms_json_str(f, &efirst, "PeakRSS_Is",
                            e->peak_exact ? "exact" : e->peak_pss ? "estimate" : "lower bound");
            } else {
                ms_json_null(f, &efirst, "PeakRSS_MB");
                ms_json_null(f, &efirst, "PeakRSS_Exact");
                ms_json_null(f, &efirst, "PeakRSS_Is");
            }
            ms_json_key(f, &efirst, "Admission");
            if (e->admission != NULL)
                ms_sched_admission_write_json(f, e->admission, info->sweep_start_ns,
                                              e->measured, e->peak_kb);
            else
                fputs("null", f);
            fputc('}', f);
        }
        fputc(']', f);
    }
    if (info->admission != NULL) {
        ms_json_key(f, &first, "Admission");
        ms_sched_admission_write_json(f, info->admission, info->sweep_start_ns, compared,
                                      true_kb);
    }
    ms_json_str(f, &first, "NotMeasured", info->not_measured);
    ms_json_int(f, &first, "Processes", (long long)info->n_processes);
    ms_json_int(f, &first, "Samples", (long long)info->n_samples);
    ms_json_bool(f, &first, "Compared", compared);
    ms_json_key(f, &first, "SamplesByKind");
    for (int k = 0; k < MS_SAMPLE_KINDS; k++)
        ms_json_int(f, &kfirst, ms_sample_kind_name((ms_sample_kind_t)k),
                    (long long)p->kinds[k]);
    fputc('}', f);
    if (compared) {
        ms_json_dec1(f, &first, "PeriodicPeakRSS_MB", mib(p->periodic_kb));
        ms_json_dec1(f, &first, "AllSamplesPeakRSS_MB", mib(p->all_kb));
        ms_json_bool(f, &first, "SharedPagesByPSS", p->pss_used);
        if (p->pss_used)
            ms_json_dec1(f, &first, "RSSSumPeak_MB", mib(p->rss_sum_kb));
        else
            ms_json_null(f, &first, "RSSSumPeak_MB");
        ms_json_dec1(f, &first, "VmHWM_MB", mib(p->hwm_sum_kb));
        ms_json_int(f, &first, "VmHWM_Processes", (long long)p->hwm_procs);
        ms_json_int(f, &first, "VmHWM_AliveAtOnce", (long long)p->hwm_alive);
        ms_json_bool(f, &first, "VmHWM_UpperBound", p->hwm_alive > 1);
        if (p->wait4 == MS_WAIT4_NONE) {
            ms_json_null(f, &first, "Wait4MaxRSS_MB");
            ms_json_null(f, &first, "Wait4Floor_MB");
            ms_json_null(f, &first, "Wait4AboveFloor");
        } else {
            ms_json_dec1(f, &first, "Wait4MaxRSS_MB", mib(p->wait4_kb));
            ms_json_dec1(f, &first, "Wait4Floor_MB", mib(p->wait4_floor_kb));
            ms_json_bool(f, &first, "Wait4AboveFloor", p->wait4 == MS_WAIT4_ABOVE);
        }
        ms_json_dec1(f, &first, "PeakRSS_MB", mib(true_kb));
        ms_json_bool(f, &first, "PeakRSS_Exact", ms_run_peaks_exact(p));
        ms_json_dec1(f, &first, "PeriodicMissVsAllSamples_Pct",
                     ms_peak_miss_pct(p->all_kb, p->periodic_kb));
        ms_json_dec1(f, &first, "PeriodicMissVsVmHWM_Pct",
                     ms_peak_miss_pct(p->hwm_sum_kb, p->periodic_kb));
        if (p->wait4 == MS_WAIT4_ABOVE)
            ms_json_dec1(f, &first, "PeriodicMissVsWait4_Pct",
                         ms_peak_miss_pct(p->wait4_kb, p->periodic_kb));
        else
            ms_json_null(f, &first, "PeriodicMissVsWait4_Pct");
        ms_json_dec1(f, &first, "PeriodicMissVsPeak_Pct",
                     ms_peak_miss_pct(true_kb, p->periodic_kb));
    } else {
        static const char *const keys[] = {
            "PeriodicPeakRSS_MB",           "AllSamplesPeakRSS_MB",
            "VmHWM_MB",                     "VmHWM_Processes",
            "VmHWM_AliveAtOnce",            "VmHWM_UpperBound",
            "Wait4MaxRSS_MB",               "Wait4Floor_MB",
            "Wait4AboveFloor",              "PeakRSS_MB",
            "PeakRSS_Exact",
            "PeriodicMissVsAllSamples_Pct", "PeriodicMissVsVmHWM_Pct",
            "PeriodicMissVsWait4_Pct",      "PeriodicMissVsPeak_Pct",
        };
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            ms_json_null(f, &first, keys[i]);
    }
    if (p->tracking == MS_TRACKING_UNKNOWN)
        ms_json_null(f, &first, "AllocTracking");
    else
        ms_json_bool(f, &first, "AllocTracking", p->tracking == MS_TRACKING_ON);
    ms_json_int(f, &first, "AllocDropped", json_count(p->dropped));
    ms_json_int(f, &first, "AllocDroppedRate", json_count(p->dropped_rate));
    ms_json_int(f, &first, "AllocDroppedQueue", json_count(p->dropped_queue));
    ms_json_int(f, &first, "Unstored", json_count(info->unstored));
    ms_json_int(f, &first, "UnstoredWriteFailed", json_count(info->unstored_failed));
    ms_json_int(f, &first, "ProcessesWithoutExitRecord", (long long)info->ended_abnormally);
    if (info->main_end == NULL) {
        ms_json_null(f, &first, "MainProcessEnd");
    } else {
        int mfirst = 1;
        ms_json_key(f, &first, "MainProcessEnd");
        ms_json_int(f, &mfirst, "Pid", info->main_end->pid);
        if (info->main_end->have_signal) {
            ms_json_int(f, &mfirst, "Signal", info->main_end->signal);
            ms_json_null(f, &mfirst, "ExitCode");
        } else {
            ms_json_null(f, &mfirst, "Signal");
            ms_json_int(f, &mfirst, "ExitCode", info->main_end->exit_code);
        }
        fputc('}', f);
    }
    ms_json_int(f, &first, "OtherProcessesWithoutExitRecord",
                (long long)(info->ended_abnormally - (info->main_end != NULL ? 1 : 0)));
    ms_json_key(f, &first, "Notes");
    fputc('[', f);
    for (size_t i = 0; i < info->n_notes; i++) {
        int nfirst = 1;
        if (i > 0)
            fputc(',', f);
        ms_json_str(f, &nfirst, "Note", info->notes[i].text);
        ms_json_int(f, &nfirst, "Pid", info->notes[i].pid);
        ms_json_int(f, &nfirst, "Processes", (long long)info->notes[i].processes);
        fputc('}', f);
    }
    fputc(']', f);
    ms_json_int(f, &first, "NotesNotShown", (long long)info->more_notes);
    if (!p->have_stack) {
        ms_json_null(f, &first, "PeakStack");
    } else {
        int sfirst = 1;
        ms_json_key(f, &first, "PeakStack");
        ms_json_str(f, &sfirst, "Kind", ms_sample_kind_name(p->stack_kind));
        ms_json_dec1(f, &sfirst, "RSS_MB", mib(p->stack_rss_kb));
        ms_json_int(f, &sfirst, "T_ns", (long long)p->stack_t_ns);
        ms_json_int(f, &sfirst, "StackId", p->stack_id);
        ms_json_key(f, &sfirst, "Frames");
        if (frames == NULL)
            fputs("null", f);
        else
            json_frames(f, frames);
        if (info->frames_named != NULL) {
            ms_json_key(f, &sfirst, "Symbolized");
            json_frames(f, info->frames_named);
        }
        fputc('}', f);
    }
    if (info->blocks != NULL) {
        ms_json_key(f, &first, "LargeBlocks");
        ms_peak_blocks_write_json(f, info->blocks, info->peak_kb);
    }
    fputc('}', f);
}

void ms_peaks_write_summary(FILE *f, size_t runs_total, const ms_peak_summary_t *s,
                            const ms_db_report_t *report)
{
    static const ms_db_report_t none;
    char text[1024];

    if (report == NULL)
        report = &none;
    fputs("Summary\n", f);
    fprintf(f, "RunsTotal: %zu\n", runs_total);
    fprintf(f, "RunsCompared: %zu\n", s->runs);
    if (s->retried_attempts > 0) {
        fprintf(f, "RetriedAfterOOM_Runs: %zu\n", s->retried_runs);
        fprintf(f, "RetriedAfterOOM_Attempts: %zu\n", s->retried_attempts);
    }
    fprintf(f, "ProcessesWithoutExitRecord: %zu", report->ended_abnormally);
    if (report->ended_abnormally_running > 0)
        fprintf(f, " (%zu in runs still running)", report->ended_abnormally_running);
    fputc('\n', f);
    fprintf(f, "MainProcessesWithoutExitRecord: %zu\n", report->ended_abnormally_main);
    fprintf(f, "Unstored: %llu\n", report->unstored);
    ms_peak_summary_write(f, s);
    fprintf(f, "RunsWithWait4Peak: %zu\n", s->wait4_runs);
    fprintf(f, "SamplesMissOver%gPctVsWait4_Runs: %zu\n", MS_PEAK_MISS_PCT_SMALL,
            s->wait4_missed);
    ms_db_report_write(f, report);
    for (size_t i = 0; ms_db_report_note(report, i, text, sizeof text) == 0; i++)
        fprintf(f, "Note: %s\n", text);
}

void ms_peaks_write_summary_json(FILE *f, size_t runs_total, const ms_peak_summary_t *s,
                                 const ms_db_report_t *report)
{
    static const ms_db_report_t none;
    char text[1024];
    int first = 1;

    if (report == NULL)
        report = &none;
    ms_json_int(f, &first, "RunsTotal", (long long)runs_total);
    ms_json_int(f, &first, "RunsCompared", (long long)s->runs);
    if (s->retried_attempts > 0) {
        ms_json_int(f, &first, "RetriedAfterOOM_Runs", (long long)s->retried_runs);
        ms_json_int(f, &first, "RetriedAfterOOM_Attempts", (long long)s->retried_attempts);
    }
    ms_json_int(f, &first, "ProcessesWithoutExitRecord", (long long)report->ended_abnormally);
    ms_json_int(f, &first, "ProcessesWithoutExitRecordInRunningRuns",
                (long long)report->ended_abnormally_running);
    ms_json_int(f, &first, "MainProcessesWithoutExitRecord",
                (long long)report->ended_abnormally_main);
    ms_peak_summary_write_json(f, &first, s, 1);
    ms_json_int(f, &first, "RunsWithWait4Peak", (long long)s->wait4_runs);
    {
        char key[64];
        snprintf(key, sizeof key, "SamplesMissOver%gPctVsWait4_Runs", MS_PEAK_MISS_PCT_SMALL);
        ms_json_int(f, &first, key, (long long)s->wait4_missed);
    }
    ms_db_report_write_json(f, &first, report);
    ms_json_key(f, &first, "Notes");
    fputc('[', f);
    for (size_t i = 0; ms_db_report_note(report, i, text, sizeof text) == 0; i++) {
        if (i > 0)
            fputc(',', f);
        ms_json_string(f, text);
    }
    fputs("]}", f);
}
