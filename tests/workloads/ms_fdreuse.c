/*
 * A program that closes a descriptor number and immediately reuses it for its own file,
 * in a tight loop, as servers and shells do with dup2: every write to the reused number
 * must reach the program's file. Counts and prints the writes that did not.
 *
 * Usage: ms_fdreuse LOGFILE SECONDS
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct timespec t0, t;
    long writes = 0, failed = 0;
    int log, reused;

    if (argc != 3) {
        fputs("usage: ms_fdreuse LOGFILE SECONDS\n", stderr);
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
    do {
        close(reused);
        if (dup2(log, reused) != reused || write(reused, "x", 1) != 1)
            failed++;
        writes++;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (t.tv_sec - t0.tv_sec < atol(argv[2]));
    printf("writes %ld failed %ld\n", writes, failed);
    return failed == 0 ? 0 : 1;
}
