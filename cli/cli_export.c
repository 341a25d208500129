/*
 * `memsweep export PATH... --csv runs|samples`: a sweep's runs (one row each, with the
 * figures the advisory uses) or its samples (one row each), as CSV (RFC 4180) for pandas,
 * R and spreadsheets. PATH is read as `advise` reads it: a sweep directory, a database,
 * several, or a sweep of shards. Columns are documented in docs/usage.md.
 */
#include "cli_export.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "climsg.h"
#include "peaks.h"
#include "store.h"
#include "sweepread.h"

#define SUB "export"

static const char usage_text[] =
    "Usage: memsweep export [OPTION]... --csv runs|samples PATH...\n"
    "Write a sweep's runs (one row per run, with the figures the advisory uses) or its\n"
    "samples (one row per sample) as CSV on standard output. PATH is read as 'memsweep\n"
    "advise' reads it: a sweep directory, a database, several, or a sweep of shards.\n"
    "\n"
    "  --csv WHAT      runs or samples\n"
    "  -o, --output F  write to the new file F instead of standard output\n"
    "  -h, --help      show this help and exit\n";

/* One CSV field: quoted when it holds a comma, a quote, a CR or a LF (RFC 4180). */
static void field(FILE *f, const char *s, int last)
{
    if (s == NULL) {
        /* NULL: an empty field. */
    } else if (strpbrk(s, ",\"\r\n") != NULL) {
        fputc('"', f);
        for (const char *p = s; *p != '\0'; p++) {
            if (*p == '"')
                fputc('"', f);
            fputc(*p, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
    fputs(last ? "\r\n" : ",", f);
}

static void field_ll(FILE *f, int have, long long v, int last)
{
    char b[32];

    snprintf(b, sizeof b, "%lld", v);
    field(f, have ? b : NULL, last);
}

static const char *const run_cols[] = {
    "seq", "label", "status", "measured", "exit_code", "term_signal", "started_ns",
    "finished_ns", "end_rss_kb", "peak_rss_kb", "peak_is", "periodic_peak_kb",
    "all_samples_peak_kb", "vmhwm_max_kb", "wait4_maxrss_kb", "processes", "samples",
    "command", "uid", "host", "node_mem_kb", "batch_job", "batch_state", "not_measured",
    "attempt", "superseded",
};

/* Text of column col of the runs row of run_id (NULL when absent or NULL). */
static const char *run_text(sqlite3_stmt *st, int col)
{
    return st != NULL && sqlite3_column_type(st, col) != SQLITE_NULL
               ? (const char *)sqlite3_column_text(st, col)
               : NULL;
}

/*
 * The attempt number of a run (schema 9): the recorded one, else, for a run that stands,
 * one after the attempts it replaced, and for a superseded attempt (index k of
 * d->superseded), one after the earlier attempts replaced by the same run.
 */
static long long attempt_of(const ms_sweep_data_t *d, const ms_run_mem_t *r, size_t k)
{
    long long n = 1;

    if (r->attempt > 0)
        return r->attempt;
    if (!r->superseded)
        return (long long)r->earlier_attempts + 1;
    for (size_t i = 0; r->retried_as != 0 && i < k; i++)
        n += d->superseded[i].retried_as == r->retried_as;
    return n;
}

static int export_runs(FILE *f, sqlite3 *db, const ms_sweep_data_t *d)
{
    static const char *const opt[] = {"command", "exit_code", "term_signal", "started_ns",
                                      "finished_ns", "uid", "host", "node_mem_kb",
                                      "batch_job", "batch_state", "uninstrumented", "label"};
    char sql[1024] = "SELECT";
    sqlite3_stmt *st = NULL;
    const size_t ncols = sizeof run_cols / sizeof run_cols[0];

    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++) {
        int has = 0;
        if (ms_store_has_column(db, "runs", opt[i], &has) != 0)
            return -EIO;
        size_t l = strlen(sql);
        snprintf(sql + l, sizeof sql - l, "%s %s", i ? "," : "", has ? opt[i] : "NULL");
    }
    strncat(sql, " FROM runs WHERE run_id = ?1", sizeof sql - strlen(sql) - 1);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    for (size_t i = 0; i < ncols; i++)
        field(f, run_cols[i], i + 1 == ncols);
    /*
     * The runs, and the attempts --retry-oom replaced (which no figure of the advisory
     * counts) each before the run that replaced it, in the order `peaks` shows them.
     */
    for (size_t i = 0, k = 0; i < d->n_runs || k < d->n_superseded;) {
        const int sup = k < d->n_superseded &&
                        (i == d->n_runs || d->superseded[k].seq < d->runs[i].seq ||
                         (d->superseded[k].seq == d->runs[i].seq &&
                          d->superseded[k].run_id < d->runs[i].run_id));
        const size_t k_here = k;
        const ms_run_mem_t *r = sup ? &d->superseded[k++] : &d->runs[i++];
        const ms_run_peaks_t *p = &r->peaks;
        const int measured = ms_run_measured(r);
        const int row = (sqlite3_reset(st), sqlite3_bind_int64(st, 1, r->run_id),
                         sqlite3_step(st) == SQLITE_ROW);
        sqlite3_stmt *rs = row ? st : NULL;

        field_ll(f, 1, r->seq, 0);
        field(f, run_text(rs, 11), 0);
        field(f, r->status, 0);
        field_ll(f, 1, measured, 0);
        field(f, run_text(rs, 1), 0);
        field(f, run_text(rs, 2), 0);
        field(f, run_text(rs, 3), 0);
        field(f, run_text(rs, 4), 0);
        field_ll(f, measured, (long long)r->end_kb, 0);
        field_ll(f, measured, (long long)r->peak_kb, 0);
        field(f, !measured                  ? NULL
                 : ms_run_peaks_exact(p)    ? "exact"
                 : p->pss_used             ? "estimate"
                                             : "lower_bound",
              0);
        field_ll(f, measured, (long long)p->periodic_kb, 0);
        field_ll(f, measured, (long long)p->all_kb, 0);
        field_ll(f, p->hwm_procs > 0, (long long)p->hwm_max_kb, 0);
        field_ll(f, p->wait4 != MS_WAIT4_NONE, (long long)p->wait4_kb, 0);
        field_ll(f, 1, (long long)r->n_processes, 0);
        field_ll(f, 1, (long long)r->n_samples, 0);
        field(f, run_text(rs, 0), 0);
        field(f, run_text(rs, 5), 0);
        field(f, run_text(rs, 6), 0);
        field(f, run_text(rs, 7), 0);
        field(f, run_text(rs, 8), 0);
        field(f, run_text(rs, 9), 0);
        field(f, run_text(rs, 10), 0);
        field_ll(f, 1, attempt_of(d, r, k_here), 0);
        field_ll(f, 1, r->superseded, 1);
    }
    sqlite3_finalize(st);
    return 0;
}

static int export_samples(FILE *f, sqlite3 *db)
{
    static const char *const cols[] = {"seq", "uid", "pid", "proc_id", "t_ns", "kind",
                                       "rss_kb", "hwm_kb", "heap_kb", "rss_anon_kb",
                                       "rss_file_kb", "rss_shmem_kb", "pss_kb"};
    static const char *const sample_opt[] = {"hwm_kb", "heap_kb", "rss_anon_kb", "rss_file_kb",
                                             "rss_shmem_kb", "pss_kb"};
    const size_t ncols = sizeof cols / sizeof cols[0];
    char sql[1024];
    sqlite3_stmt *st = NULL;
    int has_uid = 0, rc;

    if (ms_store_has_column(db, "runs", "uid", &has_uid) != 0)
        return -EIO;
    snprintf(sql, sizeof sql, "SELECT r.seq, %s, p.pid, s.proc_id, s.t_ns, s.kind, s.rss_kb",
             has_uid ? "r.uid" : "NULL");
    for (size_t i = 0; i < sizeof sample_opt / sizeof sample_opt[0]; i++) {
        int has = 0;
        size_t l = strlen(sql);
        if (ms_store_has_column(db, "samples", sample_opt[i], &has) != 0)
            return -EIO;
        snprintf(sql + l, sizeof sql - l, ", %s%s", has ? "s." : "NULL", has ? sample_opt[i] : "");
    }
    strncat(sql,
            " FROM samples s JOIN processes p ON p.proc_id = s.proc_id JOIN runs r"
            " ON r.run_id = p.run_id ORDER BY r.seq, r.run_id, s.proc_id, s.t_ns",
            sizeof sql - strlen(sql) - 1);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    for (size_t i = 0; i < ncols; i++)
        field(f, cols[i], i + 1 == ncols);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        for (int c = 0; c < (int)ncols; c++)
            field(f, run_text(st, c), c + 1 == (int)ncols);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

int ms_cmd_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"csv", required_argument, NULL, 'c'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *what = NULL, *out_path = NULL;
    ms_sweep_data_t data;
    sqlite3 *db = NULL;
    FILE *f = stdout;
    char name[1024];
    int c, rc, status = 1;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            what = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return fflush(stdout) == 0 ? 0 : 1;
        default:
            ms_cli_getopt_error(SUB, longopts, argv, c);
            return 2;
        }
    }
    if (what == NULL || (strcmp(what, "runs") != 0 && strcmp(what, "samples") != 0)) {
        ms_cli_usage_error(SUB, what == NULL ? "missing --csv runs|samples"
                                             : "--csv: expected runs or samples");
        return 2;
    }
    memset(&data, 0, sizeof data);
    rc = ms_cli_read_sweep(SUB, argc, argv, &db, &data, name, sizeof name);
    if (rc != 0)
        return rc;
    if (out_path != NULL) {
        f = fopen(out_path, "wxe");
        if (f == NULL) {
            ms_cli_error("%s: %s", out_path, strerror(errno));
            goto out;
        }
    }
    rc = strcmp(what, "runs") == 0 ? export_runs(f, db, &data) : export_samples(f, db);
    if (rc != 0) {
        ms_cli_error("%s: %s", name, sqlite3_errmsg(db));
        goto out;
    }
    if (fflush(f) != 0 || ferror(f)) {
        ms_cli_error("%s: %s", out_path != NULL ? out_path : "standard output", strerror(errno));
        goto out;
    }
    status = 0;
out:
    if (f != stdout && f != NULL && fclose(f) != 0 && status == 0) {
        ms_cli_error("%s: %s", out_path, strerror(errno));
        status = 1;
    }
    ms_sweep_free(&data);
    sqlite3_close(db);
    return status;
}
