/* Counting and telling what a sweep database could not give the figures. */
#include "dbreport.h"

#include <stdarg.h>
#include <string.h>

#include "jsonw.h"
#include "textclean.h"

static const struct {
    ms_bad_where_t where;
    const char *text;
} bad_info[MS_BAD_COUNT] = {
#define MS__BAD_INFO(name, where, text) {MS_BAD_##where, text},
    MS_BAD_LIST(MS__BAD_INFO)
#undef MS__BAD_INFO
};

ms_bad_where_t ms_bad_where(ms_bad_t reason)
{
    return bad_info[reason].where;
}

const char *ms_bad_text(ms_bad_t reason)
{
    return bad_info[reason].text;
}

void ms_tally_add(ms_tally_t *t, const char *text)
{
    char clean[MS_TALLY_TEXT];

    ms_clean_text(clean, sizeof clean, text != NULL ? text : "NULL");
    t->total++;
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->text[i], clean) == 0) {
            t->count[i]++;
            return;
        }
    }
    if (t->n < MS_TALLY_KEEP) {
        memcpy(t->text[t->n], clean, sizeof clean);
        t->count[t->n] = 1;
        t->n++;
        return;
    }
    t->other++;
}

/* The order a tally is printed in: most frequent first, ties in order of appearance. */
static void tally_order(const ms_tally_t *t, size_t order[MS_TALLY_KEEP])
{
    for (size_t i = 0; i < t->n; i++) {
        size_t j = i;
        while (j > 0 && t->count[order[j - 1]] < t->count[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
}

size_t ms_db_report_count(const ms_db_report_t *r, ms_bad_where_t where)
{
    size_t n = 0;

    for (int i = 0; i < MS_BAD_COUNT; i++)
        if (bad_info[i].where == where)
            n += r->bad[i];
    return n;
}

static const char *const where_one[MS_BAD_WHERE_COUNT] = {"run", "process", "sample", "value"};
static const char *const where_many[MS_BAD_WHERE_COUNT] = {"runs", "processes", "samples",
                                                           "values"};
static const char *const where_key[MS_BAD_WHERE_COUNT] = {"Runs", "Processes", "Samples",
                                                          "Values"};

static void write_tally_reasons(FILE *f, const ms_tally_t *t, const char *other_text)
{
    size_t order[MS_TALLY_KEEP];

    tally_order(t, order);
    fputs(" (", f);
    for (size_t i = 0; i < t->n; i++)
        fprintf(f, "%s%s: %zu", i > 0 ? ", " : "", t->text[order[i]], t->count[order[i]]);
    if (t->other > 0)
        fprintf(f, "%s%s: %zu", t->n > 0 ? ", " : "", other_text, t->other);
    fputc(')', f);
}

void ms_db_report_write(FILE *f, const ms_db_report_t *r)
{
    if (r->excluded.total > 0) {
        fprintf(f, "Excluded: %zu run%s not measured", r->excluded.total,
                r->excluded.total == 1 ? "" : "s");
        write_tally_reasons(f, &r->excluded, "other reasons");
        fputc('\n', f);
    }
    for (int w = 0; w < MS_BAD_WHERE_COUNT; w++) {
        const size_t n = ms_db_report_count(r, (ms_bad_where_t)w);
        int first = 1;
        if (n == 0)
            continue;
        fprintf(f, "%s: %zu %s (", w == MS_BAD_VALUES ? "Ignored" : "Skipped", n,
                n == 1 ? where_one[w] : where_many[w]);
        for (int i = 0; i < MS_BAD_COUNT; i++) {
            if (bad_info[i].where != (ms_bad_where_t)w || r->bad[i] == 0)
                continue;
            fprintf(f, "%s%s: %zu", first ? "" : ", ", bad_info[i].text, r->bad[i]);
            first = 0;
        }
        fputs(")\n", f);
    }
}

/* Formats a note into buf; always returns 0, for ms_db_report_note's convenience. */
static int note(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int note(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return 0;
}

/* Appends the reasons of a tally to buf, as "(a: 1, b: 2)". */
static void tally_text(char *buf, size_t len, const ms_tally_t *t)
{
    size_t order[MS_TALLY_KEEP];
    size_t used = 0;

    tally_order(t, order);
    for (size_t i = 0; i < t->n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s: %zu", i > 0 ? ", " : "",
                                 t->text[order[i]], t->count[order[i]]);
    if (t->other > 0 && used < len)
        snprintf(buf + used, len - used, "%sother: %zu", t->n > 0 ? ", " : "", t->other);
}

int ms_db_report_note(const ms_db_report_t *r, size_t i, char *buf, size_t len)
{
    size_t k = 0;

    if (r->no_sweep_row && k++ == i)
        return note(buf, len,
                    "the database has no sweeps row; the machine's MemTotal and the sampling "
                    "interval are unknown.");
    if (r->unknown_status.total > 0 && k++ == i) {
        char reasons[MS_TALLY_KEEP * (MS_TALLY_TEXT + 24) + 32];
        tally_text(reasons, sizeof reasons, &r->unknown_status);
        return note(buf, len, "%zu run%s a status this version does not know (%s); counted "
                              "as failed.",
                    r->unknown_status.total, r->unknown_status.total == 1 ? " has" : "s have",
                    reasons);
    }
    if (r->unstored_failed > 0 && k++ == i) {
        const unsigned long long n = r->unstored_failed;
        if (r->unstored_note[0] != '\0')
            return note(buf, len,
                        "%llu reading%s lost by processes whose writes to the database "
                        "failed (the first reason noted: %s); no figure includes %s.",
                        n, n == 1 ? " was" : "s were", r->unstored_note, n == 1 ? "it" : "them");
        return note(buf, len,
                    "%llu reading%s lost by processes whose writes to the database failed; "
                    "no figure includes %s.",
                    n, n == 1 ? " was" : "s were", n == 1 ? "it" : "them");
    }
    if (r->unstored > r->unstored_failed && k++ == i) {
        const unsigned long long n = r->unstored - r->unstored_failed;
        return note(buf, len,
                    "%llu reading%s not stored though no write to the database failed: the "
                    "shim's sampler thread did not run when %s fell due (a loaded machine "
                    "starves it), or the database stayed locked by other writers for too "
                    "long; no figure includes %s.",
                    n, n == 1 ? " was" : "s were", n == 1 ? "it" : "they",
                    n == 1 ? "it" : "them");
    }
    return -1;
}

static void json_tally(FILE *f, int *first, const char *key, const ms_tally_t *t)
{
    size_t order[MS_TALLY_KEEP];
    int ofirst = 1, rfirst = 1;

    tally_order(t, order);
    ms_json_key(f, first, key);
    ms_json_int(f, &ofirst, "Count", (long long)t->total);
    ms_json_key(f, &ofirst, "Reasons");
    if (t->n == 0 && t->other == 0)
        fputc('{', f);
    for (size_t i = 0; i < t->n; i++)
        ms_json_int(f, &rfirst, t->text[order[i]], (long long)t->count[order[i]]);
    if (t->other > 0)
        ms_json_int(f, &rfirst, "other", (long long)t->other);
    fputs("}}", f);
}

static void json_bad(FILE *f, int *first, const char *key, const ms_db_report_t *r,
                     ms_bad_where_t w)
{
    int ofirst = 1, rfirst = 1;

    ms_json_key(f, first, key);
    ms_json_int(f, &ofirst, "Count", (long long)ms_db_report_count(r, w));
    ms_json_key(f, &ofirst, "Reasons");
    for (int i = 0; i < MS_BAD_COUNT; i++)
        if (bad_info[i].where == w && r->bad[i] > 0)
            ms_json_int(f, &rfirst, bad_info[i].text, (long long)r->bad[i]);
    if (rfirst)
        fputc('{', f);
    fputs("}}", f);
}

void ms_db_report_write_json(FILE *f, int *first, const ms_db_report_t *r)
{
    int sfirst = 1;

    json_tally(f, first, "Excluded", &r->excluded);
    ms_json_key(f, first, "Skipped");
    for (int w = 0; w < MS_BAD_VALUES; w++)
        json_bad(f, &sfirst, where_key[w], r, (ms_bad_where_t)w);
    fputc('}', f);
    json_bad(f, first, "Ignored", r, MS_BAD_VALUES);
    json_tally(f, first, "UnknownStatus", &r->unknown_status);
    ms_json_int(f, first, "Unstored",
                r->unstored > (unsigned long long)INT64_MAX ? INT64_MAX : (long long)r->unstored);
    ms_json_int(f, first, "UnstoredWriteFailed",
                r->unstored_failed > (unsigned long long)INT64_MAX ? INT64_MAX
                                                                   : (long long)r->unstored_failed);
}
