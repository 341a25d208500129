/* Counting and telling what a sweep database could not give the figures. */
#include "dbreport.h"

#include <stdarg.h>
#include <string.h>

#include "jsonw.h"

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

/* Length of the UTF-8 sequence that starts with byte c, or 1 for a stray byte. */
static size_t utf8_len(unsigned char c)
{
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    return 1;
}

/* The length of the UTF-8 sequence at s, or 1 for a stray byte (kept alone). */
static size_t seq_len(const char *s)
{
    size_t n = utf8_len((unsigned char)*s);

    /* A lead byte without its continuation bytes stands alone, so that what follows it
     * is cleaned in turn. */
    for (size_t i = 1; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            return 1;
    }
    return n;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * How many bytes of s to keep when at most room fit: the longest prefix that ends where a
 * word ends (before a blank, trailing blanks dropped), so that a cut text reads as whole
 * words. A first word longer than room cannot be kept whole; it is cut before the UTF-8
 * sequence that would not fit.
 */
static size_t cut_len(const char *s, size_t room)
{
    size_t k = 0;
    size_t word_end = 0;

    while (s[k] != '\0') {
        const size_t n = seq_len(s + k);
        if (k + n > room)
            break;
        if (is_blank(s[k]) && k > 0 && !is_blank(s[k - 1]))
            word_end = k;
        k += n;
    }
    if (s[k] == '\0' || is_blank(s[k])) {
        while (k > 0 && is_blank(s[k - 1]))
            k--;
        return k;
    }
    return word_end > 0 ? word_end : k;
}

/*
 * Passes the cleaned form of the first n bytes of s through put(). Cleaning keeps the
 * length: a control character becomes one '?'.
 */
static void clean_each(const char *s, size_t n, void (*put)(void *, const char *, size_t),
                       void *arg)
{
    size_t used = 0;

    while (used < n && s[used] != '\0') {
        const unsigned char c = (unsigned char)s[used];
        const size_t k = seq_len(s + used);
        if (c < 0x20 || c == 0x7F)
            put(arg, "?", 1);
        else
            put(arg, s + used, k);
        used += k;
    }
}

static void put_file(void *arg, const char *s, size_t n)
{
    fwrite(s, 1, n, (FILE *)arg);
}

void ms_write_clean(FILE *f, const char *s, size_t max)
{
    const size_t n = strlen(s);

    if (max == 0 || n <= max) {
        clean_each(s, n, put_file, f);
        return;
    }
    /* Cut, leaving room for the "..." that marks it. */
    clean_each(s, cut_len(s, max > 3 ? max - 3 : 0), put_file, f);
    fputs("...", f);
}

typedef struct buf_out {
    char *buf;
    size_t used;
} buf_out_t;

static void put_buf(void *arg, const char *s, size_t n)
{
    buf_out_t *b = arg;
    memcpy(b->buf + b->used, s, n);
    b->used += n;
}

void ms_clean_text(char *buf, size_t len, const char *s)
{
    buf_out_t b = {buf, 0};
    const size_t n = strlen(s);

    if (len == 0)
        return;
    if (n < len) {
        clean_each(s, n, put_buf, &b);
    } else if (len > 4) {
        clean_each(s, cut_len(s, len - 4), put_buf, &b);
        put_buf(&b, "...", 3);
    }
    buf[b.used] = '\0';
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
