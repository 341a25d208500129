/*
 * /proc reads and clocks. Readings of RSS go through the status descriptor kept by
 * shim_procfd.c. The other files (the command line, MemTotal) are read whole by an open,
 * pread and close, which takes the lowest free descriptor number for a moment: only where
 * the shim may do that (the constructor, before main; see shim_vfs.c).
 */
#include "shim_internal.h"

#include "memsweep/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int64_t ms__clock_ns(clockid_t clock)
{
    struct timespec ts;

    if (clock_gettime(clock, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int ms__proc_read(const char *path, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    int rc = 0;
    int fd;

    *len = 0;
    if (cap == 0)
        return -EINVAL;
    if (!ms__vfs_may_open_low())
        return -EBUSY;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    while (n < cap - 1) {
        const ssize_t got = pread(fd, buf + n, cap - 1 - n, (off_t)n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -errno;
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return rc;
}

int ms__proc_reading(ms_reading_t *r, const char *kind)
{
    int64_t rss_kb, hwm_kb = -1;
    int rc;

    /*
     * The descriptor kept open by shim_procfd.c, checked to still be ours before each
     * read: opening a file for every tick would take the lowest free descriptor number for
     * a moment, the very number a program closing and reusing descriptors may be about to
     * act on.
     */
    r->t_ns = ms__clock_ns(CLOCK_REALTIME);
    r->kind = kind;
    rc = ms__procfd_reading(&rss_kb, &hwm_kb, 0);
    if (rc != 0)
        return rc;
    r->rss_kb = rss_kb;
    r->hwm_kb = hwm_kb;
    return 0;
}

void ms__proc_ident(ms_ident_t *id)
{
    size_t len = 0;
    ssize_t n;

    n = readlink("/proc/thread-self/exe", id->exe, sizeof(id->exe) - 1);
    id->exe[n > 0 ? n : 0] = '\0';

    if (ms__proc_read("/proc/thread-self/cmdline", id->cmdline, sizeof(id->cmdline),
                      &len) != 0)
        len = 0;
    /* Arguments are NUL-separated with a NUL after the last one. */
    while (len > 0 && id->cmdline[len - 1] == '\0')
        len--;
    for (size_t i = 0; i < len; i++) {
        if (id->cmdline[i] == '\0')
            id->cmdline[i] = ' ';
    }
    id->cmdline[len] = '\0';
}

int ms__proc_mem_total_kb(int64_t *kb)
{
    /* MemTotal is the first line of /proc/meminfo. */
    char buf[512];
    unsigned long long v;
    size_t len;
    int rc;

    rc = ms__proc_read("/proc/meminfo", buf, sizeof(buf), &len);
    if (rc != 0)
        return rc;
    if (ms_procfs_kb_field(buf, len, "MemTotal:", &v) != 0)
        return -EPROTO;
    *kb = (int64_t)v;
    return 0;
}
