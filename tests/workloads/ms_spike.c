/*
 * ms_spike: short allocation spikes that a periodic sampler mostly misses.
 *
 * Repeats --count times: malloc --mib MiB, write every page, hold --hold-ms, free, then
 * pause --pause-ms. The pause is longer than the hold, so a 500 ms timer lands inside a
 * spike only by chance, while the kernel's VmHWM always records it. RSS is highest just
 * before each free, which is where the shim's `release` sample reads it.
 *
 * ms_spike_allocate() does the malloc, the writes and the free itself, and is exported
 * (the executable is linked with -rdynamic), so a stack captured in either call names it
 * after dladdr().
 *
 * --base-mib keeps a block of that size, touched, from before the first spike to the
 * exit. --hold-file and --pause-file make each hold and each pause last, after their
 * --hold-ms and --pause-ms, until the file exists: a test then moves the program on once
 * the database shows a spike, or the base after it, however slowly the machine runs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wl_common.h"

#define MIB (1024UL * 1024UL)

/* Largest spike accepted, in MiB (64 GiB); keeps size * MIB far from overflow. */
#define MAX_MIB 65536L

/* Largest count and delay accepted. */
#define MAX_COUNT 100000L
#define MAX_MS 86400000L

/* The files that end each hold and each pause (--hold-file, --pause-file); NULL: none. */
static const char *hold_file;
static const char *pause_file;

/* Keeps the base block reachable, so the compiler cannot drop it or its writes. */
static unsigned char *volatile base_block;

/* Exported for the stack test; returns a checksum of the spike's contents. */
uint64_t ms_spike_allocate(size_t len, long hold_ms, unsigned round);

static const char usage_text[] =
    "Usage: ms_spike [OPTION]...\n"
    "Allocate, touch and free a large block repeatedly, for memsweep's tests.\n"
    "\n"
    "  --count K      number of spikes (default 5)\n"
    "  --mib N        size of each spike in MiB (default 256)\n"
    "  --hold-ms T    how long each spike is held after it is touched (default 50)\n"
    "  --pause-ms T   pause after each spike (default 300)\n"
    "  --base-mib N   keep N MiB, touched, from before the first spike to the exit\n"
    "  --hold-file P  after --hold-ms, hold each spike until the file P exists\n"
    "  --pause-file P after --pause-ms, pause until the file P exists\n"
    "  --help         show this help and exit\n";

/*
 * The function must stay a frame of its own under its exported name in every stack taken
 * inside malloc or free: not inlined into main, and not replaced by a specialised local
 * clone (GCC's noipa), which dladdr would not name.
 */
#if defined(__GNUC__) && !defined(__clang__)
#define MS_KEEP_FRAME __attribute__((noinline, noipa))
#else
#define MS_KEEP_FRAME __attribute__((noinline))
#endif

MS_KEEP_FRAME uint64_t ms_spike_allocate(size_t len, long hold_ms, unsigned round)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *volatile p = malloc(len);
    uint64_t sum = 0;

    if (p == NULL) {
        fprintf(stderr, "ms_spike: cannot allocate %zu bytes\n", len);
        exit(1);
    }
    for (size_t off = 0; off < len; off += page)
        p[off] = (unsigned char)(off / page + round);
    sleep_ms(hold_ms);
    wait_file(hold_file);
    /* Read back, so the writes are observable and the block cannot be optimised away. */
    for (size_t off = 0; off < len; off += page)
        sum += p[off];
    free(p);
    return sum;
}

int main(int argc, char **argv)
{
    enum {
        OPT_COUNT = 256,
        OPT_MIB,
        OPT_HOLD,
        OPT_PAUSE,
        OPT_BASE,
        OPT_HOLD_FILE,
        OPT_PAUSE_FILE,
        OPT_HELP
    };
    static const struct option longopts[] = {
        {"count", required_argument, NULL, OPT_COUNT},
        {"mib", required_argument, NULL, OPT_MIB},
        {"hold-ms", required_argument, NULL, OPT_HOLD},
        {"pause-ms", required_argument, NULL, OPT_PAUSE},
        {"base-mib", required_argument, NULL, OPT_BASE},
        {"hold-file", required_argument, NULL, OPT_HOLD_FILE},
        {"pause-file", required_argument, NULL, OPT_PAUSE_FILE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    long count = 5, mib = 256, hold_ms = 50, pause_ms = 300, base_mib = 0;
    uint64_t sum = 0;
    long *target;
    long min, max;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_COUNT:
            target = &count, min = 1, max = MAX_COUNT;
            break;
        case OPT_MIB:
            target = &mib, min = 1, max = MAX_MIB;
            break;
        case OPT_HOLD:
            target = &hold_ms, min = 0, max = MAX_MS;
            break;
        case OPT_PAUSE:
            target = &pause_ms, min = 0, max = MAX_MS;
            break;
        case OPT_BASE:
            target = &base_mib, min = 0, max = MAX_MIB;
            break;
        case OPT_HOLD_FILE:
            hold_file = optarg;
            continue;
        case OPT_PAUSE_FILE:
            pause_file = optarg;
            continue;
        case OPT_HELP:
            fputs(usage_text, stdout);
            return 0;
        default:
            fprintf(stderr, "ms_spike: unknown option or missing value: '%s'\n"
                            "Try 'ms_spike --help'.\n", argv[optind - 1]);
            return 2;
        }
        if (parse_long(optarg, min, max, target) != 0) {
            fprintf(stderr, "ms_spike: invalid value '%s'\nTry 'ms_spike --help'.\n", optarg);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ms_spike: unexpected argument '%s'\nTry 'ms_spike --help'.\n",
                argv[optind]);
        return 2;
    }

    if (base_mib > 0) {
        base_block = malloc((size_t)base_mib * MIB);
        if (base_block == NULL) {
            fprintf(stderr, "ms_spike: cannot allocate %ld MiB\n", base_mib);
            return 1;
        }
        touch_pages(base_block, (size_t)base_mib * MIB, 1);
    }
    for (long i = 0; i < count; i++) {
        sum += ms_spike_allocate((size_t)mib * MIB, hold_ms, (unsigned)i);
        sleep_ms(pause_ms);
        wait_file(pause_file);
    }
    printf("ms_spike: %ld x %ld MiB, checksum %llu\n", count, mib, (unsigned long long)sum);
    return 0;
}
