/* The streaming JSON writer of the analyzer's --json outputs. */
#include "jsonw.h"

#include "utf8.h"

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
        } else if ((n = ms_utf8_valid_len(p)) == 0) {
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
