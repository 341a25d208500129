/*
 * A program that does what daemons and careful servers do at start: closes every
 * descriptor from 3 up, whoever opened it, and then opens and writes files of its own on
 * those low numbers, closing and reopening them as it goes, while its memory grows. Every
 * byte it writes is deterministic, so its files can be compared with those of a run
 * without the shim, and it reports the numbers its opens returned, which a descriptor
 * left behind by anyone else would shift.
 *
 * Usage: ms_closeall DIR HOLD_MIB [THREADS [GO]]
 *   Holds 16 MiB for 700 ms, closes everything from 3 up, then for about 1.5 s rewrites
 *   DIR/f0..f3 (each opened, appended to and closed in turn) while allocating and freeing
 *   small blocks, then touches HOLD_MIB more and holds it for 700 ms. With THREADS > 1 the
 *   writing is shared by that many threads, each with its own files. With GO, the first
 *   hold lasts until the file GO.close exists and the last until GO.free exists, so that
 *   a test moves the program on once the database shows what it wants to see (the shim
 *   registered before the close; a reading of the shim's sees the HOLD_MIB), however
 *   slowly the machine runs.
 */
#include "wl_common.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define NFILES 4
#define ROUNDS 150

typedef struct {
    const char *dir;
    int first; /* index of its first file */
    int nfiles;
    int lowest_fd; /* the lowest number any of its opens returned */
    int failed;
} ms_writer_t;

static void *writer(void *arg)
{
    ms_writer_t *w = arg;
    char path[4096], line[64];

    w->lowest_fd = 1 << 30;
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = w->first; i < w->first + w->nfiles; i++) {
            void *churn = malloc(300u << 10); /* enough to move the shim's counts */
            int fd;
            snprintf(path, sizeof(path), "%s/f%d", w->dir, i);
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd < 0 || churn == NULL) {
                w->failed++;
                free(churn);
                continue;
            }
            memset(churn, round, 300u << 10);
            if (fd < w->lowest_fd)
                w->lowest_fd = fd;
            const int n = snprintf(line, sizeof(line), "file %d round %d\n", i, round);
            if (write(fd, line, (size_t)n) != n)
                w->failed++;
            close(fd);
            free(churn);
        }
        sleep_ms(10);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long hold_mib, nthreads = 1;
    struct rlimit rl;
    unsigned char *base, *hold;
    ms_writer_t w[NFILES];
    pthread_t tid[NFILES];
    int lowest = 1 << 30, failed = 0;
    /* The files that end the holds, when GO is given; empty names wait for nothing. */
    char go_close[4096] = "", go_free[4096] = "";

    if (argc < 3 || argc > 5 || parse_long(argv[2], 0, 4096, &hold_mib) != 0 ||
        (argc >= 4 && parse_long(argv[3], 1, NFILES, &nthreads) != 0) ||
        (argc == 5 && (snprintf(go_close, sizeof(go_close), "%s.close", argv[4]) >=
                           (int)sizeof(go_close) ||
                       snprintf(go_free, sizeof(go_free), "%s.free", argv[4]) >=
                           (int)sizeof(go_free)))) {
        fputs("usage: ms_closeall DIR HOLD_MIB [THREADS [GO]]\n", stderr);
        return 2;
    }
    base = malloc(16u << 20);
    if (base == NULL)
        return 1;
    touch_pages(base, 16u << 20, 1);
    sleep_ms(700);
    wait_file(go_close[0] != '\0' ? go_close : NULL);

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1;
    for (long fd = 3; fd < (long)rl.rlim_cur && fd < 65536; fd++)
        close((int)fd);

    for (long t = 0; t < nthreads; t++) {
        w[t].dir = argv[1];
        w[t].nfiles = NFILES / (int)nthreads;
        w[t].first = (int)t * w[t].nfiles;
        w[t].failed = 0;
    }
    if (nthreads == 1) {
        writer(&w[0]);
    } else {
        for (long t = 0; t < nthreads; t++)
            pthread_create(&tid[t], NULL, writer, &w[t]);
        for (long t = 0; t < nthreads; t++)
            pthread_join(tid[t], NULL);
    }
    for (long t = 0; t < nthreads; t++) {
        failed += w[t].failed;
        if (w[t].lowest_fd < lowest)
            lowest = w[t].lowest_fd;
    }

    hold = malloc((size_t)hold_mib << 20);
    if (hold == NULL)
        return 1;
    touch_pages(hold, (size_t)hold_mib << 20, 2);
    sleep_ms(700);
    wait_file(go_free[0] != '\0' ? go_free : NULL);
    printf("lowest fd %d failed %d\n", lowest, failed);
    free(hold);
    free(base);
    return failed == 0 ? 0 : 1;
}
