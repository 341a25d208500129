/* The one-line error buffer of functions that report failures to their caller. */
#include "errbuf.h"

#include <stdarg.h>
#include <stdio.h>

void ms_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    /* SQLite's messages quote schema text, which can span lines. */
    for (char *p = err; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            *p = '?';
}
