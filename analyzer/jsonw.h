/*
 * Minimal streaming JSON writer shared by the advisory and `memsweep peaks`: objects are
 * opened by their first key, so a writer emits keys in order and closes with '}'.
 */
#ifndef MS_ANALYZER_JSONW_H
#define MS_ANALYZER_JSONW_H

#include <stdio.h>

/*
 * Writes s as a JSON string, escaping quotes, backslashes and control characters, and
 * writing U+FFFD for each byte that does not belong to well-formed UTF-8.
 */
void ms_json_string(FILE *f, const char *s);

/*
 * Writes "{" before the first key of an object (when *first is set) and "," before every
 * later one, then the key and a colon. The caller writes the value.
 */
void ms_json_key(FILE *f, int *first, const char *key);

/* A key and a whole number. */
void ms_json_int(FILE *f, int *first, const char *key, long long v);

/* A key and a figure with one decimal (MiB and percentages, as the text prints them). */
void ms_json_dec1(FILE *f, int *first, const char *key, double v);

/* A key and a string, or null when s is NULL. */
void ms_json_str(FILE *f, int *first, const char *key, const char *s);

/* A key and true or false. */
void ms_json_bool(FILE *f, int *first, const char *key, int v);

/* A key and null. */
void ms_json_null(FILE *f, int *first, const char *key);

#endif
