/*
 * ms_workload: a program with a known memory footprint, for the integration tests.
 *
 * In order, it prints --print TEXT, allocates and touches --mib MiB (kept until exit),
 * forks a child that allocates --fork-mib MiB (the parent waits for it), holds, spikes
 * by --spike-mib MiB for --spike-ms, optionally frees the base allocation, and ends with
 * --exit CODE or a SIGKILL of itself. --wait-file PATH makes the hold last until PATH
 * exists (after --hold-ms), so that a test moves the workload on by a condition. Every allocation is written page by page, because
 * RSS only grows when pages are touched.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wl_common.h"

#define MIB (1024UL * 1024UL)

/* Largest size accepted by the size options, in MiB; keeps size * MIB far from overflow. */
#define MAX_MIB 1048576L

/* Largest hold accepted, in milliseconds (one day). */
#define MAX_MS 86400000L

typedef struct options {
    long mib;
    long hold_ms;
    long spike_mib;
    long spike_ms;
    long tail_ms;
    long fork_mib;
    int exit_code;
    int kill_self;
    int free_base;
    const char *print;
    const char *wait_file;
} options_t;

/*
 * Keeps the base allocation reachable from a global, so the compiler cannot prove the
 * memory unused and drop the writes or the allocation.
 */
static char *volatile base_block;

static const char usage_text[] =
    "Usage: ms_workload [OPTION]...\n"
    "Allocate and touch a known amount of memory, for memsweep's tests.\n"
    "\n"
    "  --mib N          allocate N MiB with malloc, touch every page, keep it\n"
    "  --hold-ms T      sleep T ms after allocating (in the child when --fork-mib)\n"
    "  --wait-file P    after the hold, wait until the file P exists\n"
    "  --spike-mib S    then map S MiB more, touch it, hold it, unmap it\n"
    "  --spike-ms T     how long the spike is held (default 0)\n"
    "  --tail-ms T      sleep T ms after the spike, before the end\n"
    "  --fork-mib N     fork a child that allocates and touches N MiB, holds --hold-ms\n"
    "                   and exits 0; the parent waits for it\n"
    "  --exit CODE      exit with status CODE (0-255)\n"
    "  --kill-self      end by raising SIGKILL instead of exiting\n"
    "  --free           free the base allocation before the end\n"
    "  --print TEXT     print TEXT and a newline to stdout first\n"
    "  --help           show this help and exit\n";

/* Writes one byte in every page, which is what makes the pages resident. */
static void touch(char *p, size_t len)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);

    for (size_t off = 0; off < len; off += page)
        p[off] = (char)0xA5;
    if (len > 0)
        p[len - 1] = (char)0xA5;
}

/* malloc'ed and touched, or NULL with a message. */
static char *alloc_touched(long mib)
{
    char *p;

    if (mib == 0)
        return NULL;
    p = malloc((size_t)mib * MIB);
    if (p == NULL) {
        fprintf(stderr, "ms_workload: cannot allocate %ld MiB\n", mib);
        exit(1);
    }
    touch(p, (size_t)mib * MIB);
    return p;
}

/*
 * The child of --fork-mib. It first releases the base block it inherited, so that its
 * own RSS is its own allocation and the run's sum counts the base block once. Like the
 * parent's, its allocation stays until exit.
 */
static void run_child(const options_t *o)
{
    free(base_block);
    base_block = alloc_touched(o->fork_mib);
    sleep_ms(o->hold_ms);
    wait_file(o->wait_file);
    exit(0);
}

static void run_fork(const options_t *o)
{
    pid_t pid, got;
    int status = 0;

    fflush(stdout); /* so the child does not print the parent's buffered output again */
    pid = fork();
    if (pid < 0) {
        perror("ms_workload: fork");
        exit(1);
    }
    if (pid == 0)
        run_child(o);
    do
        got = waitpid(pid, &status, 0);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
        perror("ms_workload: waitpid");
        exit(1);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "ms_workload: the child did not exit with 0\n");
        exit(1);
    }
}

/* Maps, touches, holds and unmaps a spike; munmap returns the pages to the kernel. */
static void run_spike(long mib, long ms)
{
    const size_t len = (size_t)mib * MIB;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        perror("ms_workload: mmap");
        exit(1);
    }
    touch(p, len);
    sleep_ms(ms);
    if (munmap(p, len) != 0) {
        perror("ms_workload: munmap");
        exit(1);
    }
}

/* Prints "ms_workload: WHAT 'ARG'" and the help hint; returns the usage exit status. */
static int bad_usage(const char *what, const char *arg)
{
    fprintf(stderr, "ms_workload: %s '%s'\nTry 'ms_workload --help'.\n", what, arg);
    return 2;
}

int main(int argc, char **argv)
{
    enum { OPT_MIB = 256, OPT_HOLD, OPT_SPIKE_MIB, OPT_SPIKE_MS, OPT_TAIL_MS, OPT_FORK_MIB, OPT_EXIT,
           OPT_KILL_SELF, OPT_FREE, OPT_PRINT, OPT_WAIT_FILE, OPT_HELP };
    static const struct option longopts[] = {
        {"mib", required_argument, NULL, OPT_MIB},
        {"hold-ms", required_argument, NULL, OPT_HOLD},
        {"spike-mib", required_argument, NULL, OPT_SPIKE_MIB},
        {"spike-ms", required_argument, NULL, OPT_SPIKE_MS},
        {"tail-ms", required_argument, NULL, OPT_TAIL_MS},
        {"fork-mib", required_argument, NULL, OPT_FORK_MIB},
        {"exit", required_argument, NULL, OPT_EXIT},
        {"kill-self", no_argument, NULL, OPT_KILL_SELF},
        {"free", no_argument, NULL, OPT_FREE},
        {"print", required_argument, NULL, OPT_PRINT},
        {"wait-file", required_argument, NULL, OPT_WAIT_FILE},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    options_t o;
    long code = 0;
    long *target;
    long max;
    int c;

    memset(&o, 0, sizeof o);
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_MIB:
            target = &o.mib, max = MAX_MIB;
            break;
        case OPT_HOLD:
            target = &o.hold_ms, max = MAX_MS;
            break;
        case OPT_SPIKE_MIB:
            target = &o.spike_mib, max = MAX_MIB;
            break;
        case OPT_SPIKE_MS:
            target = &o.spike_ms, max = MAX_MS;
            break;
        case OPT_TAIL_MS:
            target = &o.tail_ms, max = MAX_MS;
            break;
        case OPT_FORK_MIB:
            target = &o.fork_mib, max = MAX_MIB;
            break;
        case OPT_EXIT:
            target = &code, max = 255;
            break;
        case OPT_KILL_SELF:
            o.kill_self = 1;
            continue;
        case OPT_FREE:
            o.free_base = 1;
            continue;
        case OPT_PRINT:
            o.print = optarg;
            continue;
        case OPT_WAIT_FILE:
            o.wait_file = optarg;
            continue;
        case OPT_HELP:
            fputs(usage_text, stdout);
            return 0;
        default:
            return bad_usage("unknown option or missing value:", argv[optind - 1]);
        }
        if (parse_long(optarg, 0, max, target) != 0)
            return bad_usage("invalid value", optarg);
    }
    if (optind < argc)
        return bad_usage("unexpected argument", argv[optind]);
    o.exit_code = (int)code;

    if (o.print != NULL) {
        puts(o.print);
        fflush(stdout);
    }
    base_block = alloc_touched(o.mib);
    if (o.fork_mib > 0) {
        run_fork(&o);
    } else {
        sleep_ms(o.hold_ms);
        wait_file(o.wait_file);
    }
    if (o.spike_mib > 0)
        run_spike(o.spike_mib, o.spike_ms);
    sleep_ms(o.tail_ms);
    if (o.free_base) {
        free(base_block);
        base_block = NULL;
    }
    if (o.kill_self) {
        fflush(stdout);
        raise(SIGKILL);
    }
    return o.exit_code;
}
