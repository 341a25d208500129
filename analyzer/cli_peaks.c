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
#include "peaks.h"
#include "sweepread.h"

static const char usage_text[] =
    "Usage: memsweep peaks [OPTION]... PATH\n"
    "Compare three views of each run's peak RSS: from the periodic samples only, from all\n"
    "samples including the allocation-driven ones, and the kernel's VmHWM; show how far\n"
    "the periodic sampler fell short, the samples by kind, dropped samples and the stack\n"
    "of the heaviest allocation-driven peak; then a summary over the runs.\n"
    "PATH is a sweep directory or its database; it is only read.\n"
    "\n"
    "  --json       print one JSON object: a \"runs\" array and a \"summary\" object\n"
    "  -h, --help   show this help and exit\n";

/* Prints every run, streaming, so that labels and stacks are held one run at a time. */
static int write_runs(FILE *f, sqlite3 *db, const ms_sweep_data_t *d, ms_sweep_texts_t *texts,
                      int json, char *err, size_t errlen)
{
    for (size_t i = 0; i < d->n_runs; i++) {
        const ms_run_mem_t *r = &d->runs[i];
        ms_peaks_run_info_t info;
        char *label = NULL, *frames = NULL;
        int rc = ms_sweep_run_label(texts, r->run_id, &label);

        if (rc == 0 && r->peaks.have_stack)
            rc = ms_sweep_stack_frames(texts, r->peaks.stack_id, &frames);
        if (rc != 0) {
            snprintf(err, errlen, "%s", rc == -ENOMEM ? strerror(ENOMEM) : sqlite3_errmsg(db));
            free(label);
            return rc;
        }
        info.seq = r->seq;
        info.run_id = r->run_id;
        info.label = label;
        info.status = r->status;
        info.n_processes = r->n_processes;
        info.n_samples = r->n_samples;
        if (json) {
            if (i > 0)
                fputc(',', f);
            ms_peaks_write_run_json(f, &info, &r->peaks, frames);
        } else {
            ms_peaks_write_run(f, &info, &r->peaks, frames);
            fputc('\n', f);
        }
        free(label);
        free(frames);
    }
    return 0;
}

int ms_cmd_peaks(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    ms_sweep_data_t data;
    ms_sweep_texts_t texts;
    ms_peak_summary_t summary;
    sqlite3 *db = NULL;
    char err[1024];
    int json = 0;
    int c, rc;
    int status = 1;

    optind = 0; /* full reset, in case another subcommand parsed before */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'J':
            json = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            ms_cli_getopt_error("peaks", longopts, argv, c);
            return 2;
        }
    }
    rc = ms_cli_read_sweep("peaks", argc, argv, &db, &data);
    if (rc != 0)
        return rc;
    rc = ms_sweep_texts_open(db, &texts, err, sizeof err);
    if (rc != 0) {
        ms_cli_error("%s", err);
        goto out_data;
    }
    ms_sweep_peak_summary(&data, &summary);
    if (json)
        fputs("{\"runs\":[", stdout);
    rc = write_runs(stdout, db, &data, &texts, json, err, sizeof err);
    if (rc != 0) {
        /* Whatever was printed is incomplete; say so on stderr and fail. */
        ms_cli_error("%s: %s", argv[optind], err);
        goto out_texts;
    }
    if (json) {
        fputs("],\"summary\":", stdout);
        ms_peaks_write_summary_json(stdout, data.n_runs, &summary);
        fputs("}\n", stdout);
    } else {
        ms_peaks_write_summary(stdout, data.n_runs, &summary);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ms_cli_error("standard output: write error");
        goto out_texts;
    }
    status = 0;
out_texts:
    ms_sweep_texts_close(&texts);
out_data:
    ms_sweep_free(&data);
    sqlite3_close(db);
    return status;
}
