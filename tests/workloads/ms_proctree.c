/*
 * ms_proctree: a process tree with a known footprint, for the load test.
 *
 * The program allocates and touches --mib MiB, forks --children children that each do the
 * same with memory of their own (they release the block they inherited first), and all
 * of them hold it for --hold-ms. The parent waits for every child and exits 0 only when
 * each of them exited 0, so the run's status says whether the whole tree lived.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wl_common.h"

#define MIB (1024UL * 1024UL)

/* Limits of the options: a few GiB per process, a day of holding, a small tree. */
#define MAX_MIB 4096L
#define MAX_MS 86400000L
#define MAX_CHILDREN 64L

/* Reachable from a global, so the compiler cannot drop the writes or the allocation. */
static char *volatile block;

static const char usage_text[] =
    "Usage: ms_proctree [OPTION]...\n"
    "Fork a tree of processes that each allocate and touch memory, for memsweep's tests.\n"
    "\n"
    "  --children N   fork N children (default 3)\n"
    "  --mib M        each process allocates and touches M MiB (default 8)\n"
    "  --hold-ms T    each process holds its memory T ms (default 1000)\n"
    "  --help         show this help and exit\n";

/* malloc'ed and touched page by page, since RSS grows only when pages are written. */
static char *alloc_touched(long mib)
{
    const size_t len = (size_t)mib * MIB;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *p;

    if (len == 0)
        return NULL;
    p = malloc(len);
    if (p == NULL) {
        fprintf(stderr, "ms_proctree: cannot allocate %ld MiB\n", mib);
        exit(1);
    }
    for (size_t off = 0; off < len; off += page)
        p[off] = (char)0x5A;
    return p;
}

int main(int argc, char **argv)
{
    enum { OPT_CHILDREN = 256, OPT_MIB, OPT_HOLD, OPT_HELP };
    static const struct option longopts[] = {
        {"children", required_argument, NULL, OPT_CHILDREN},
        {"mib", required_argument, NULL, OPT_MIB},
        {"hold-ms", required_argument, NULL, OPT_HOLD},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    long children = 3;
    long mib = 8;
    long hold_ms = 1000;
    int failed = 0;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        long *target;
        long max;

        switch (c) {
        case OPT_CHILDREN:
            target = &children, max = MAX_CHILDREN;
            break;
        case OPT_MIB:
            target = &mib, max = MAX_MIB;
            break;
        case OPT_HOLD:
            target = &hold_ms, max = MAX_MS;
            break;
        case OPT_HELP:
            fputs(usage_text, stdout);
            return 0;
        default:
            fprintf(stderr, "ms_proctree: unknown option or missing value: '%s'\n"
                            "Try 'ms_proctree --help'.\n", argv[optind - 1]);
            return 2;
        }
        if (parse_long(optarg, 0, max, target) != 0) {
            fprintf(stderr, "ms_proctree: invalid value '%s'\nTry 'ms_proctree --help'.\n",
                    optarg);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ms_proctree: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }

    block = alloc_touched(mib);
    fflush(stdout);
    for (long i = 0; i < children; i++) {
        const pid_t pid = fork();
        if (pid < 0) {
            perror("ms_proctree: fork");
            failed = 1;
            break;
        }
        if (pid == 0) {
            /* The inherited block is the parent's: the child's RSS is its own block. */
            free(block);
            block = alloc_touched(mib);
            sleep_ms(hold_ms);
            exit(0);
        }
    }
    sleep_ms(hold_ms);
    for (;;) {
        int status;
        const pid_t got = wait(&status);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            break; /* ECHILD: every child is reaped */
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "ms_proctree: child %ld did not exit with 0\n", (long)got);
            failed = 1;
        }
    }
    return failed;
}
