/*
 * A program that closes a descriptor number and immediately reuses it for its own file,
 * in a tight loop, as servers and shells do with dup2: every write to the reused number
 * must reach the program's file. Counts and prints the writes that did not.
 *
 * It loops until STOPFILE exists, so that a test lets it go once it has seen in the
 * database as much of the shim's work as it wants to overlap the loop, however slowly the
 * machine runs. MAX_SECONDS (default 300) bounds a loop whose test has gone away; a
 * program stopped by it says so on stderr and exits 3.
 *
 * Usage: ms_fdreuse LOGFILE STOPFILE [MAX_SECONDS]
 */
#include "wl_common.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* The stop file is looked for once in this many rounds, so the loop stays tight. */
#define CHECK_EVERY 1024

int main(int argc, char **argv)
{
    struct timespec t0, t;
    long writes = 0, failed = 0, max_s = 300;
    int log, reused, stopped = 0;

    if ((argc != 3 && argc != 4) || (argc == 4 && parse_long(argv[3], 1, 86400, &max_s) != 0)) {
        fputs("usage: ms_fdreuse LOGFILE STOPFILE [MAX_SECONDS]\n", stderr);
        return 2;
    }
    log = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log < 0)
        return 1;
    /* The reused number is the lowest free one: what a descriptor opened by anyone takes. */
    reused = open("/dev/null", O_WRONLY);
    if (reused < 0 || close(reused) != 0)
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        close(reused);
        if (dup2(log, reused) != reused || write(reused, "x", 1) != 1)
            failed++;
        writes++;
        if (writes % CHECK_EVERY != 0)
            continue;
        if (access(argv[2], F_OK) == 0) {
            stopped = 1;
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec >= max_s)
            break;
    }
    printf("writes %ld failed %ld\n", writes, failed);
    if (!stopped) {
        fprintf(stderr, "ms_fdreuse: %s did not appear within %ld s\n", argv[2], max_s);
        return 3;
    }
    return failed == 0 ? 0 : 1;
}
