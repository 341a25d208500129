/*
 * Text from outside (a database, the machine, a file) made fit for a one-line text
 * output: control characters shown as '?', long text cut where a word ends.
 */
#ifndef MS_COMMON_TEXTCLEAN_H
#define MS_COMMON_TEXTCLEAN_H

#include <stddef.h>
#include <stdio.h>

/*
 * Writes s for a one-line text output: control characters become '?', and at most max
 * bytes are written; max 0 means no limit. A longer text is cut where a word ends and
 * followed by "..." (a first word longer than max is cut before a UTF-8 sequence).
 */
void ms_write_clean(FILE *f, const char *s, size_t max);

/* Copies s into buf (len bytes) as ms_write_clean writes it, cut to fit. */
void ms_clean_text(char *buf, size_t len, const char *s);

#endif
