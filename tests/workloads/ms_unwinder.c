/*
 * ms_unwinder: a program that links its own libunwind and walks its own stack in a loop
 * while it allocates and frees large blocks, so that the shim samples (and captures
 * stacks with the C library's unwinder) in the same thread, at the same moments, as the
 * program's libunwind runs.
 *
 * Each of --iterations calls descends main -> iterate -> level_a -> level_b -> level_c ->
 * leaf_alloc, which allocates and touches a block of --mib MiB plus 128 KiB per
 * iteration so far (kept in a ring of four, so the fourth-oldest block is freed each
 * time; as blocks grow, every free comes at a new peak of the process), then walks the
 * stack twice: with unw_step and
 * unw_get_proc_name, and with unw_backtrace and dladdr. It prints the chain of function
 * names up to main and whether the two walks agree, and appends a line with the block's
 * checksum to LOG, opened before the first walk on the lowest free descriptor (the
 * numbers libunwind takes for the pipe it validates addresses with). At the end it prints
 * the largest total of live blocks. Linked with -rdynamic, so that dladdr and the shim's
 * stacks can name these functions.
 *
 * Usage: ms_unwinder --log LOG [--iterations N] [--mib M] [--pause-ms T]
 */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libunwind.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wl_common.h"

#define MIB ((size_t)1 << 20)
#define GROWTH ((size_t)128 << 10)
#define RING 4
#define MAX_FRAMES 64
#define CHAIN_MAX 1024

/* Exported (-rdynamic), so these are the names both walks must find. */
int iterate(long i);
int level_a(long i);
int level_b(long i);
int level_c(long i);
int leaf_alloc(long i);

static unsigned char *ring[RING];
static size_t ring_len[RING];
static size_t largest_live;
static long mib = 24;
static int log_fd = -1;

/* Appends name to the chain; 1 once main has been added. */
static int add(char *chain, const char *name)
{
    if (chain[0] != '\0')
        strncat(chain, "<", CHAIN_MAX - strlen(chain) - 1);
    strncat(chain, name, CHAIN_MAX - strlen(chain) - 1);
    return strcmp(name, "main") == 0;
}

__attribute__((noinline)) static void walk_unw_step(char *chain)
{
    unw_context_t ctx;
    unw_cursor_t cur;
    char name[256];
    unw_word_t off;

    chain[0] = '\0';
    if (unw_getcontext(&ctx) != 0 || unw_init_local(&cur, &ctx) != 0) {
        add(chain, "(no context)");
        return;
    }
    /* The first frame is this function itself; the chain starts at its caller. */
    while (unw_step(&cur) > 0) {
        if (unw_get_proc_name(&cur, name, sizeof name, &off) != 0)
            snprintf(name, sizeof name, "?");
        if (add(chain, name))
            return;
    }
    add(chain, "(main not reached)");
}

__attribute__((noinline)) static void walk_unw_backtrace(char *chain)
{
    void *ips[MAX_FRAMES];
    const int n = unw_backtrace(ips, MAX_FRAMES);

    chain[0] = '\0';
    /* ips[0] is in this function; ips[1] in its caller, as for unw_step above. */
    for (int k = 1; k < n; k++) {
        Dl_info info;
        /* A return address, so look up the byte before it (the call). */
        const char *name = dladdr((char *)ips[k] - 1, &info) != 0 && info.dli_sname != NULL
                               ? info.dli_sname
                               : "?";
        if (add(chain, name))
            return;
    }
    add(chain, "(main not reached)");
}

__attribute__((noinline)) int leaf_alloc(long i)
{
    char a[CHAIN_MAX], b[CHAIN_MAX], line[128];
    const size_t len = (size_t)mib * MIB + (size_t)i * GROWTH;
    unsigned char **slot = &ring[i % RING];
    size_t live = 0;
    uint64_t sum;
    int n;

    free(*slot);
    *slot = malloc(len);
    ring_len[i % RING] = len;
    for (int k = 0; k < RING; k++)
        live += ring_len[k];
    if (live > largest_live)
        largest_live = live;
    if (*slot == NULL) {
        fputs("ms_unwinder: malloc failed\n", stderr);
        exit(1);
    }
    sum = touch_pages(*slot, len, (unsigned)i);
    walk_unw_step(a);
    walk_unw_backtrace(b);
    printf("iteration %ld: %s%s\n", i, a, strcmp(a, b) == 0 ? "" : " (unw_backtrace differs)");
    if (strcmp(a, b) != 0)
        printf("  unw_backtrace: %s\n", b);
    n = snprintf(line, sizeof line, "iteration %ld: %zu KiB checksum %016" PRIx64 "\n", i,
                 len >> 10, sum);
    if (write(log_fd, line, (size_t)n) != n) {
        perror("ms_unwinder: write to the log");
        exit(1);
    }
    return (int)(sum & 1) + 1;
}

/* Each level adds to its callee's result, so that no call becomes a tail jump. */
__attribute__((noinline)) int level_c(long i)
{
    return leaf_alloc(i) + 1;
}

__attribute__((noinline)) int level_b(long i)
{
    return level_c(i) + 1;
}

__attribute__((noinline)) int level_a(long i)
{
    return level_b(i) + 1;
}

__attribute__((noinline)) int iterate(long i)
{
    return level_a(i) + 1;
}

int main(int argc, char **argv)
{
    enum { OPT_LOG = 256, OPT_ITER, OPT_MIB, OPT_PAUSE };
    static const struct option longopts[] = {
        {"log", required_argument, NULL, OPT_LOG},
        {"iterations", required_argument, NULL, OPT_ITER},
        {"mib", required_argument, NULL, OPT_MIB},
        {"pause-ms", required_argument, NULL, OPT_PAUSE},
        {NULL, 0, NULL, 0},
    };
    const char *log_path = NULL;
    long iterations = 40, pause_ms = 0, total = 0;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == OPT_LOG)
            log_path = optarg;
        else if (!((c == OPT_ITER && parse_long(optarg, 1, 100000, &iterations) == 0) ||
                   (c == OPT_MIB && parse_long(optarg, 1, 1024, &mib) == 0) ||
                   (c == OPT_PAUSE && parse_long(optarg, 0, 60000, &pause_ms) == 0))) {
            fprintf(stderr, "ms_unwinder: bad option '%s'\n", argv[optind - 1]);
            return 2;
        }
    }
    if (log_path == NULL || optind < argc) {
        fputs("usage: ms_unwinder --log LOG [--iterations N] [--mib M] [--pause-ms T]\n",
              stderr);
        return 2;
    }
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (log_fd < 0) {
        perror(log_path);
        return 1;
    }
    printf("log descriptor: %d\n", log_fd);
    for (long i = 0; i < iterations; i++) {
        total += iterate(i);
        sleep_ms(pause_ms);
    }
    for (int k = 0; k < RING; k++)
        free(ring[k]);
    printf("levels summed: %ld\n", total);
    printf("largest live total: %zu KiB\n", largest_live >> 10);
    return close(log_fd) == 0 ? 0 : 1;
}
