/*
 * The HTML report: the page compiled in from report_page.html, and the JSON document of
 * the sweep it draws. Times in the document are microseconds from the sweep's first
 * moment (t0_ns, given as text: nanoseconds since the epoch do not fit a JavaScript
 * number exactly); sizes are KiB as the database holds them, so that the page's points
 * are the database's values.
 */
#include "report.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonw.h"
#include "peakblocks.h"
#include "memsweep/version.h"
#include "parammem.h"
#include "peaks.h"
#include "report_page.h"
#include "rsstimeline.h"

/* One sample as read: the run (index into d->runs) and process it belongs to. */
typedef struct {
    int64_t t_ns;
    int64_t rss_kb;
    size_t run;
    long long proc_id;
    unsigned char kind; /* ms_sample_kind_t */
} sample_t;

/* A change of the running total: a process's reading, or its end (rss -1). */
typedef struct {
    int64_t t_ns;
    int64_t rss_kb;
    size_t proc; /* index of the process among all read */
    int end;
} event_t;

typedef struct {
    long long run_id;
    size_t idx;
} run_key_t;

typedef struct {
    int64_t started_ns, finished_ns; /* 0: not recorded */
    char *label;
} run_row_t;

static int cmp_key(const void *a, const void *b)
{
    const run_key_t *x = a, *y = b;
    return x->run_id < y->run_id ? -1 : x->run_id > y->run_id;
}

static int cmp_event(const void *a, const void *b)
{
    const event_t *x = a, *y = b;
    if (x->t_ns != y->t_ns)
        return x->t_ns < y->t_ns ? -1 : 1;
    /* A reading before an end at the same instant: the slice sees the reading. */
    return x->end - y->end;
}

static long find_run(const run_key_t *keys, size_t n, long long run_id)
{
    const run_key_t k = {run_id, 0};
    const run_key_t *hit = bsearch(&k, keys, n, sizeof *keys, cmp_key);
    return hit != NULL ? (long)hit->idx : -1;
}

int ms_report_copy_json(FILE *f, const char *json, size_t len)
{
    size_t from = 0;

    for (size_t i = 0; i < len; i++) {
        const char *esc = json[i] == '<' ? "\\u003c" : json[i] == '>' ? "\\u003e"
                        : json[i] == '&' ? "\\u0026" : NULL;
        if (esc == NULL)
            continue;
        if (fwrite(json + from, 1, i - from, f) != i - from || fputs(esc, f) < 0)
            return -EIO;
        from = i + 1;
    }
    if (fwrite(json + from, 1, len - from, f) != len - from)
        return -EIO;
    return ferror(f) ? -EIO : 0;
}

static int db_error(sqlite3 *db, const char *name, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", name, sqlite3_errmsg(db));
    return -EIO;
}

/* The rows of runs that the page shows beside the reduced figures. */
static int read_runs(sqlite3 *db, const char *name, const ms_sweep_data_t *d, const run_key_t *keys,
                     run_row_t *rows, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(db, "SELECT run_id, started_ns, finished_ns, label FROM runs", -1, &st,
                            NULL);
    if (rc != SQLITE_OK)
        return db_error(db, name, err, errlen);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const long i = find_run(keys, d->n_runs, sqlite3_column_int64(st, 0));
        const unsigned char *label = sqlite3_column_text(st, 3);
        if (i < 0 || rows[i].label != NULL)
            continue;
        if (sqlite3_column_type(st, 1) == SQLITE_INTEGER)
            rows[i].started_ns = sqlite3_column_int64(st, 1);
        if (sqlite3_column_type(st, 2) == SQLITE_INTEGER)
            rows[i].finished_ns = sqlite3_column_int64(st, 2);
        rows[i].label = strdup(label != NULL ? (const char *)label : "");
        if (rows[i].label == NULL) {
            sqlite3_finalize(st);
            return -ENOMEM;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(db, name, err, errlen);
    return 0;
}

/* Every usable sample of the runs read, ordered by run, process and time. */
static int read_samples(sqlite3 *db, const char *name, const ms_sweep_data_t *d,
                        const run_key_t *keys, sample_t **out, size_t *n, char *err,
                        size_t errlen)
{
    sqlite3_stmt *st = NULL;
    sample_t *v = NULL;
    size_t cap = 0;
    int rc;

    *n = 0;
    rc = sqlite3_prepare_v2(db,
                            "SELECT p.run_id, s.proc_id, s.t_ns, s.rss_kb, s.kind FROM samples s"
                            " JOIN processes p ON p.proc_id = s.proc_id"
                            " ORDER BY p.run_id, s.proc_id, s.t_ns",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return db_error(db, name, err, errlen);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        long i;
        if (sqlite3_column_type(st, 2) != SQLITE_INTEGER ||
            sqlite3_column_type(st, 3) != SQLITE_INTEGER || sqlite3_column_int64(st, 3) < 0)
            continue;
        i = find_run(keys, d->n_runs, sqlite3_column_int64(st, 0));
        if (i < 0)
            continue;
        if (*n == cap) {
            const size_t ncap = cap ? cap * 2 : 4096;
            sample_t *const nv = realloc(v, ncap * sizeof *nv);
            if (nv == NULL) {
                free(v);
                sqlite3_finalize(st);
                return -ENOMEM;
            }
            v = nv;
            cap = ncap;
        }
        v[*n].run = (size_t)i;
        v[*n].proc_id = sqlite3_column_int64(st, 1);
        v[*n].t_ns = sqlite3_column_int64(st, 2);
        v[*n].rss_kb = sqlite3_column_int64(st, 3);
        v[*n].kind = (unsigned char)ms_sample_kind_of((const char *)sqlite3_column_text(st, 4));
        (*n)++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(v);
        return db_error(db, name, err, errlen);
    }
    *out = v;
    return 0;
}

/* The slice of the sweep timeline that t_ns falls in; times outside the sweep are clamped. */
static size_t slice_of(int64_t t_ns, int64_t t0, int64_t span)
{
    const double x = (double)(t_ns - t0) / (double)span * (MS_REPORT_SLICES - 1);

    if (!(x > 0.0))
        return 0;
    return x >= MS_REPORT_SLICES - 1 ? MS_REPORT_SLICES - 1 : (size_t)x;
}

static long long us_from(int64_t t_ns, int64_t t0_ns)
{
    return (long long)((t_ns - t0_ns) / 1000);
}

/*
 * The samples [from, to) of one process, thinned to at most max: each of max / 2 time
 * slices keeps its lowest and highest reading, and the first and the last are kept.
 */
static void write_points(FILE *f, const sample_t *s, size_t from, size_t to, int64_t t0,
                         size_t max, unsigned char *keep, size_t *shown)
{
    const size_t n = to - from;
    int first = 1;

    if (n <= max) {
        memset(keep, 1, n);
    } else {
        const size_t slices = max / 2 - 1;
        const int64_t span = s[to - 1].t_ns - s[from].t_ns + 1;
        size_t lo = from, hi = from, cur = 0;
        memset(keep, 0, n);
        for (size_t i = from; i < to; i++) {
            const size_t slice = (size_t)((double)(s[i].t_ns - s[from].t_ns) / (double)span *
                                          (double)slices);
            if (slice != cur || i == from) {
                if (i != from) {
                    keep[lo - from] = keep[hi - from] = 1;
                }
                cur = slice;
                lo = hi = i;
            }
            if (s[i].rss_kb < s[lo].rss_kb)
                lo = i;
            if (s[i].rss_kb > s[hi].rss_kb)
                hi = i;
        }
        keep[lo - from] = keep[hi - from] = 1;
        keep[0] = keep[n - 1] = 1;
    }
    fputc('[', f);
    for (size_t i = from; i < to; i++) {
        if (!keep[i - from])
            continue;
        fprintf(f, "%s%lld,%lld,%u", first ? "" : ",", us_from(s[i].t_ns, t0),
                (long long)s[i].rss_kb, (unsigned)s[i].kind);
        first = 0;
        (*shown)++;
    }
    fputc(']', f);
}

/* The kinds in the order of ms_sample_kind_t, which the points name by index. */
static void write_kinds(FILE *f)
{
    fputs("\"kinds\":[", f);
    for (int k = 0; k < MS_SAMPLE_KINDS; k++) {
        if (k > 0)
            fputc(',', f);
        ms_json_string(f, ms_sample_kind_name((ms_sample_kind_t)k));
    }
    fputc(']', f);
}

/*
 * The sweep timeline: the sum of the latest reading of every process between its first
 * and last sample, and the runs running (from their start to their end), each as the
 * largest within each of MS_REPORT_SLICES slices.
 */
static int write_timeline(FILE *f, const ms_sweep_data_t *d, const run_row_t *rows,
                          const sample_t *s, size_t n, int64_t t0, int64_t t1)
{
    const int64_t span = t1 > t0 ? t1 - t0 : 1;
    event_t *ev = NULL;
    ms_rss_sum_t sum = {0};
    long long *total = NULL, *running = NULL;
    size_t n_ev = 0, n_proc = 0;
    long long max_total = 0, max_running = 0;
    int rc = -ENOMEM;

    /* Readings, one end per process, and a start and an end per run. */
    ev = malloc((n + n + 2 * d->n_runs + 1) * sizeof *ev);
    total = calloc(MS_REPORT_SLICES, sizeof *total);
    running = calloc(MS_REPORT_SLICES, sizeof *running);
    if (ev == NULL || total == NULL || running == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (s[i].proc_id != s[i - 1].proc_id || s[i].run != s[i - 1].run))
            n_proc++;
        ev[n_ev++] = (event_t){s[i].t_ns, s[i].rss_kb, n_proc, 0};
        if (i + 1 == n || s[i + 1].proc_id != s[i].proc_id || s[i + 1].run != s[i].run)
            ev[n_ev++] = (event_t){s[i].t_ns, -1, n_proc, 1};
    }
    /* The same sum as the advisory's Admission_HighestMeasured_MB (rsstimeline.h). */
    if (ms_rss_sum_init(&sum, n_proc + 1) != 0)
        goto out;
    qsort(ev, n_ev, sizeof *ev, cmp_event);
    /* Each slice starts with the total the one before ended with, then sees its events. */
    {
        size_t j = 0;
        for (size_t slice = 0; slice < MS_REPORT_SLICES; slice++) {
            total[slice] = sum.total;
            while (j < n_ev && slice_of(ev[j].t_ns, t0, span) == slice) {
                const long long now = ev[j].end ? ms_rss_sum_end(&sum, ev[j].proc)
                                                : ms_rss_sum_reading(&sum, ev[j].proc,
                                                                     ev[j].t_ns, ev[j].rss_kb);
                if (now > total[slice])
                    total[slice] = now;
                j++;
            }
            if (total[slice] > max_total)
                max_total = total[slice];
        }
    }
    /* Runs running: +1 at a start, -1 after an end. */
    n_ev = 0;
    for (size_t r = 0; r < d->n_runs; r++) {
        if (rows[r].started_ns <= 0)
            continue;
        ev[n_ev++] = (event_t){rows[r].started_ns, 1, 0, 0};
        ev[n_ev++] = (event_t){rows[r].finished_ns > 0 ? rows[r].finished_ns : t1, -1, 0, 1};
    }
    qsort(ev, n_ev, sizeof *ev, cmp_event);
    {
        long long now = 0;
        size_t j = 0;
        for (size_t slice = 0; slice < MS_REPORT_SLICES; slice++) {
            if (now > running[slice])
                running[slice] = now;
            while (j < n_ev) {
                if (slice_of(ev[j].t_ns, t0, span) != slice)
                    break;
                now += ev[j].rss_kb;
                if (now > running[slice])
                    running[slice] = now;
                j++;
            }
            if (running[slice] > max_running)
                max_running = running[slice];
        }
    }
    fprintf(f, "\"timeline\":{\"span_us\":%lld,\"slice_us\":%lld,\"max_total_kb\":%lld,"
               "\"max_running\":%lld,\"t\":[",
            (long long)(span / 1000), (long long)(span / 1000 / (MS_REPORT_SLICES - 1)),
            max_total, max_running);
    for (size_t i = 0; i < MS_REPORT_SLICES; i++)
        fprintf(f, "%s%lld", i ? "," : "",
                (long long)((double)span / 1000.0 * (double)i / (MS_REPORT_SLICES - 1)));
    fputs("],\"total_kb\":[", f);
    for (size_t i = 0; i < MS_REPORT_SLICES; i++)
        fprintf(f, "%s%lld", i ? "," : "", total[i]);
    fputs("],\"running\":[", f);
    for (size_t i = 0; i < MS_REPORT_SLICES; i++)
        fprintf(f, "%s%lld", i ? "," : "", running[i]);
    fputs("]}", f);
    rc = 0;
out:
    free(ev);
    ms_rss_sum_free(&sum);
    free(total);
    free(running);
    return rc;
}

/* The sweeps row's start and -j, when recorded. */
static void read_sweep_row(sqlite3 *db, long long sweep_id, int64_t *started_ns, long long *jobs)
{
    sqlite3_stmt *st = NULL;

    *started_ns = 0;
    *jobs = 0;
    if (sqlite3_prepare_v2(db, "SELECT started_ns, jobs FROM sweeps WHERE sweep_id = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, sweep_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) == SQLITE_INTEGER)
            *started_ns = sqlite3_column_int64(st, 0);
        if (sqlite3_column_type(st, 1) == SQLITE_INTEGER && sqlite3_column_int64(st, 1) > 0)
            *jobs = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
}

/* A change of the predicted memory in use: an admission, or the end of an admitted run. */
typedef struct {
    int64_t t_ns;
    int end;                     /* 1: a run ended; 0: an admission */
    unsigned long long kb;       /* the level an admission sets, or what an end takes off */
} step_t;

static int cmp_step(const void *a, const void *b)
{
    const step_t *x = a, *y = b;
    if (x->t_ns != y->t_ns)
        return x->t_ns < y->t_ns ? -1 : 1;
    /* An end before an admission at the same instant: the admission counted without it. */
    return y->end - x->end;
}

/*
 * What a scheduled sweep did with its budget, as the page's "schedule" (null without
 * options and admissions): the Schedule line's text and the summary's figures, each
 * admission (its run by id, its time from t0), and the predicted memory in use over
 * time as steps: at each admission the launcher's own figure then (the runs running,
 * each at its prediction or its RSS where higher, plus this run's prediction), less each
 * admitted run's prediction when it ends.
 */
static int write_schedule(FILE *f, const ms_sweep_data_t *d, const ms_advisory_t *a,
                          const run_row_t *rows, int64_t t0)
{
    const ms_sched_summary_t *const sum = &a->schedule;
    step_t *steps = NULL;
    size_t n_steps = 0;
    char text[512];

    if (!a->have_schedule || !ms_sched_summary_any(sum)) {
        fputs(",\"schedule\":null", f);
        return 0;
    }
    steps = malloc((2 * d->n_runs + 1) * sizeof *steps);
    if (steps == NULL)
        return -ENOMEM;
    fputs(",\"schedule\":{\"text\":", f);
    if (ms_sched_opts_text(&sum->opts, text, sizeof text) == 0)
        ms_json_string(f, text);
    else
        fputs("null", f);
#define KB_OR_NULL(key, have, kb)                                                          \
    do {                                                                                   \
        if (have)                                                                          \
            fprintf(f, ",\"" key "\":%llu", (unsigned long long)(kb));                     \
        else                                                                               \
            fputs(",\"" key "\":null", f);                                                \
    } while (0)
    KB_OR_NULL("budget_kb", sum->have_budget, sum->budget_kb);
    KB_OR_NULL("highest_predicted_kb", sum->have_predicted, sum->highest_predicted_kb);
    KB_OR_NULL("highest_measured_kb", sum->have_measured, sum->highest_measured_kb);
    fputs(",\"admissions\":[", f);
    for (size_t r = 0, k = 0; r < d->n_runs; r++) {
        const ms_sched_admission_t *const adm = ms_sweep_admission(d, &d->runs[r]);
        if (adm == NULL)
            continue;
        fprintf(f, "%s{\"id\":%lld,\"t_us\":", k++ ? "," : "", adm->run_id);
        if (adm->have_decided)
            fprintf(f, "%lld", us_from(adm->decided_ns, t0));
        else
            fputs("null", f);
        fputs(",\"rule\":", f);
        ms_json_string(f, adm->rule);
        KB_OR_NULL("predicted_kb", adm->have_predicted, adm->predicted_kb);
        fputs(",\"basis\":", f);
        ms_json_string(f, adm->basis);
        fprintf(f, ",\"running\":%lld", adm->running);
        KB_OR_NULL("running_predicted_kb", adm->have_running_predicted,
                   adm->running_predicted_kb);
        KB_OR_NULL("running_rss_kb", adm->have_running_rss, adm->running_rss_kb);
        KB_OR_NULL("available_kb", adm->have_available, adm->available_kb);
        fputs(",\"available_source\":", f);
        ms_json_string(f, adm->available_source);
        KB_OR_NULL("budget_kb", adm->have_budget, adm->budget_kb);
        fprintf(f, ",\"waited_ms\":%lld}", adm->waited_ms);
        /* Each run's prediction counts from its admission to its end. */
        if (adm->have_decided && adm->have_predicted)
            steps[n_steps++] = (step_t){adm->decided_ns, 0, adm->predicted_kb};
        if (adm->have_decided && adm->have_predicted && rows[r].finished_ns > 0)
            steps[n_steps++] = (step_t){rows[r].finished_ns, 1, adm->predicted_kb};
    }
#undef KB_OR_NULL
    qsort(steps, n_steps, sizeof *steps, cmp_step);
    fputs("],\"pred_steps\":[", f);
    {
        unsigned long long level = 0;
        for (size_t i = 0; i < n_steps; i++) {
            if (steps[i].end)
                level = level > steps[i].kb ? level - steps[i].kb : 0;
            else
                level += steps[i].kb;
            fprintf(f, "%s[%lld,%llu]", i ? "," : "", us_from(steps[i].t_ns, t0), level);
        }
    }
    fputs("]}", f);
    free(steps);
    return ferror(f) ? -EIO : 0;
}

static void write_params(FILE *f, const char *label)
{
    const char *cursor = label;
    ms_param_pair_t pair;
    char buf[MS_PARAM_LABEL_MAX + 1];
    int first = 1;

    fputs(",\"params\":[", f);
    while (label != NULL && ms_param_label_next(&cursor, &pair)) {
        fputs(first ? "[" : ",[", f);
        snprintf(buf, sizeof buf, "%.*s", (int)pair.name_len, pair.name);
        ms_json_string(f, buf);
        fputc(',', f);
        snprintf(buf, sizeof buf, "%.*s", (int)pair.value_len, pair.value);
        ms_json_string(f, buf);
        fputc(']', f);
        first = 0;
    }
    fputc(']', f);
}

/* The large blocks at the run's peak, as the page's "blocks" of the run, or null. */
static int write_blocks(FILE *f, ms_block_reader_t *reader, const ms_run_mem_t *run)
{
    ms_peak_blocks_t b;
    char what[1280], notes[3][MS_PEAK_BLOCKS_NOTE_MAX];
    size_t n_notes;
    int rc = ms_peak_blocks_read(reader, run->run_id, &b);

    if (rc != 0)
        return rc;
    if (!b.have || b.n == 0) {
        ms_peak_blocks_free(&b);
        fputs("null", f);
        return 0;
    }
    ms_peak_blocks_summary(&b, run->peak_kb, what, sizeof what);
    n_notes = ms_peak_blocks_notes(&b, notes);
    for (size_t i = 0; i < n_notes; i++) {
        const size_t l = strlen(what);
        snprintf(what + l, sizeof what - l, "; %s", notes[i]);
    }
    fputs("{\"what\":", f);
    ms_json_string(f, what);
    fputs(",\"list\":[", f);
    for (size_t i = 0; i < b.n; i++) {
        const ms_block_view_t *const v = &b.blocks[i];
        char *stack = NULL;
        size_t len = 0;
        FILE *sf = open_memstream(&stack, &len);
        if (sf == NULL) {
            ms_peak_blocks_free(&b);
            return -ENOMEM;
        }
        for (size_t k = 0; k < v->n_frames; k++)
            fprintf(sf, "%s%s", k ? "\n" : "", v->frames[k].text);
        if (v->n_frames == 0)
            fputs("(no stack recorded)", sf);
        if (fclose(sf) != 0) {
            free(stack);
            ms_peak_blocks_free(&b);
            return -ENOMEM;
        }
        fprintf(f, "%s{\"size_kb\":%llu,\"resident_kb\":", i ? "," : "", v->bytes / 1024);
        if (v->resident_kb >= 0)
            fprintf(f, "%lld,\"share_pct\":%.2f", v->resident_kb,
                    b.rss_kb > 0 ? (double)v->resident_kb * 100.0 / (double)b.rss_kb : 0.0);
        else
            fputs("null,\"share_pct\":null", f);
        if (v->allocated_ns > 0 && b.run_start_ns > 0 && v->allocated_ns >= b.run_start_ns)
            fprintf(f, ",\"at_us\":%lld", (long long)((v->allocated_ns - b.run_start_ns) / 1000));
        else
            fputs(",\"at_us\":null", f);
        fputs(",\"stack\":", f);
        ms_json_string(f, stack);
        fputc('}', f);
        free(stack);
    }
    fputs("]}", f);
    ms_peak_blocks_free(&b);
    return 0;
}

static int write_document(FILE *f, sqlite3 *db, const char *name, const ms_sweep_data_t *d,
                          const ms_advisory_t *a, const run_row_t *rows, const sample_t *s,
                          size_t n, ms_block_reader_t *blocks, char *err, size_t errlen)
{
    size_t *from = NULL, *to = NULL;
    unsigned char *keep = NULL;
    int64_t t0 = INT64_MAX, t1 = INT64_MIN, started_ns;
    long long jobs;
    size_t n_procs = 0, per_proc;
    char when[64] = "unknown";
    char *text = NULL;
    size_t text_len = 0;
    FILE *tf;
    int rc = -ENOMEM;

    from = calloc(d->n_runs + 1, sizeof *from);
    to = calloc(d->n_runs + 1, sizeof *to);
    keep = malloc(n + 1);
    if (from == NULL || to == NULL || keep == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || s[i].run != s[i - 1].run)
            from[s[i].run] = i;
        to[s[i].run] = i + 1;
        if (s[i].t_ns < t0)
            t0 = s[i].t_ns;
        if (s[i].t_ns > t1)
            t1 = s[i].t_ns;
    }
    for (size_t r = 0; r < d->n_runs; r++) {
        if (rows[r].started_ns > 0 && rows[r].started_ns < t0)
            t0 = rows[r].started_ns;
        if (rows[r].finished_ns > 0 && rows[r].finished_ns > t1)
            t1 = rows[r].finished_ns;
    }
    for (size_t i = 0; i < n; i++)
        n_procs += i == 0 || s[i].proc_id != s[i - 1].proc_id || s[i].run != s[i - 1].run;
    per_proc = n_procs > 0 ? MS_REPORT_POINTS_TOTAL / n_procs : MS_REPORT_PROC_POINTS;
    per_proc = per_proc > MS_REPORT_PROC_POINTS       ? MS_REPORT_PROC_POINTS
               : per_proc < MS_REPORT_PROC_POINTS_MIN ? MS_REPORT_PROC_POINTS_MIN
                                                      : per_proc;
    read_sweep_row(db, d->info.sweep_id, &started_ns, &jobs);
    if (t0 == INT64_MAX)
        t0 = t1 = started_ns;
    if (started_ns > 0) {
        const time_t secs = (time_t)(started_ns / 1000000000);
        struct tm tm;
        if (gmtime_r(&secs, &tm) != NULL)
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    }

    /* The advisory's text, exactly as `memsweep advise` prints it. */
    tf = open_memstream(&text, &text_len);
    if (tf == NULL)
        goto out;
    ms_advisory_write_pre(tf, &a->machine);
    fputc('\n', tf);
    ms_advisory_write_post(tf, a);
    if (fclose(tf) != 0)
        goto out;

    fprintf(f, "{\"generator\":\"memsweep %s\",\"t0_ns\":\"%lld\",\"sweep\":{", MS_VERSION,
            (long long)t0);
    fputs("\"host\":", f);
    ms_json_string(f, d->info.hostname);
    fputs(",\"started\":", f);
    ms_json_string(f, when);
    fprintf(f, ",\"interval_ms\":%lld,\"jobs\":", d->info.interval_ms);
    if (jobs > 0)
        fprintf(f, "%lld", jobs);
    else
        fputs("null", f);
    fputs("},\"advisory\":", f);
    ms_advisory_write_json(f, a);
    fputs(",\"advisory_text\":", f);
    ms_json_string(f, text);
    fputc(',', f);
    write_kinds(f);
    fputc(',', f);
    rc = write_timeline(f, d, rows, s, n, t0, t1 > t0 ? t1 : t0 + 1);
    if (rc == 0)
        rc = write_schedule(f, d, a, rows, t0);
    if (rc != 0)
        goto out;
    fputs(",\"runs\":[", f);
    for (size_t r = 0; r < d->n_runs; r++) {
        const ms_run_mem_t *const run = &d->runs[r];
        const ms_run_peaks_t *const p = &run->peaks;
        const int64_t start = rows[r].started_ns > 0 ? rows[r].started_ns
                              : to[r] > from[r] ? s[from[r]].t_ns : t0;
        const int64_t end = rows[r].finished_ns > 0 ? rows[r].finished_ns
                            : to[r] > from[r] ? s[to[r] - 1].t_ns : start;
        size_t shown = 0, i = from[r];
        int firstp = 1;

        fprintf(f, "%s{\"id\":%lld,\"seq\":%lld,\"label\":", r ? "," : "", run->run_id, run->seq);
        ms_json_string(f, rows[r].label != NULL ? rows[r].label : "");
        /* An attempt --retry-oom replaced: drawn, and left out of every figure. */
        fprintf(f, ",\"superseded\":%s,\"attempt\":%lld", run->superseded ? "true" : "false",
                run->attempt > 0 ? run->attempt : (long long)run->earlier_attempts + 1);
        fputs(",\"status\":", f);
        ms_json_string(f, run->status);
        fprintf(f,
                ",\"measured\":%s,\"start_us\":%lld,\"end_us\":%lld,\"end_kb\":%llu,"
                "\"peak_kb\":%llu,\"periodic_kb\":%llu,\"all_kb\":%llu,\"hwm_kb\":%llu,"
                "\"hwm_sum_kb\":%llu,\"procs\":%zu,\"wait4_kb\":%llu,\"samples\":%zu,"
                "\"miss_pct\":%.2f",
                ms_run_measured(run) ? "true" : "false", us_from(start, t0),
                us_from(end > start ? end : start, t0), run->end_kb, run->peak_kb,
                p->periodic_kb, p->all_kb, p->hwm_max_kb, p->hwm_sum_kb, p->procs,
                p->wait4 == MS_WAIT4_NONE ? 0ULL : p->wait4_kb, run->n_samples,
                ms_run_measured(run) ? ms_peak_miss_pct(ms_run_peaks_best_kb(p), p->periodic_kb)
                                     : 0.0);
        write_params(f, ms_sweep_label(d, run));
        fputs(",\"procs_pts\":[", f);
        while (to[r] > from[r] && i < to[r]) {
            size_t j = i;
            while (j < to[r] && s[j].proc_id == s[i].proc_id)
                j++;
            fprintf(f, "%s{\"proc\":%lld,\"p\":", firstp ? "" : ",", s[i].proc_id);
            write_points(f, s, i, j, t0, per_proc, keep, &shown);
            fputc('}', f);
            firstp = 0;
            i = j;
        }
        fprintf(f, "],\"shown\":%zu,\"blocks\":", shown);
        rc = write_blocks(f, blocks, run);
        if (rc == -EIO)
            snprintf(err, errlen, "%s: cannot read the large blocks: %s", name,
                     sqlite3_errmsg(db));
        if (rc != 0)
            goto out;
        fputc('}', f);
    }
    fputs("]}", f);
    rc = ferror(f) ? -EIO : 0;
out:
    free(from);
    free(to);
    free(keep);
    free(text);
    return rc;
}

int ms_report_write(FILE *f, sqlite3 *db, const char *name, const ms_sweep_data_t *d,
                    const ms_advisory_t *a, char *err, size_t errlen)
{
    static const char marker[] = "<!--MS_DATA-->";
    const char *const page = ms_report_page;
    const char *const at = strstr(page, marker);
    run_key_t *keys = NULL;
    run_row_t *rows = NULL;
    ms_sweep_data_t view;
    ms_run_mem_t *all = NULL;
    ms_block_reader_t *blocks = NULL;
    sample_t *s = NULL;
    size_t n = 0;
    char *json = NULL;
    size_t json_len = 0;
    FILE *jf = NULL;
    int rc = -ENOMEM;

    if (at == NULL)
        abort(); /* the page compiled in lost its marker: a broken build */
    /*
     * The page draws the attempts --retry-oom replaced too, marked as such: their memory
     * was in use, so the timeline counts it, while the advisory (computed already) and
     * the page's figures of runs leave them out. The runs and they, in seq order.
     */
    if (d->n_superseded > 0) {
        all = malloc((d->n_runs + d->n_superseded) * sizeof *all);
        if (all == NULL)
            goto out;
        for (size_t i = 0, k = 0, j = 0; i < d->n_runs || k < d->n_superseded;) {
            const int sup = k < d->n_superseded &&
                            (i == d->n_runs || d->superseded[k].seq < d->runs[i].seq ||
                             (d->superseded[k].seq == d->runs[i].seq &&
                              d->superseded[k].run_id < d->runs[i].run_id));
            all[j++] = sup ? d->superseded[k++] : d->runs[i++];
        }
        view = *d;
        view.runs = all;
        view.n_runs = d->n_runs + d->n_superseded;
        view.superseded = NULL;
        view.n_superseded = 0;
        d = &view;
    }
    keys = malloc((d->n_runs + 1) * sizeof *keys);
    rows = calloc(d->n_runs + 1, sizeof *rows);
    if (keys == NULL || rows == NULL)
        goto out;
    for (size_t i = 0; i < d->n_runs; i++)
        keys[i] = (run_key_t){d->runs[i].run_id, i};
    qsort(keys, d->n_runs, sizeof *keys, cmp_key);
    rc = read_runs(db, name, d, keys, rows, err, errlen);
    if (rc == 0)
        rc = read_samples(db, name, d, keys, &s, &n, err, errlen);
    if (rc != 0)
        goto out;
    rc = -ENOMEM;
    jf = open_memstream(&json, &json_len);
    if (jf == NULL)
        goto out;
    rc = ms_block_reader_open(db, &blocks);
    if (rc == -EIO)
        db_error(db, name, err, errlen);
    if (rc == 0)
        rc = write_document(jf, db, name, d, a, rows, s, n, blocks, err, errlen);
    ms_block_reader_close(blocks);
    if (fclose(jf) != 0 && rc == 0)
        rc = -ENOMEM;
    if (rc != 0)
        goto out;
    rc = -EIO;
    if (fwrite(page, 1, (size_t)(at - page), f) != (size_t)(at - page) ||
        fputs("<script id=\"ms-data\" type=\"application/json\">", f) < 0 ||
        ms_report_copy_json(f, json, json_len) != 0 || fputs("</script>", f) < 0 ||
        fputs(at + sizeof marker - 1, f) < 0)
        goto out;
    rc = ferror(f) ? -EIO : 0;
out:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "%s: out of memory", name);
    else if (rc == -EIO && err[0] == '\0')
        snprintf(err, errlen, "write error");
    for (size_t i = 0; rows != NULL && i < d->n_runs; i++)
        free(rows[i].label);
    free(rows);
    free(keys);
    free(all);
    free(s);
    free(json);
    return rc;
}
