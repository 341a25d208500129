/*
 * ms_blocks: large blocks allocated in static functions, for the attribution of a peak to
 * the allocations live at it. Built without -rdynamic, so the dynamic loader knows none of
 * its functions by name: only the analyzer's offline symbolizer can name them.
 *
 *   reserve_table():  malloc of --big-mib MiB, of which only --touch-mib MiB are written
 *                     (allocated but mostly not resident, like xz -9's dictionary)
 *   fill_buffer():    mmap of --mid-mib MiB, all written
 *   small work:       many small blocks below the block size, 8 MiB in all
 *
 * With --grow, grow_table() reallocs a block of 20 MiB to 80 MiB, all written; with
 * --remap, remap_buffer() mremaps a mapping of 24 MiB to 48 MiB, all written; with --trim,
 * the upper half of fill_buffer's mapping is unmapped again at once.
 *
 * Then, after --hold-ms, it frees the big block (a `release` reading, the highest, is taken
 * just before that free), unmaps the mapping and exits.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "wl_common.h"

#define MIB (1024UL * 1024UL)

static __attribute__((noinline)) char *reserve_table(size_t bytes)
{
    char *const p = malloc(bytes);

    /* Not a tail call: the function keeps a frame of its own in the stack. */
    if (p != NULL)
        p[0] = 1;
    return p;
}

static __attribute__((noinline)) char *fill_buffer(size_t bytes)
{
    char *const p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return NULL;
    memset(p, 0x5a, bytes);
    return p;
}

static __attribute__((noinline)) char *grow_table(void)
{
    char *p = malloc(20 * MIB), *q;

    if (p == NULL)
        return NULL;
    memset(p, 3, 20 * MIB);
    q = realloc(p, 80 * MIB);
    if (q == NULL) {
        free(p);
        return NULL;
    }
    memset(q, 4, 80 * MIB);
    return q;
}

static __attribute__((noinline)) char *remap_buffer(void)
{
    char *const p = mmap(NULL, 24 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *q;

    if (p == MAP_FAILED)
        return NULL;
    memset(p, 5, 24 * MIB);
    q = mremap(p, 24 * MIB, 48 * MIB, MREMAP_MAYMOVE);
    if (q == MAP_FAILED)
        return NULL;
    memset(q, 6, 48 * MIB);
    return q;
}

int main(int argc, char **argv)
{
    long big = 96, touch = 24, mid = 40, hold = 200;
    int grow = 0, remap = 0, trim = 0;
    char *grown = NULL, *remapped = NULL;
    char *small[128];
    char *table, *buffer;

    for (int i = 1; i < argc; i++) {
        long *v;
        if (strcmp(argv[i], "--grow") == 0 || strcmp(argv[i], "--remap") == 0 ||
            strcmp(argv[i], "--trim") == 0) {
            *(argv[i][2] == 'g' ? &grow : argv[i][2] == 'r' ? &remap : &trim) = 1;
            continue;
        }
        v = strcmp(argv[i], "--big-mib") == 0     ? &big
                        : strcmp(argv[i], "--touch-mib") == 0 ? &touch
                        : strcmp(argv[i], "--mid-mib") == 0   ? &mid
                        : strcmp(argv[i], "--hold-ms") == 0   ? &hold
                                                              : NULL;
        if (v == NULL || i + 1 >= argc || parse_long(argv[i + 1], 0, 4096, v) != 0) {
            fprintf(stderr, "usage: ms_blocks [--big-mib N] [--touch-mib N] [--mid-mib N] "
                            "[--hold-ms N] [--grow] [--remap] [--trim]\n");
            return 2;
        }
        i++;
    }
    if (touch > big)
        touch = big;
    table = reserve_table((size_t)big * MIB);
    if (table == NULL)
        return 1;
    memset(table, 1, (size_t)touch * MIB);
    buffer = fill_buffer((size_t)mid * MIB);
    if (buffer == NULL)
        return 1;
    if (trim)
        munmap(buffer + (size_t)mid / 2 * MIB, (size_t)mid / 2 * MIB);
    for (int i = 0; i < 128; i++) {
        small[i] = malloc(64 * 1024);
        if (small[i] != NULL)
            memset(small[i], 2, 64 * 1024);
    }
    if (grow && (grown = grow_table()) == NULL)
        return 1;
    if (remap && (remapped = remap_buffer()) == NULL)
        return 1;
    sleep_ms(hold);
    free(table);
    munmap(buffer, (size_t)(trim ? mid / 2 : mid) * MIB);
    free(grown);
    if (remapped != NULL)
        munmap(remapped, 48 * MIB);
    for (int i = 0; i < 128; i++)
        free(small[i]);
    return 0;
}
