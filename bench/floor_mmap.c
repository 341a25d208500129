/*
 * The floor of bench_floor.sh: a preloaded library whose constructor opens an existing
 * file of 32 KiB (FLOOR_FILE), maps it shared and writable, closes the descriptor and
 * stores one byte in the mapping, as a shim that appends to a spool file created for it
 * beforehand would. The mapping stays until the process ends.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define FLOOR_BYTES (32 * 1024)

static void floor_mmap_start(void) __attribute__((constructor));

static void floor_mmap_start(void)
{
    const char *const path = getenv("FLOOR_FILE");
    if (path == NULL)
        return;
    const int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    char *const p = mmap(NULL, FLOOR_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p != MAP_FAILED)
        p[getpid() % FLOOR_BYTES] = 1;
}
