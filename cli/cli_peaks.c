/*
 * `memsweep peaks PATH`: for every run, the periodic, all-samples and VmHWM views of its
 * peak and how far the periodic sampler fell short, then a summary.
 */
#include "cli_peaks.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "climsg.h"
#include "errbuf.h"
#include "peakblocks.h"
#include "peaks.h"
#include "sweepread.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const char usage_text[] =
    "Usage: memsweep peaks [OPTION]... PATH...\n"
    "Compare three views of each run's peak RSS: from the periodic samples only, from all\n"
    "samples including the allocation-driven ones, and the kernel's VmHWM; show how far\n"
    "the periodic sampler fell short, the samples by kind, dropped samples and the stack\n"
    "of the heaviest allocation-driven peak; then a summary over the runs.\n"
    "PATH is a sweep directory or its database; it is only read.\n"
    "\n"
    "  --json       print one JSON object: a \"runs\" array and a \"summary\" object\n"
    "  --full       print every frame of each stack (default: the top " STR(MS_PEAKS_TOP_FRAMES) ")\n"
    "  -h, --help   show this help and exit\n";

/* The notes `peaks` shows of one run; more distinct notes are only counted. */
#define NOTES_SHOWN 8

/*
 * What one run's block shows of the scheduling (schema 9): the attempts it replaced
 * (earlier, n_earlier of them), or that it is itself a superseded attempt nothing
 * follows (orphan), and its admission.
 */
typedef struct run_sched {
    const ms_peaks_attempt_t *earlier;
    size_t n_earlier;
    int orphan;
} run_sched_t;

/*
 * Prints run r's block, the n-th written (JSON needs the separator). *mains counts the
 * runs whose main process left no exit record but whose row says how it ended.
 */
static int write_one(FILE *f, sqlite3 *db, const char *name, const ms_sweep_data_t *d,
                     const ms_run_mem_t *r, const run_sched_t *sched, size_t n,
                     ms_sweep_texts_t *texts, ms_block_reader_t *blocks, int json,
                     size_t *mains, char *err, size_t errlen)
{
    ms_peaks_run_info_t info;
    ms_proc_note_t notes[NOTES_SHOWN];
    ms_main_end_t main_end;
    size_t n_notes = 0, more_notes = 0;
    char *label = NULL, *frames = NULL, *reason = NULL, *batch = NULL, *named;
    ms_peak_blocks_t large;
    int main_known = 0;
    int rc = ms_sweep_run_label(texts, r->run_id, &label);

    memset(&large, 0, sizeof large);
    if (rc == 0 && r->peaks.have_stack)
        rc = ms_sweep_stack_frames(texts, r->peaks.stack_id, &frames);
    if (rc == 0 && r->not_measured)
        rc = ms_sweep_run_reason(texts, r->run_id, &reason);
    if (rc == 0 && r->ended_abnormally > 0)
        rc = ms_sweep_main_end(texts, r, &main_end, &main_known);
    if (rc == 0)
        rc = ms_sweep_run_notes(texts, r->run_id, notes, NOTES_SHOWN, &n_notes, &more_notes);
    if (rc == 0)
        rc = ms_sweep_run_batch_state(texts, r->run_id, &batch);
    if (rc == 0)
        rc = ms_peak_blocks_read(blocks, r->run_id, &large);
    if (rc != 0) {
        ms_set_err(err, errlen, "%s: %s", name,
                   rc == -ENOMEM ? strerror(ENOMEM) : sqlite3_errmsg(db));
        free(label);
        free(frames);
        free(reason);
        free(batch);
        return rc;
    }
    memset(&info, 0, sizeof info);
    info.seq = r->seq;
    info.run_id = r->run_id;
    info.label = label;
    info.status = r->status;
    info.status_known = r->status_known;
    info.batch_state = batch;
    info.max_frames = (json & MS_PEAKS_FULL) ? 0 : MS_PEAKS_TOP_FRAMES;
    /* The whole text when it can be read again; an empty one says so. */
    info.not_measured = !r->not_measured                      ? NULL
                        : reason != NULL && reason[0] != '\0' ? reason
                                                              : r->not_measured_kind;
    info.n_processes = r->n_processes;
    info.n_samples = r->n_samples;
    info.ended_abnormally = r->ended_abnormally;
    info.main_end = main_known ? &main_end : NULL;
    *mains += main_known != 0;
    info.unstored = r->unstored;
    info.unstored_failed = r->unstored_failed;
    info.notes = notes;
    info.n_notes = n_notes;
    info.more_notes = more_notes;
    info.blocks = &large;
    info.peak_kb = r->peak_kb;
    info.attempt = r->attempt;
    info.earlier = sched->earlier;
    info.n_earlier = sched->n_earlier;
    info.orphan = sched->orphan;
    info.admission = ms_sweep_admission(d, r);
    info.sweep_start_ns = d->info.started_ns;
    /* The text names functions as the symbolizer finds them; JSON has both. */
    named = frames != NULL ? ms_frames_symbolized(blocks, frames) : NULL;
    if (frames != NULL && named == NULL) {
        ms_set_err(err, errlen, "%s: %s", name, strerror(ENOMEM));
        rc = -ENOMEM;
    } else if (json & MS_PEAKS_JSON) {
        if (n > 0)
            fputc(',', f);
        info.frames_named = named;
        ms_peaks_write_run_json(f, &info, &r->peaks, frames);
    } else {
        ms_peaks_write_run(f, &info, &r->peaks, named);
        fputc('\n', f);
    }
    free(named);
    ms_sweep_notes_free(notes, n_notes);
    ms_peak_blocks_free(&large);
    free(label);
    free(frames);
    free(reason);
    free(batch);
    return rc;
}

/* Whether run a comes before run b in the order `peaks` prints: seq, then run_id. */
static int comes_before(const ms_run_mem_t *a, const ms_run_mem_t *b)
{
    return a->seq < b->seq || (a->seq == b->seq && a->run_id < b->run_id);
}

/*
 * Prints every run, streaming, so that labels, stacks and notes are held one run at a time:
 * each with the attempts it replaced (schema 9), and a superseded attempt that no attempt
 * follows as a block of its own, in its place. *mains counts the runs whose main process
 * left no exit record but whose row says how it ended.
 */
static int write_runs(FILE *f, sqlite3 *db, const char *name, const ms_sweep_data_t *d,
                      ms_sweep_texts_t *texts, ms_block_reader_t *blocks, int json,
                      size_t *mains, char *err, size_t errlen)
{
    ms_peaks_attempt_t *earlier = NULL;
    size_t n = 0, next_sup = 0;
    int rc = 0;

    *mains = 0;
    if (d->n_superseded > 0) {
        earlier = malloc(d->n_superseded * sizeof *earlier);
        if (earlier == NULL) {
            ms_set_err(err, errlen, "%s: %s", name, strerror(ENOMEM));
            return -ENOMEM;
        }
    }
    for (size_t i = 0; i <= d->n_runs && rc == 0; i++) {
        const ms_run_mem_t *r = i < d->n_runs ? &d->runs[i] : NULL;
        run_sched_t sched = {earlier, 0, 0};

        /* Superseded attempts that nothing follows, in their place before this run. */
        for (; next_sup < d->n_superseded && rc == 0 &&
               (r == NULL || comes_before(&d->superseded[next_sup], r));
             next_sup++) {
            const ms_run_mem_t *s = &d->superseded[next_sup];
            const run_sched_t alone = {NULL, 0, 1};
            size_t uncounted = 0; /* the summary counts no process of a superseded attempt */
            if (s->retried_as == 0)
                rc = write_one(f, db, name, d, s, &alone, n++, texts, blocks, json, &uncounted,
                               err, errlen);
        }
        if (r == NULL || rc != 0)
            break;
        /* The attempts this run replaced: of its seq, and paired with it when read. */
        for (size_t k = 0; k < d->n_superseded && r->earlier_attempts > 0; k++) {
            const ms_run_mem_t *s = &d->superseded[k];
            ms_peaks_attempt_t *e;
            if (s->retried_as != r->run_id)
                continue;
            e = &earlier[sched.n_earlier++];
            e->run_id = s->run_id;
            e->attempt = s->attempt > 0 ? s->attempt : (long long)sched.n_earlier;
            e->status = s->status;
            e->n_processes = s->n_processes;
            e->n_samples = s->n_samples;
            e->measured = ms_run_measured(s);
            e->peak_kb = s->peak_kb;
            e->peak_exact = ms_run_peaks_exact(&s->peaks);
            e->peak_pss = s->peaks.pss_used;
            e->admission = ms_sweep_admission(d, s);
        }
        rc = write_one(f, db, name, d, r, &sched, n++, texts, blocks, json, mains, err,
                       errlen);
    }
    free(earlier);
    return rc;
}

int ms_peaks_print(FILE *f, sqlite3 *db, const char *name, const ms_sweep_data_t *d, int json,
                   char *err, size_t errlen)
{
    ms_sweep_texts_t texts;
    ms_block_reader_t *blocks = NULL;
    ms_peak_summary_t summary;
    ms_db_report_t report = d->report;
    int rc;

    rc = ms_sweep_texts_open(db, name, &texts, err, errlen);
    if (rc != 0)
        return rc;
    rc = ms_block_reader_open(db, &blocks);
    if (rc != 0) {
        ms_set_err(err, errlen, "%s: %s", name != NULL ? name : sqlite3_db_filename(db, "main"),
                   rc == -ENOMEM ? strerror(ENOMEM) : sqlite3_errmsg(db));
        ms_sweep_texts_close(&texts);
        return rc;
    }
    ms_sweep_peak_summary(d, &summary);
    if (json & MS_PEAKS_JSON)
        fputs("{\"runs\":[", f);
    rc = write_runs(f, db, name != NULL ? name : sqlite3_db_filename(db, "main"), d, &texts,
                    blocks, json, &report.ended_abnormally_main, err, errlen);
    if (rc == 0) {
        if (json & MS_PEAKS_JSON) {
            fputs("],\"summary\":", f);
            ms_peaks_write_summary_json(f, d->n_runs, &summary, &report);
            fputs("}\n", f);
        } else {
            ms_peaks_write_summary(f, d->n_runs, &summary, &report);
        }
    }
    ms_block_reader_close(blocks);
    ms_sweep_texts_close(&texts);
    return rc;
}

int ms_cmd_peaks(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'J'},
        {"full", no_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    ms_sweep_data_t data;
    sqlite3 *db = NULL;
    char err[1024];
    char name[4096];
    int json = 0;
    int c, rc;
    int status = 1;

    optind = 0; /* full reset, in case another subcommand parsed before */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'J':
            json |= MS_PEAKS_JSON;
            break;
        case 'F':
            json |= MS_PEAKS_FULL;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            ms_cli_getopt_error("peaks", longopts, argv, c);
            return 2;
        }
    }
    rc = ms_cli_read_sweep("peaks", argc, argv, &db, &data, name, sizeof name);
    if (rc != 0)
        return rc;
    rc = ms_peaks_print(stdout, db, name, &data, json, err, sizeof err);
    if (rc != 0) {
        /* Whatever was printed is incomplete; say so on stderr and fail. */
        ms_cli_error("%s", err);
        goto out;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ms_cli_error("standard output: write error");
        goto out;
    }
    status = 0;
out:
    ms_sweep_free(&data);
    sqlite3_close(db);
    return status;
}
