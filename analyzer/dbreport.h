/*
 * What a sweep database could not give the figures, counted while it is read and told
 * after them (docs/advisory.md, "Damaged databases"): rows that were skipped and why,
 * values that were ignored (read as absent), runs that were not measured and why, run
 * statuses this version does not know, readings the shim took but could not store, and
 * processes that ended without an exit record. Pure counting and rendering; sweepread.c
 * fills it, the advisory and `memsweep peaks` print it.
 */
#ifndef MS_ANALYZER_DBREPORT_H
#define MS_ANALYZER_DBREPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Plausibility limits. A size above MS_KB_LIMIT (4 PiB, the most physical memory a
 * 52-bit address space can hold) or a time outside [1970, 2100) cannot be a reading, and
 * keeping every accepted figure below these keeps all sums of them far from overflow.
 */
#define MS_KB_LIMIT (1LL << 42)
#define MS_NS_LIMIT 4102444800000000000LL /* 2100-01-01T00:00:00Z */
#define MS_COUNT_LIMIT (1LL << 48)        /* drop and unstored counts of one process */

/* Where a problem was found: a skipped row of a table, or an ignored value. */
typedef enum ms_bad_where {
    MS_BAD_RUNS = 0,
    MS_BAD_PROCESSES,
    MS_BAD_SAMPLES,
    MS_BAD_VALUES, /* the row was kept, the value read as absent */
    MS_BAD_WHERE_COUNT
} ms_bad_where_t;

/* Every reason, with where it applies and how it is printed. */
#define MS_BAD_LIST(X)                                                                       \
    X(RUN_ID, RUNS, "run_id not a whole number")                                             \
    X(RUN_ID_DUP, RUNS, "duplicate run_id")                                                  \
    X(RUN_SEQ_NULL, RUNS, "NULL seq")                                                        \
    X(RUN_SEQ, RUNS, "seq not a whole number")                                               \
    X(RUN_OTHER_SWEEP, RUNS, "of another sweep")                                             \
    X(PROC_ID, PROCESSES, "proc_id not a whole number")                                      \
    X(PROC_ID_DUP, PROCESSES, "duplicate proc_id")                                           \
    X(PROC_RUN, PROCESSES, "run_id not a whole number")                                      \
    X(PROC_NO_RUN, PROCESSES, "no such run")                                                 \
    X(PROC_RUN_SKIPPED, PROCESSES, "run skipped")                                            \
    X(PROC_PID_NULL, PROCESSES, "NULL pid")                                                  \
    X(PROC_PID, PROCESSES, "pid not a whole number")                                         \
    X(PROC_START_NULL, PROCESSES, "NULL started_ns")                                         \
    X(PROC_START, PROCESSES, "started_ns not a whole number")                                \
    X(PROC_START_EARLY, PROCESSES, "started_ns before 1970")                                 \
    X(PROC_START_LATE, PROCESSES, "started_ns after 2099")                                   \
    X(SAMPLE_PROC, SAMPLES, "proc_id not a whole number")                                    \
    X(SAMPLE_NO_PROC, SAMPLES, "no such process")                                            \
    X(SAMPLE_PROC_SKIPPED, SAMPLES, "process skipped")                                       \
    X(SAMPLE_T_NULL, SAMPLES, "NULL t_ns")                                                   \
    X(SAMPLE_T, SAMPLES, "t_ns not a whole number")                                          \
    X(SAMPLE_T_EARLY, SAMPLES, "t_ns before 1970")                                           \
    X(SAMPLE_T_LATE, SAMPLES, "t_ns after 2099")                                             \
    X(SAMPLE_RSS_NULL, SAMPLES, "NULL rss_kb")                                               \
    X(SAMPLE_RSS, SAMPLES, "rss_kb not a whole number")                                      \
    X(SAMPLE_RSS_NEGATIVE, SAMPLES, "negative rss_kb")                                       \
    X(SAMPLE_RSS_HUGE, SAMPLES, "rss_kb over 4 PiB")                                         \
    X(SAMPLE_DUP, SAMPLES, "duplicate")                                                      \
    X(SWEEP_MEM_TOTAL, VALUES, "sweeps.mem_total_kb not a whole number")                     \
    X(SWEEP_MEM_TOTAL_RANGE, VALUES, "sweeps.mem_total_kb not in 1 KiB..4 PiB")              \
    X(SWEEP_INTERVAL_NULL, VALUES, "NULL sweeps.interval_ms")                                \
    X(SWEEP_INTERVAL, VALUES, "sweeps.interval_ms not a whole number")                       \
    X(SWEEP_INTERVAL_RANGE, VALUES, "sweeps.interval_ms not in 1..3600000")                  \
    X(SWEEP_RESERVE, VALUES, "sweeps.reserve_mb not a whole number")                         \
    X(SWEEP_RESERVE_RANGE, VALUES, "sweeps.reserve_mb not in 0..4 PiB")                      \
    X(SWEEP_MEM_SOURCE, VALUES, "sweeps.mem_source not text")                                \
    X(SWEEP_HOST_MEM, VALUES, "sweeps.host_mem_total_kb not a whole number")                 \
    X(SWEEP_HOST_MEM_RANGE, VALUES, "sweeps.host_mem_total_kb not in 1 KiB..4 PiB")          \
    X(SWEEP_CPUS, VALUES, "sweeps.cpus not a whole number")                                  \
    X(SWEEP_CPUS_RANGE, VALUES, "sweeps.cpus not in 1..1048576")                             \
    X(PROC_END, VALUES, "processes.ended_ns not a whole number")                             \
    X(PROC_END_RANGE, VALUES, "processes.ended_ns not in 1970..2099")                        \
    X(PROC_END_BEFORE_START, VALUES, "processes.ended_ns before started_ns")                 \
    X(PROC_HWM, VALUES, "processes.hwm_kb not a whole number")                               \
    X(PROC_HWM_RANGE, VALUES, "processes.hwm_kb negative or over 4 PiB")                     \
    X(PROC_TRACKING, VALUES, "processes.alloc_tracking not a whole number")                  \
    X(PROC_DROPPED, VALUES, "processes.alloc_dropped* not a count")                          \
    X(PROC_UNSTORED, VALUES, "processes.unstored not a count")                               \
    X(SAMPLE_HWM, VALUES, "samples.hwm_kb not a whole number")                               \
    X(SAMPLE_HWM_RANGE, VALUES, "samples.hwm_kb negative or over 4 PiB")                     \
    X(SAMPLE_STACK, VALUES, "samples.stack_id not a whole number")                           \
    X(RUN_MAXRSS, VALUES, "runs.maxrss_kb or maxrss_floor_kb negative, over 4 PiB or not a whole number") \
    X(RUN_ATTEMPT, VALUES, "runs.attempt not in 1..1000000")                                 \
    X(RUN_SUPERSEDED, VALUES, "runs.superseded not 0 or 1")                                  \
    X(SWEEP_SCHEDULE, VALUES, "sweeps scheduling value out of range or of the wrong type")   \
    X(ADMISSION_TIME, VALUES, "admissions.decided_ns not in 1970..2099")                     \
    X(ADMISSION_SIZE, VALUES, "admissions size negative, over 4 PiB or not a whole number")  \
    X(ADMISSION_COUNT, VALUES, "admissions.running or waited_ms negative or not a whole number")

typedef enum ms_bad {
#define MS__BAD_ENUM(name, where, text) MS_BAD_##name,
    MS_BAD_LIST(MS__BAD_ENUM)
#undef MS__BAD_ENUM
    MS_BAD_COUNT /* number of reasons, not a reason */
} ms_bad_t;

/* Where reason applies, and its text as printed ("NULL rss_kb"). */
ms_bad_where_t ms_bad_where(ms_bad_t reason);
const char *ms_bad_text(ms_bad_t reason);

/*
 * Free texts read from the database (why a run was not measured, an unknown status),
 * counted by distinct text. The first MS_TALLY_KEEP distinct texts are kept, cleaned for
 * printing (see ms_clean_text) and cut to MS_TALLY_TEXT bytes; later ones count as other.
 */
#define MS_TALLY_KEEP 8
#define MS_TALLY_TEXT 64

typedef struct ms_tally {
    size_t total;
    size_t n; /* distinct texts kept */
    char text[MS_TALLY_KEEP][MS_TALLY_TEXT];
    size_t count[MS_TALLY_KEEP];
    size_t other; /* counted under texts beyond the kept ones */
} ms_tally_t;

/* Counts one occurrence of text (NULL counts as "NULL"). */
void ms_tally_add(ms_tally_t *t, const char *text);

/* The report of one sweep database. Zeroed means "nothing to report". */
typedef struct ms_db_report {
    size_t bad[MS_BAD_COUNT];         /* rows skipped and values ignored, by reason */
    ms_tally_t excluded;              /* runs not measured, by reason */
    ms_tally_t unknown_status;        /* runs whose status this version does not know */
    unsigned long long unstored;      /* readings due but not stored, over the runs read */
    unsigned long long unstored_failed; /* ... of processes whose writes failed (a note) */
    char unstored_note[128];          /* the first such process's note, cleaned and cut */
    size_t ended_abnormally;          /* processes that ended without an exit record */
    size_t ended_abnormally_running;  /* ... of which in runs still `running` */
    size_t ended_abnormally_main;     /* ... of which main processes whose end the run
                                       * records (filled by `peaks`, which looks it up) */
    int no_sweep_row;                 /* the sweeps table is empty */
} ms_db_report_t;

/* Rows skipped from a table, or values ignored (MS_BAD_VALUES). */
size_t ms_db_report_count(const ms_db_report_t *r, ms_bad_where_t where);

/*
 * Writes the report's own lines, each only when it has something to say, in this order:
 *   Excluded: 2 runs not measured (statically linked: 2)
 *   Skipped: 1 run (NULL seq: 1)
 *   Skipped: 2 processes (...)
 *   Skipped: 3 samples (NULL rss_kb: 2, negative rss_kb: 1)
 *   Ignored: 1 value (processes.hwm_kb negative or over 4 PiB: 1)
 */
void ms_db_report_write(FILE *f, const ms_db_report_t *r);

/*
 * The report's notes, as full sentences without the "Note: " prefix: index i from 0 up;
 * returns 0 with the note in buf, or -1 when there is no note i. Readings not stored are
 * told by their cause as the database shows it: those of processes whose writes failed
 * (the shim noted why), and those of processes none of whose writes failed (the sampler
 * thread did not run in time, or the database stayed locked by other writers).
 */
int ms_db_report_note(const ms_db_report_t *r, size_t i, char *buf, size_t len);

/*
 * Writes the report as keys of an open JSON object (see jsonw.h): "Excluded", "Skipped",
 * "Ignored", "UnknownStatus", "Unstored" and "UnstoredWriteFailed", always present. Each count object is
 * {"Count": N, "Reasons": {"text": n, ...}}; Skipped holds one per table.
 */
void ms_db_report_write_json(FILE *f, int *first, const ms_db_report_t *r);

#endif
