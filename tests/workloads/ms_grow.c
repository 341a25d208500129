/*
 * ms_grow: grows steadily until something stops it. Every --step-ms it allocates and
 * touches --step-mib MiB more, keeps it, and prints "grew to N MiB" (flushed, so a test
 * can follow it). Reaching --max-mib it prints "reached N MiB" and exits 0: a run that
 * was meant to be stopped by a memory limit or a kill, and was not, says so.
 *
 * Usage: ms_grow --step-mib S --step-ms T --max-mib M
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "wl_common.h"

#define MIB ((size_t)1 << 20)

/* The blocks, chained through their first bytes, so none can be proven unused. */
static void *volatile head;

int main(int argc, char **argv)
{
    enum { OPT_STEP_MIB = 256, OPT_STEP_MS, OPT_MAX_MIB };
    static const struct option longopts[] = {
        {"step-mib", required_argument, NULL, OPT_STEP_MIB},
        {"step-ms", required_argument, NULL, OPT_STEP_MS},
        {"max-mib", required_argument, NULL, OPT_MAX_MIB},
        {NULL, 0, NULL, 0},
    };
    long step_mib = 0, step_ms = 0, max_mib = 0;
    long grown = 0;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        long *target = c == OPT_STEP_MIB ? &step_mib
                     : c == OPT_STEP_MS  ? &step_ms
                     : c == OPT_MAX_MIB  ? &max_mib
                                         : NULL;
        if (target == NULL || parse_long(optarg, 1, 1048576, target) != 0) {
            fprintf(stderr, "ms_grow: bad option '%s'\n", argv[optind - 1]);
            return 2;
        }
    }
    if (step_mib == 0 || step_ms == 0 || max_mib == 0 || optind < argc) {
        fputs("usage: ms_grow --step-mib S --step-ms T --max-mib M\n", stderr);
        return 2;
    }
    while (grown + step_mib <= max_mib) {
        unsigned char *p = malloc((size_t)step_mib * MIB);
        if (p == NULL) {
            fprintf(stderr, "ms_grow: malloc failed at %ld MiB\n", grown);
            return 1;
        }
        touch_pages(p, (size_t)step_mib * MIB, (unsigned)grown);
        *(void **)p = head;
        head = p;
        grown += step_mib;
        printf("grew to %ld MiB\n", grown);
        fflush(stdout);
        sleep_ms(step_ms);
    }
    printf("reached %ld MiB\n", grown);
    return 0;
}
