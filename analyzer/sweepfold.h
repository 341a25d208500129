/*
 * Private to the analyzer's sweep reader: the per-process fold of samples and the
 * reduction of each run's processes to its end and peak RSS and its peak views. Pure
 * code on decoded rows (sweepdecode.c reads and checks them), so unit tests call it on
 * arrays (tests/unit/test_sweepfold.c).
 */
#ifndef MS_ANALYZER_SWEEPFOLD_H
#define MS_ANALYZER_SWEEPFOLD_H

#include <stddef.h>
#include <stdint.h>

#include "peaks.h"
#include "sweepread.h"

/* Per-process figures folded from the samples scan. */
typedef struct ms__proc_fold {
    long long proc_id;
    size_t run_index;
    long long pid;
    int64_t started_ns;
    int have_ended;         /* processes.ended_ns is a usable time */
    int64_t ended_ns;
    int64_t eff_end_ns;     /* ended_ns, or the next image's start after exec, or last sample */
    int execd;              /* replaced by the next image of its pid (exec) */
    int recheck;            /* a sample came no later than one before it: look for duplicates */
    unsigned long long col_hwm_kb;
    size_t n_samples;
    int64_t first_t;
    int64_t last_t;
    unsigned long long last_rss;
    int64_t last_tick_t;            /* the latest tick sample, if any */
    unsigned long long last_tick_rss;
    unsigned long long tail_release_rss; /* largest release sample since the last tick */
    /*
     * The largest tick or release sample in each of the two latest interval-long buckets
     * of time (bucket = t_ns / interval): what the process held in its last intervals.
     */
    int64_t tail_bucket[2];
    unsigned long long tail_rss[2];
    int64_t exec_t;                 /* the latest exec sample, if any (kinds[EXEC] > 0) */
    unsigned long long exec_hwm;    /* its VmHWM, 0 when absent */
    int have_end_sample;            /* an end sample exists; end_rss is the latest one's */
    int64_t end_t;
    unsigned long long end_rss;
    unsigned long long max_rss;
    unsigned long long max_hwm;
    unsigned long long max_rss_periodic; /* largest RSS among start, tick and end samples */
    size_t kinds[MS_SAMPLE_KINDS];
    int have_stack;                      /* heaviest alloc/release sample with a stack: */
    ms_sample_kind_t stack_kind;
    long long stack_id;
    unsigned long long stack_rss;
    int64_t stack_t;
    ms_tracking_t tracking;              /* processes.alloc_tracking */
    unsigned long long dropped, dropped_rate, dropped_queue;
    unsigned long long unstored;
    int has_note;                        /* processes.note is set: a write of it failed */
} ms__proc_fold_t;

/* One usable sample, as sweepdecode.c checks it. */
typedef struct ms__sample_row {
    int64_t t;
    unsigned long long rss;
    long long hwm;        /* -1 when absent or ignored */
    long long shared;     /* pages shared with other processes by its PSS; -1 unread (v6) */
    ms_sample_kind_t kind;
    uint64_t kind_hash;   /* FNV-1a of the kind's text, which tells unknown kinds apart */
    int have_stack;
    long long stack_id;
} ms__sample_row_t;

/* Processes sorted by (run_index, started_ns, proc_id), as indexes into the fold array. */
typedef struct ms__proc_order {
    size_t run_index;
    int64_t started_ns;
    long long proc_id;
    size_t fold;
} ms__proc_order_t;

/* Makes room for one more element in a growable array of elements of size sz. */
int ms__grow(void **v, size_t *cap, size_t n, size_t sz, size_t first);

/*
 * Folds one usable sample into its process. interval_ms is the sweep's sampling interval
 * (MS_DEFAULT_INTERVAL_MS when not positive): the width of the buckets in which the
 * process's last readings before its exit are kept. Samples may come in any order; one
 * that is no later than the one before it marks the process for ms__fold_drop_duplicates.
 */
void ms__fold_sample(ms__proc_fold_t *p, const ms__sample_row_t *s, long long interval_ms);

/*
 * Takes exact duplicates (the same time, kind, RSS and VmHWM) among the n samples v of
 * process p (all of them, as the scan folded them; v is sorted here) out of its counts,
 * counting each in bad[MS_BAD_SAMPLE_DUP]. Duplicates change no peak, sum or end: the
 * same reading twice is the same reading.
 */
void ms__fold_drop_duplicates(ms__proc_fold_t *p, ms__sample_row_t *v, size_t n, size_t *bad);

/*
 * Sets *order to a new array (the caller frees it) of the n processes sorted by run,
 * start time and proc_id: each run's processes are then one slice of it. 0 or -ENOMEM.
 */
int ms__fold_order(const ms__proc_fold_t *procs, size_t n, ms__proc_order_t **order);

/*
 * Reduces the count (at least one) processes of one run, the slice order of the array
 * ms__fold_order made, into *run: effective ends (a process that exec'd ends where its
 * next image starts, within interval_ms and a grace second of its last sample), abnormal
 * ends, unstored readings, the peak views, and, when the processes never overlap in
 * time, the end and peak RSS. Returns 0 when *run is complete, 1 when the processes
 * overlap and ms__run_merge must finish it with their samples, or -ENOMEM.
 */
int ms__run_reduce(ms__proc_fold_t *procs, const ms__proc_order_t *order, size_t count,
                   long long interval_ms, ms_run_mem_t *run);

/*
 * Finishes a run that ms__run_reduce left to it: the time-ordered merge of the samples
 * of its processes, the run's RSS from all samples (its peak and end) and from the
 * periodic samples alone (the periodic peak). rows[first[k]] to rows[first[k + 1] - 1]
 * are the usable samples of process order[k] in time order (none for a process without
 * samples). Returns 0 or -ENOMEM.
 */
int ms__run_merge(const ms__proc_fold_t *procs, const ms__proc_order_t *order, size_t count,
                  const ms__sample_row_t *rows, const size_t *first, long long interval_ms,
                  ms_run_mem_t *run);

/* The report's per-sweep figures, from the runs in seq order. */
void ms__sweep_fill_report(ms_sweep_data_t *out);

#endif
