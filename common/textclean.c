/* Cleaning and cutting outside text for one-line text output. */
#include "textclean.h"

#include <string.h>

#include "utf8.h"

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
        const size_t n = ms_utf8_seq_len(s + k);
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
        const size_t k = ms_utf8_seq_len(s + used);
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
