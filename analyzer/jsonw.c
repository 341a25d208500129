/* The streaming JSON writer of the analyzer's --json outputs. */
#include "jsonw.h"

/*
 * Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 when the bytes at s are not one.
 */
static size_t utf8_valid(const unsigned char *s)
{
    const unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

void ms_json_string(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    fputc('"', f);
    while (*p != '\0') {
        const unsigned char c = *p;
        size_t n;
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
            p++;
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
            p++;
        } else if ((n = utf8_valid(p)) == 0) {
            /* Text read from a database need not be UTF-8; JSON must be. */
            fputs("\\ufffd", f);
            p++;
        } else {
            fwrite(p, 1, n, f);
            p += n;
        }
    }
    fputc('"', f);
}

void ms_json_key(FILE *f, int *first, const char *key)
{
    fputs(*first ? "{" : ",", f);
    *first = 0;
    ms_json_string(f, key);
    fputc(':', f);
}

void ms_json_int(FILE *f, int *first, const char *key, long long v)
{
    ms_json_key(f, first, key);
    fprintf(f, "%lld", v);
}

void ms_json_dec1(FILE *f, int *first, const char *key, double v)
{
    ms_json_key(f, first, key);
    fprintf(f, "%.1f", v);
}

void ms_json_str(FILE *f, int *first, const char *key, const char *s)
{
    ms_json_key(f, first, key);
    if (s == NULL)
        fputs("null", f);
    else
        ms_json_string(f, s);
}

void ms_json_bool(FILE *f, int *first, const char *key, int v)
{
    ms_json_key(f, first, key);
    fputs(v ? "true" : "false", f);
}

void ms_json_null(FILE *f, int *first, const char *key)
{
    ms_json_key(f, first, key);
    fputs("null", f);
}
