/*
 * The error buffer of functions that report failures to their caller: a one-line message
 * the caller prints (after "memsweep: ") or passes on.
 */
#ifndef MS_COMMON_ERRBUF_H
#define MS_COMMON_ERRBUF_H

#include <stddef.h>

/*
 * Formats a one-line message into err (errlen bytes, cut when longer), as the functions
 * that report errors to their caller do: control characters (a newline in a file name or
 * in the schema text SQLite quotes) become '?'. Does nothing when err is NULL or errlen 0.
 */
void ms_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
