/*
 * libFuzzer harness of the sweep database reader (analyzer/sweep*.c) and everything that
 * renders what it read: the advisory as text and JSON, `memsweep peaks` as text and
 * JSON. An input is one of two things:
 *
 *   - a database file image: an input that starts with the SQLite header, or whose first
 *     byte is not printable text (so random bytes and the empty input land here). It is
 *     written to a temporary file and opened as `memsweep advise` opens one.
 *   - an SQL script: any other input. It runs against a fresh database that already has
 *     the current schema, application_id and user_version, so that the fuzzer spends its
 *     time on values the reader must judge (NULLs, text, huge or negative numbers, rows of
 *     no run, dropped columns, older user_versions) rather than on SQLite's own file
 *     checks. The database is then serialized to the temporary file and read like the
 *     other kind.
 *
 * Besides the sanitizers, the harness checks what must hold for any input: an error is one
 * line naming the file; every text output is free of control characters other than
 * newlines; every JSON output parses and is UTF-8; each run's samples by kind add up to
 * its sample count; the advisory's run counts add up and agree with the report's
 * exclusions.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "advisory.h"
#include "cli_peaks.h"
#include "memsweep/schema.h"
#include "sweepread.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Virtual machine steps one SQL script may take: bounds recursive CTEs and huge joins. */
#define SQL_STEP_LIMIT 200000
/* Largest string or blob a script may make. */
#define SQL_LENGTH_LIMIT 100000

static char db_path[64];

static void remove_db(void)
{
    if (db_path[0] != '\0')
        unlink(db_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("TMPDIR");
    int fd;

    (void)argc;
    (void)argv;
    snprintf(db_path, sizeof db_path, "%s/ms-fuzz-XXXXXX", dir != NULL && strlen(dir) < 40 ? dir : "/tmp");
    fd = mkstemp(db_path);
    if (fd < 0) {
        perror("mkstemp");
        abort();
    }
    close(fd);
    atexit(remove_db);
    /* SQLite's allocations stay small, whatever a script asks for. */
    sqlite3_hard_heap_limit64(256LL << 20);
    return 0;
}

/* A broken invariant: report it and crash, so that libFuzzer keeps the input. */
static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_sweepread: invariant broken: %s\n", what);
        abort();
    }
}

static void write_file(const void *p, size_t n)
{
    FILE *f = fopen(db_path, "wb");
    check(f != NULL, "temporary file opens");
    check(n == 0 || fwrite(p, 1, n, f) == n, "temporary file is written");
    check(fclose(f) == 0, "temporary file closes");
}

/* ---- a small JSON checker: the outputs must parse and be UTF-8 ---- */

typedef struct json_in {
    const unsigned char *p;
    const unsigned char *end;
    int depth;
} json_in_t;

static void json_ws(json_in_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r'))
        j->p++;
}

static int json_value(json_in_t *j);

static int json_string(json_in_t *j)
{
    if (j->p >= j->end || *j->p != '"')
        return 0;
    j->p++;
    while (j->p < j->end && *j->p != '"') {
        const unsigned char c = *j->p;
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            j->p++;
            if (j->p >= j->end)
                return 0;
            if (*j->p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (j->p + i >= j->end || strchr("0123456789abcdefABCDEF", j->p[i]) == NULL ||
                        j->p[i] == '\0')
                        return 0;
                j->p += 5;
                continue;
            }
            if (strchr("\"\\/bfnrt", *j->p) == NULL || *j->p == '\0')
                return 0;
            j->p++;
            continue;
        }
        if (c >= 0x80) {
            /* Well-formed UTF-8 only (RFC 3629). */
            size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            unsigned char lo = 0x80, hi = 0xBF;
            if (c < 0xC2 || c > 0xF4 || j->p + n > j->end)
                return 0;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
            else if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
            if (j->p[1] < lo || j->p[1] > hi)
                return 0;
            for (size_t i = 2; i < n; i++)
                if (j->p[i] < 0x80 || j->p[i] > 0xBF)
                    return 0;
            j->p += n;
            continue;
        }
        j->p++;
    }
    if (j->p >= j->end)
        return 0;
    j->p++;
    return 1;
}

static int json_number(json_in_t *j)
{
    const unsigned char *start = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return 0;
    while (j->p < j->end && ((*j->p >= '0' && *j->p <= '9') || *j->p == '.' || *j->p == 'e' ||
                             *j->p == 'E' || *j->p == '+' || *j->p == '-'))
        j->p++;
    return j->p > start;
}

static int json_word(json_in_t *j, const char *w)
{
    const size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
        return 0;
    j->p += n;
    return 1;
}

static int json_container(json_in_t *j, unsigned char open, unsigned char close)
{
    j->p++;
    if (++j->depth > 64)
        return 0;
    json_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return 1;
    }
    for (;;) {
        json_ws(j);
        if (open == '{') {
            if (!json_string(j))
                return 0;
            json_ws(j);
            if (j->p >= j->end || *j->p != ':')
                return 0;
            j->p++;
        }
        if (!json_value(j))
            return 0;
        json_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            j->depth--;
            return 1;
        }
        return 0;
    }
}

static int json_value(json_in_t *j)
{
    json_ws(j);
    if (j->p >= j->end)
        return 0;
    switch (*j->p) {
    case '{':
        return json_container(j, '{', '}');
    case '[':
        return json_container(j, '[', ']');
    case '"':
        return json_string(j);
    case 't':
        return json_word(j, "true");
    case 'f':
        return json_word(j, "false");
    case 'n':
        return json_word(j, "null");
    default:
        return json_number(j);
    }
}

/* The output is exactly one JSON object and a newline. */
static void check_json(const char *text, size_t len)
{
    json_in_t j = {(const unsigned char *)text, (const unsigned char *)text + len, 0};
    check(len > 0 && text[0] == '{', "JSON output is an object");
    check(json_value(&j), "JSON output parses");
    check(j.p + 1 == j.end && *j.p == '\n', "JSON output ends with one newline");
}

/* Text output: lines of printable text (bytes above 0x7F pass: labels need not be UTF-8). */
static void check_text(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        const unsigned char c = (unsigned char)text[i];
        check(c == '\n' || (c >= 0x20 && c != 0x7F), "text output has no control characters");
    }
    check(len == 0 || text[len - 1] == '\n', "text output ends with a newline");
}

/* An error message: one line that names the database. */
static void check_error(const char *err)
{
    check(err[0] != '\0', "an error has a message");
    check(strchr(err, '\n') == NULL, "an error message is one line");
    check(strstr(err, "ms-fuzz-") != NULL, "an error message names the database");
}

/* ---- the reader and the renderings ---- */

static void check_data(const ms_sweep_data_t *d)
{
    size_t not_measured = 0, paired = 0;

    for (size_t i = 0; i < d->n_runs; i++) {
        const ms_run_mem_t *r = &d->runs[i];
        size_t kinds = 0;
        for (int k = 0; k < MS_SAMPLE_KINDS; k++)
            kinds += r->peaks.kinds[k];
        check(kinds == r->n_samples, "samples by kind add up to the run's samples");
        check(r->peaks.hwm_procs <= r->n_processes, "VmHWM figures come from the run's processes");
        check(r->ended_abnormally <= r->n_processes, "abnormal ends are the run's processes");
        check(r->peak_kb >= r->peaks.all_kb, "the peak is at least the all-samples peak");
        check(r->n_samples > 0 || (r->peak_kb == 0 && r->end_kb == 0),
              "a run without samples has no figures");
        check(i == 0 || d->runs[i - 1].seq <= r->seq, "runs are in seq order");
        not_measured += !ms_run_measured(r);
        check(!r->superseded, "no superseded attempt is among the runs");
        paired += r->earlier_attempts;
    }
    check(d->report.excluded.total == not_measured, "the report counts every unmeasured run");
    /* Schema 9: each superseded attempt is kept apart, paired with a run of its seq or none. */
    for (size_t i = 0; i < d->n_superseded; i++) {
        const ms_run_mem_t *s = &d->superseded[i];
        size_t k;
        check(s->superseded, "superseded attempts are marked");
        if (s->retried_as == 0)
            continue;
        paired--;
        for (k = 0; k < d->n_runs && d->runs[k].run_id != s->retried_as; k++)
            ;
        check(k < d->n_runs && d->runs[k].seq == s->seq && s->run_id < s->retried_as,
              "a superseded attempt is followed by a later run of its seq");
    }
    check(paired == 0, "every earlier attempt of a run is a superseded attempt paired with it");
    for (size_t i = 1; i < d->n_admissions; i++)
        check(d->admissions[i - 1].run_id < d->admissions[i].run_id,
              "admissions are sorted by run_id, one per run");
}

typedef struct out_buf {
    char *text;
    size_t len;
    FILE *f;
} out_buf_t;

static void out_open(out_buf_t *o)
{
    o->text = NULL;
    o->len = 0;
    o->f = open_memstream(&o->text, &o->len);
    check(o->f != NULL, "open_memstream");
}

static void out_close(out_buf_t *o)
{
    check(fclose(o->f) == 0, "memstream closes");
}

static void render_advisory(const ms_sweep_data_t *d, long long mem_total_mb)
{
    ms_advise_opts_t o;
    ms_advisory_t a;
    out_buf_t out;

    ms_advise_opts_init(&o);
    o.mem_total_mb = mem_total_mb;
    check(ms_sweep_advise(d, &o, &a) == 0, "advise computes");
    check(a.counts.included + a.counts.excluded + a.counts.stopped + a.counts.unfinished_runs ==
              a.counts.total,
          "included + excluded + stopped + unfinished = total");
    check(a.counts.failed + a.counts.running <= a.counts.total, "failed and running runs are runs");
    check(a.counts.unfinished_runs <= a.counts.running, "unfinished runs are running runs");
    check(a.counts.excluded == a.report.excluded.total, "RunsExcluded matches the Excluded line");
    check(a.counts.retried_attempts == d->n_superseded && a.counts.retried_runs <= a.counts.total,
          "retried attempts are the superseded ones, retried runs are runs");
    check(a.counts.failed <= a.counts.total, "failed runs are runs");

    out_open(&out);
    ms_advisory_write_pre(out.f, &a.machine);
    fputc('\n', out.f);
    ms_advisory_write_post(out.f, &a);
    out_close(&out);
    check_text(out.text, out.len);
    free(out.text);

    out_open(&out);
    ms_advisory_write_json(out.f, &a);
    out_close(&out);
    check_json(out.text, out.len);
    free(out.text);
}

static void render_peaks(sqlite3 *db, const ms_sweep_data_t *d, int json)
{
    out_buf_t out;
    char err[1024] = "";
    int rc;

    out_open(&out);
    rc = ms_peaks_print(out.f, db, NULL, d, json, err, sizeof err);
    out_close(&out);
    if (rc != 0) {
        check_error(err);
    } else if (json) {
        check_json(out.text, out.len);
    } else {
        check_text(out.text, out.len);
    }
    free(out.text);
}

static void read_file(void)
{
    sqlite3 *db = NULL;
    ms_sweep_data_t d;
    ms_advisory_t a;
    char err[1024] = "";

    if (ms_sweep_open(db_path, &db, err, sizeof err) != 0) {
        check(db == NULL, "a failed open leaves no connection");
        check_error(err);
        return;
    }
    if (ms_sweep_read(db, NULL, &d, err, sizeof err) != 0) {
        check_error(err);
        sqlite3_close(db);
        return;
    }
    check_data(&d);
    render_advisory(&d, -1);
    render_advisory(&d, 1);
    render_advisory(&d, 1LL << 40);
    render_peaks(db, &d, 0);
    render_peaks(db, &d, 1);
    ms_sweep_free(&d);
    sqlite3_close(db);

    /* The launcher's path to the same advisory. */
    err[0] = '\0';
    if (ms_advise_db(db_path, NULL, &a, err, sizeof err) != 0)
        check_error(err);
}

/* Stops a script that runs too long; the reader then sees what it made so far. */
static int step_limit(void *arg)
{
    long *steps = arg;
    *steps += 1000;
    return *steps > SQL_STEP_LIMIT;
}

/* Runs a script statement by statement, going on after a statement that fails. */
static void run_script(sqlite3 *db, const char *sql)
{
    while (*sql != '\0') {
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, &tail) != SQLITE_OK) {
            /* Skip to after the next ';' and try again. */
            const char *semi = strchr(sql, ';');
            sqlite3_finalize(st);
            if (semi == NULL)
                return;
            sql = semi + 1;
            continue;
        }
        if (st != NULL) {
            while (sqlite3_step(st) == SQLITE_ROW)
                ;
            sqlite3_finalize(st);
        }
        if (tail == NULL || tail == sql)
            return;
        sql = tail;
    }
}

static void script_to_file(const uint8_t *data, size_t size)
{
    sqlite3 *db = NULL;
    char *sql = NULL;
    unsigned char *image = NULL;
    sqlite3_int64 image_size = 0;
    char pragmas[128];
    long steps = 0;

    sql = malloc(size + 1);
    check(sql != NULL, "malloc");
    memcpy(sql, data, size);
    sql[size] = '\0';
    check(sqlite3_open(":memory:", &db) == SQLITE_OK, "in-memory database opens");
    /* No file is ever attached or written: VACUUM INTO attaches too. */
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, SQL_LENGTH_LIMIT);
    check(sqlite3_exec(db, MS_SCHEMA_SQL, NULL, NULL, NULL) == SQLITE_OK, "schema");
    snprintf(pragmas, sizeof pragmas, "PRAGMA application_id=%d; PRAGMA user_version=%d;",
             MS_APPLICATION_ID, MS_SCHEMA_VERSION);
    check(sqlite3_exec(db, pragmas, NULL, NULL, NULL) == SQLITE_OK, "pragmas");
    sqlite3_progress_handler(db, 1000, step_limit, &steps);
    run_script(db, sql);
    sqlite3_progress_handler(db, 0, NULL, NULL);
    /* A script may leave a transaction open; the image is of what was committed. */
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    image = sqlite3_serialize(db, "main", &image_size, 0);
    if (image != NULL)
        write_file(image, (size_t)image_size);
    else
        write_file("", 0);
    sqlite3_free(image);
    sqlite3_close(db);
    free(sql);
}

static int is_file_image(const uint8_t *data, size_t size)
{
    static const char magic[] = "SQLite format 3";
    if (size == 0)
        return 1;
    if (size >= sizeof magic && memcmp(data, magic, sizeof magic) == 0)
        return 1;
    return !(data[0] == '\t' || data[0] == '\n' || data[0] == '\r' ||
             (data[0] >= 0x20 && data[0] < 0x7F));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (is_file_image(data, size))
        write_file(data, size);
    else
        script_to_file(data, size);
    read_file();
    return 0;
}
