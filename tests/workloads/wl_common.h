/* Private to the test workloads: the option parsing and sleeping they all need. */
#ifndef MS_TESTS_WL_COMMON_H
#define MS_TESTS_WL_COMMON_H

#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* A whole decimal number in [min, max] into *out; 0, or -1 for anything else. */
static inline int parse_long(const char *text, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Sleeps ms milliseconds, through interruptions by signals. */
static inline void sleep_ms(long ms)
{
    struct timespec left = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
}

#endif
