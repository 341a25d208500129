/*
 * ms_grow: grows steadily until something stops it. Every --step-ms it allocates and
 * touches --step-mib MiB more, keeps it, and prints "grew to N MiB" (flushed, so a test
 * can follow it). Reaching --max-mib it prints "reached N MiB" and exits 0: a run that
 * was meant to be stopped by a memory limit or a kill, and was not, says so.
 *
 * With --pause-at-mib P --wait-file PATH it stops growing once it has grown to P MiB or
 * more, until PATH exists, and then grows on. A test can thus wait until the database
 * shows P MiB before the growth goes on towards its end (a memory limit, a kill), where a
 * growth rate alone would race with a sampler that a busy machine holds up.
 *
 * Usage: ms_grow --step-mib S --step-ms T --max-mib M [--pause-at-mib P --wait-file PATH]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "wl_common.h"

#define MIB ((size_t)1 << 20)

static const char usage_text[] =
    "Usage: ms_grow --step-mib S --step-ms T --max-mib M [--pause-at-mib P --wait-file F]\n"
    "Grow by allocating and touching memory until stopped or M MiB are reached.\n"
    "\n"
    "  --step-mib S      allocate and touch S MiB more at each step\n"
    "  --step-ms T       sleep T ms after each step\n"
    "  --max-mib M       grow no further than M MiB, then print \"reached\" and exit 0\n"
    "  --pause-at-mib P  once grown to P MiB or more, wait for --wait-file, then grow on\n"
    "  --wait-file F     the file whose existence ends the pause\n"
    "  --help            show this help and exit\n";

/* The blocks, chained through their first bytes, so none can be proven unused. */
static void *volatile head;

int main(int argc, char **argv)
{
    enum { OPT_STEP_MIB = 256, OPT_STEP_MS, OPT_MAX_MIB, OPT_PAUSE_AT, OPT_WAIT_FILE,
           OPT_HELP };
    static const struct option longopts[] = {
        {"step-mib", required_argument, NULL, OPT_STEP_MIB},
        {"step-ms", required_argument, NULL, OPT_STEP_MS},
        {"max-mib", required_argument, NULL, OPT_MAX_MIB},
        {"pause-at-mib", required_argument, NULL, OPT_PAUSE_AT},
        {"wait-file", required_argument, NULL, OPT_WAIT_FILE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    long step_mib = 0, step_ms = 0, max_mib = 0, pause_at = 0;
    const char *wait_path = NULL;
    long grown = 0;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        long *target = c == OPT_STEP_MIB ? &step_mib
                     : c == OPT_STEP_MS  ? &step_ms
                     : c == OPT_MAX_MIB  ? &max_mib
                     : c == OPT_PAUSE_AT ? &pause_at
                                         : NULL;
        if (c == OPT_HELP) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (c == OPT_WAIT_FILE) {
            wait_path = optarg;
            continue;
        }
        if (target == NULL || parse_long(optarg, 1, 1048576, target) != 0) {
            fprintf(stderr, "ms_grow: bad option '%s'\n", argv[optind - 1]);
            return 2;
        }
    }
    /* A pause needs a file to end it, and a file means nothing without a pause. */
    if (step_mib == 0 || step_ms == 0 || max_mib == 0 || optind < argc ||
        (pause_at == 0) != (wait_path == NULL)) {
        fputs("usage: ms_grow --step-mib S --step-ms T --max-mib M"
              " [--pause-at-mib P --wait-file F]\n", stderr);
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
        if (wait_path != NULL && grown >= pause_at) {
            wait_file(wait_path);
            wait_path = NULL;
        }
        sleep_ms(step_ms);
    }
    printf("reached %ld MiB\n", grown);
    return 0;
}
