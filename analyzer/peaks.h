/*
 * Three views of a run's peak RSS and how far the periodic sampler falls short of them
 * (docs/advisory.md, "Periodic versus allocation-driven peaks"):
 *
 *   periodic peak     the run's peak from start, tick and end samples only;
 *   all-samples peak  the same from every sample, allocation-driven ones included;
 *   kernel VmHWM      the largest sum of VmHWM over the run's processes alive at one
 *                     moment: exact when one process is alive at a time, an upper bound
 *                     when several are.
 *
 *   wait4             ru_maxrss of the run's main process as the launcher reaped it, above
 *                     the launcher's floor: the kernel's peak of the largest single process
 *                     among the main process and the descendants it reaped, killed or not.
 *
 * Misses are measured against the advisory's peak of the run (ms_run_peaks_best_kb),
 * which is exact for a single process the kernel reported on and a lower bound
 * otherwise. Pure computation and rendering; sweepread.c fills the per-run figures in its
 * one pass over the samples.
 */
#ifndef MS_ANALYZER_PEAKS_H
#define MS_ANALYZER_PEAKS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dbreport.h"
#include "memsweep/schema.h"
#include "schedule.h"

/* samples.kind as the analyzer classifies it; OTHER is any kind this version does not know. */
typedef enum ms_sample_kind {
    MS_SAMPLE_START = 0,
    MS_SAMPLE_TICK,
    MS_SAMPLE_END,
    MS_SAMPLE_ALLOC,
    MS_SAMPLE_RELEASE,
    MS_SAMPLE_GROWTH, /* schema 6: while RSS kept rising after an alloc sample */
    MS_SAMPLE_EXEC,   /* schema 6: just before the image called exec */
    MS_SAMPLE_OTHER,
    MS_SAMPLE_KINDS /* number of kinds, not a kind */
} ms_sample_kind_t;

/* Whether s is exactly word; stops at the first difference, never reading past s's end. */
static inline int ms__kind_is(const char *s, const char *word)
{
    while (*word != '\0' && *s == *word) {
        s++;
        word++;
    }
    return *word == '\0' && *s == '\0';
}

/*
 * Classifies a samples.kind value; NULL and unknown values are MS_SAMPLE_OTHER. Inline
 * because it runs once for every sample of a sweep.
 */
static inline ms_sample_kind_t ms_sample_kind_of(const char *kind)
{
    if (kind == NULL)
        return MS_SAMPLE_OTHER;
    switch (kind[0]) {
    case 't':
        return ms__kind_is(kind, MS_KIND_TICK) ? MS_SAMPLE_TICK : MS_SAMPLE_OTHER;
    case 's':
        return ms__kind_is(kind, MS_KIND_START) ? MS_SAMPLE_START : MS_SAMPLE_OTHER;
    case 'e':
        if (ms__kind_is(kind, MS_KIND_EXEC))
            return MS_SAMPLE_EXEC;
        return ms__kind_is(kind, MS_KIND_END) ? MS_SAMPLE_END : MS_SAMPLE_OTHER;
    case 'g':
        return ms__kind_is(kind, MS_KIND_GROWTH) ? MS_SAMPLE_GROWTH : MS_SAMPLE_OTHER;
    case 'a':
        return ms__kind_is(kind, MS_KIND_ALLOC) ? MS_SAMPLE_ALLOC : MS_SAMPLE_OTHER;
    case 'r':
        return ms__kind_is(kind, MS_KIND_RELEASE) ? MS_SAMPLE_RELEASE : MS_SAMPLE_OTHER;
    default:
        return MS_SAMPLE_OTHER;
    }
}

/* The kind's name as stored ("start", ...), or "other" for MS_SAMPLE_OTHER. */
const char *ms_sample_kind_name(ms_sample_kind_t kind);

/* Start, tick and end: the samples of the periodic sampler (and of exit). */
static inline int ms_sample_kind_is_periodic(ms_sample_kind_t kind)
{
    return kind == MS_SAMPLE_START || kind == MS_SAMPLE_TICK || kind == MS_SAMPLE_END;
}

/*
 * Alloc, release and growth: the samples taken because of the program's own allocations
 * (growth ones follow an alloc sample).
 */
static inline int ms_sample_kind_is_alloc(ms_sample_kind_t kind)
{
    return kind == MS_SAMPLE_ALLOC || kind == MS_SAMPLE_RELEASE || kind == MS_SAMPLE_GROWTH;
}

/* Allocation tracking of a run as its processes recorded it. */
typedef enum ms_tracking {
    MS_TRACKING_UNKNOWN = -1, /* no process recorded it (schema version 1, or NULL) */
    MS_TRACKING_OFF = 0,      /* every process that recorded it had it off */
    MS_TRACKING_ON = 1        /* at least one process had it on */
} ms_tracking_t;

/* What the launcher's wait4() said about the run's peak (runs.maxrss_kb). */
typedef enum ms_wait4 {
    MS_WAIT4_NONE = 0,   /* not recorded: no launcher reaped it, or schema before 4 */
    MS_WAIT4_ABOVE,      /* above the launcher's floor: a process of the run's exact peak */
    MS_WAIT4_AT_FLOOR    /* at or below the floor: only "no process went above it" */
} ms_wait4_t;

/* The peak views of one run, in KiB. Only processes with at least one sample count. */
typedef struct ms_run_peaks {
    unsigned long long periodic_kb; /* sum-over-alive peak of start/tick/end samples */
    unsigned long long all_kb;      /* sum-over-alive peak of all samples */
    /*
     * With processes alive at once whose readings had PSS (schema 6): all_kb and
     * periodic_kb count the pages they shared once (see docs/advisory.md), and
     * rss_sum_kb is the all-samples peak that counts them in every process.
     */
    int pss_used;
    unsigned long long rss_sum_kb;
    unsigned long long hwm_max_kb;  /* largest single process VmHWM */
    unsigned long long hwm_sum_kb;  /* largest sum of VmHWM over processes alive at once */
    size_t hwm_alive;               /* how many processes make that sum */
    size_t hwm_procs;               /* processes with a VmHWM figure */
    size_t rows;                    /* process rows of the run, with samples or not */
    size_t procs;                   /* processes with samples */
    size_t exit_hwm_procs;          /* ... of which with VmHWM in an exit record */
    int overlap;                    /* two of them were alive at once */
    ms_wait4_t wait4;
    unsigned long long wait4_kb;    /* ru_maxrss of the main process and what it reaped */
    unsigned long long wait4_floor_kb; /* the launcher's floor under it */
    size_t kinds[MS_SAMPLE_KINDS];  /* samples counted by kind */
    unsigned long long dropped;       /* allocation-driven samples dropped, in total */
    unsigned long long dropped_rate;  /* ... of which by the rate limit */
    unsigned long long dropped_queue; /* ... of which by a full queue */
    ms_tracking_t tracking;
    int have_stack;                 /* an alloc/release sample with a stack exists */
    ms_sample_kind_t stack_kind;    /* that sample's kind */
    long long stack_id;             /* its stacks.stack_id */
    unsigned long long stack_rss_kb; /* its RSS: the largest among such samples */
    int64_t stack_t_ns;             /* its time */
} ms_run_peaks_t;

/* One process's life and VmHWM, for ms_hwm_concurrent. */
typedef struct ms_hwm_span {
    int64_t start_ns;
    int64_t end_ns;             /* exclusive; a span no longer than an instant lasts 1 ns */
    unsigned long long hwm_kb;
} ms_hwm_span_t;

/*
 * The largest sum of hwm_kb over the spans alive at one moment, and in *alive how many
 * spans make it (the first such moment). A span that ends when another starts is not
 * alive with it. Each process's RSS never exceeds its VmHWM, so this bounds the run's
 * concurrent RSS from above, and is exact when spans never overlap. Sorts spans; each
 * hwm_kb is at most MS_KB_LIMIT, so the sums are exact for up to 2^22 spans alive at once.
 */
unsigned long long ms_hwm_concurrent(ms_hwm_span_t *spans, size_t n, size_t *alive);

/*
 * The run's peak as memsweep reports it: the largest of the all-samples peak, the largest
 * single process's VmHWM and wait4's ru_maxrss where it is above the launcher's floor.
 * Each is a figure the run reached, so the result is never above the run's real peak.
 */
unsigned long long ms_run_peaks_best_kb(const ms_run_peaks_t *p);

/*
 * Whether that peak is exact: every process row of the run has samples, they were alive
 * one at a time, each has the kernel's VmHWM in its exit record, and wait4's figure is not
 * above the largest of them (a larger one is a process the shim did not see, a statically
 * linked child for one, which may have run beside the others). Otherwise it is a lower
 * bound: a process killed or exec'd without an exit record, processes alive together
 * (whose concurrent peak the samples see only at their instants), or an unseen one.
 */
int ms_run_peaks_exact(const ms_run_peaks_t *p);

/*
 * How far the periodic peak falls short of a view, in percent of the view:
 * (view - periodic) / view * 100, and 0 when the view is 0. Negative when the periodic
 * view reads higher (possible with several processes, see docs/advisory.md).
 */
double ms_peak_miss_pct(unsigned long long view_kb, unsigned long long periodic_kb);

/*
 * Whether the periodic peak falls short of the view by more than pct percent, decided
 * without rounding: exactly pct percent is not more than pct.
 */
int ms_peak_miss_exceeds(unsigned long long view_kb, unsigned long long periodic_kb, double pct);

/* The summary over the runs with samples, as `peaks` and the advisory print it. */
typedef struct ms_peak_summary {
    size_t runs;           /* runs compared: those with at least one sample */
    size_t over_small;     /* runs missing the peak by > MS_PEAK_MISS_PCT_SMALL % */
    size_t over_large;     /* runs missing the peak by > MS_PEAK_MISS_PCT_LARGE % */
    double largest_pct;    /* largest shortfall against the peak, never below 0 */
    int have_largest_run;  /* largest_pct > 0, so a run attains it */
    long long largest_seq; /* the first such run's seq */
    size_t wait4_runs;     /* runs with a wait4 figure above the floor */
    size_t wait4_missed;   /* ... whose samples all fell short of it by > MS_PEAK_MISS_PCT_SMALL % */
    size_t pss_runs;       /* runs whose figures counted shared pages once, by PSS */
    /*
     * Schema 9, --retry-oom: runs whose attempt followed superseded ones, and those
     * attempts. Set by ms_sweep_peak_summary; only `peaks`' summary prints them (the
     * advisory has its own lines).
     */
    size_t retried_runs;
    size_t retried_attempts;
} ms_peak_summary_t;

void ms_peak_summary_init(ms_peak_summary_t *s);

/* Adds a run with samples; call in seq order so that ties name the first run. */
void ms_peak_summary_add(ms_peak_summary_t *s, long long seq, const ms_run_peaks_t *p);

/*
 * Writes the summary's Key: Value lines, which the advisory's post-run section also
 * carries: the two threshold counts always, LargestPeriodicMiss_Pct when a run was
 * compared, LargestPeriodicMiss_Run when some run missed at all, and
 * SharedPagesByPSS_Runs when some run's figures counted shared pages once.
 */
void ms_peak_summary_write(FILE *f, const ms_peak_summary_t *s);

/*
 * Writes the same figures as keys of an open JSON object (see jsonw.h). Absent figures
 * are omitted, or written as null when nulls is set.
 */
void ms_peak_summary_write_json(FILE *f, int *first, const ms_peak_summary_t *s, int nulls);

/* The longest note text the text output shows, in bytes; longer ones end in "...". */
#define MS_NOTE_TEXT_MAX 200

/* A note the shim left on processes of a run (processes.note), with how many share it. */
typedef struct ms_proc_note {
    char *text;
    long long pid;    /* the first process with it */
    size_t processes; /* processes of the run with it */
} ms_proc_note_t;

/*
 * How a run's main process ended when it left no exit record of its own, as the run's row
 * says (runs.term_signal or runs.exit_code, from the launcher's wait()).
 */
typedef struct ms_main_end {
    long long pid;
    int have_signal; /* killed by signal; otherwise it exited with exit_code */
    int signal;
    int exit_code;
} ms_main_end_t;

/* An attempt of a run that a later attempt replaced (schema 9, --retry-oom). */
typedef struct ms_peaks_attempt {
    long long run_id;
    long long attempt;         /* its number among the run's attempts, from 1 */
    const char *status;
    size_t n_processes;
    size_t n_samples;
    int measured;              /* it has a sample and was not marked not measured */
    unsigned long long peak_kb;
    int peak_exact;
    int peak_pss;              /* not exact: an estimate by PSS (else a lower bound) */
    const ms_sched_admission_t *admission; /* NULL: none recorded */
} ms_peaks_attempt_t;

/* What `peaks` prints about a run besides its peak views. */
typedef struct ms_peaks_run_info {
    long long seq;
    long long run_id;
    const char *label;  /* NULL when the run has none */
    const char *status;
    int status_known;   /* status is one this version knows */
    const char *batch_state; /* what the batch system said of its end (schema 7), or NULL */
    size_t max_frames;  /* frames of PeakStack shown in text; 0: all of them */
    const char *not_measured; /* why no process of the run reported, or NULL */
    size_t n_processes;
    size_t n_samples;
    size_t ended_abnormally;  /* processes without an exit record or exec successor */
    const ms_main_end_t *main_end; /* the main process is among them, and how it ended is
                                    * known; NULL otherwise */
    unsigned long long unstored; /* readings due but not stored */
    unsigned long long unstored_failed; /* ... of processes whose writes failed (a note) */
    const ms_proc_note_t *notes; /* n_notes notes, and more_notes not shown */
    size_t n_notes;
    size_t more_notes;
    const char *frames_named; /* PeakStack's frames symbolized, for JSON; NULL: not given */
    const struct ms_peak_blocks *blocks; /* the large blocks at its peak; NULL: not read */
    unsigned long long peak_kb;          /* the run's peak, which they are a share of */
    /*
     * Schema 9. attempt: this attempt's number (0 or 1: the first); earlier: the
     * attempts of the run that this one replaced, in order; orphan: this is itself a
     * superseded attempt that no attempt in the database follows. admission: how the run
     * was let start (NULL: not under a scheduling option), placed in time from
     * sweep_start_ns (0: unknown).
     */
    long long attempt;
    const ms_peaks_attempt_t *earlier;
    size_t n_earlier;
    int orphan;
    const ms_sched_admission_t *admission;
    int64_t sweep_start_ns;
} ms_peaks_run_info_t;

/*
 * Whether a run takes part in the comparison: it has samples and was not marked as not
 * measured.
 */
int ms_peaks_run_compared(const ms_peaks_run_info_t *info);

/*
 * Writes one run's block of `memsweep peaks`; frames is the heaviest allocation-driven
 * peak's stack (stacks.frames, one frame per line), or NULL when it was not found.
 */
void ms_peaks_write_run(FILE *f, const ms_peaks_run_info_t *info, const ms_run_peaks_t *p,
                        const char *frames);

/* Writes the same run as one JSON object (no separator, no newline). */
void ms_peaks_write_run_json(FILE *f, const ms_peaks_run_info_t *info, const ms_run_peaks_t *p,
                             const char *frames);

/*
 * Writes the closing summary of `memsweep peaks`: its title, run counts, processes that
 * ended abnormally, unstored readings and summary lines, then what the database report
 * has to say (NULL: nothing).
 */
void ms_peaks_write_summary(FILE *f, size_t runs_total, const ms_peak_summary_t *s,
                            const ms_db_report_t *report);

/* Writes the summary as the JSON object of the "summary" key, with null for absent figures. */
void ms_peaks_write_summary_json(FILE *f, size_t runs_total, const ms_peak_summary_t *s,
                                 const ms_db_report_t *report);

#endif
