/* Private to the test workloads: the option parsing, sleeping and page touching they need. */
#ifndef MS_TESTS_WL_COMMON_H
#define MS_TESTS_WL_COMMON_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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

/*
 * Waits until path exists, looking every 5 ms: lets a test decide when a workload moves on
 * (once what it wants to see is in the database), where a fixed hold would race with a
 * busy machine. NULL returns at once.
 */
static inline void wait_file(const char *path)
{
    while (path != NULL && access(path, F_OK) != 0)
        sleep_ms(5);
}

/*
 * Writes a byte derived from seed into every page of [p, p + len) and returns a checksum
 * of what was written. RSS grows only when pages are touched, so a workload that means to
 * occupy memory writes every page; the checksum lets it prove later that the memory still
 * holds what it wrote (see sum_pages).
 */
static inline uint64_t touch_pages(unsigned char *p, size_t len, unsigned seed)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint64_t sum = 0;

    for (size_t off = 0; off < len; off += page) {
        p[off] = (unsigned char)(off / page * 31u + seed);
        sum = sum * 1099511628211ULL + p[off];
    }
    return sum;
}

/* The checksum touch_pages returned for the same block, read back from memory. */
static inline uint64_t sum_pages(const unsigned char *p, size_t len)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint64_t sum = 0;

    for (size_t off = 0; off < len; off += page)
        sum = sum * 1099511628211ULL + p[off];
    return sum;
}

#endif
