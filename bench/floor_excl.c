/*
 * The floor of bench_floor.sh: a preloaded library whose constructor creates a new file
 * with O_EXCL in a directory of mode 0700 (FLOOR_DIR), named after the process and the
 * time, and closes it, as a shim that creates a spool file of its own would. The files
 * stay; the benchmark removes the directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void floor_excl_start(void) __attribute__((constructor));

static void floor_excl_start(void)
{
    const int saved = errno;
    const char *const dir = getenv("FLOOR_DIR");
    if (dir == NULL)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    for (int attempt = 0; attempt < 8; attempt++) {
        char path[4096];
        const int n = snprintf(path, sizeof path, "%s/%ld-%ld-%d.msp", dir, (long)getpid(),
                               (long)ts.tv_nsec, attempt);
        if (n < 0 || (size_t)n >= sizeof path)
            break;
        const int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
            break;
        }
        if (errno != EEXIST)
            break;
    }
    errno = saved;
}
