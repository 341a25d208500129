/* Creating a pool file (see poolfile.h). */
#include "poolfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"
#include "memsweep/spoolpub.h"

static int64_t real_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int ms_pool_file_create(const char *dir, const ms_spool_pool_t *hdr, unsigned chunks, int *fd_out,
                        char **path, char *err, size_t errlen)
{
    ms_spool_pool_t h = *hdr;
    uint64_t r;
    char *p = NULL, *tmp = NULL;
    int fd = -1;
    int rc = -EEXIST;

    for (int attempt = 0; attempt < 4; attempt++) {
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) {
            rc = -errno;
            ms_set_err(err, errlen, "cannot name a pool: %s", strerror(-rc));
            goto fail;
        }
        free(p);
        if (asprintf(&p, "%s/%016llx%s", dir, (unsigned long long)r, MS_SPOOL_SUFFIX) < 0) {
            p = NULL;
            goto nomem;
        }
        if (fd < 0) {
            if (asprintf(&tmp, "%s%s", p, MS_SPOOL_NEW_SUFFIX) < 0) {
                tmp = NULL;
                goto nomem;
            }
            fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd < 0) {
                rc = -errno;
                free(tmp);
                tmp = NULL;
                if (rc == -EEXIST)
                    continue;
                ms_set_err(err, errlen, "%s%s: %s", p, MS_SPOOL_NEW_SUFFIX, strerror(-rc));
                goto fail;
            }
            h.created_ns = real_ns();
            rc = posix_fallocate(fd, 0, MS_SPOOL_HEADER_BYTES + (off_t)chunks * MS_SPOOL_CHUNK_BYTES);
            if (rc != 0 || pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) {
                rc = rc != 0 ? -rc : -errno;
                ms_set_err(err, errlen, "%s: %s", tmp, strerror(-rc));
                goto fail;
            }
        }
        rc = ms_spool_publish(tmp, p);
        if (rc != -EEXIST)
            break;
    }
    if (rc != 0) {
        ms_set_err(err, errlen, "%s: %s", p, strerror(-rc));
        goto fail;
    }
    free(tmp);
    *fd_out = fd;
    *path = p;
    return 0;

nomem:
    rc = -ENOMEM;
    ms_set_err(err, errlen, "%s", strerror(ENOMEM));
fail:
    if (fd >= 0)
        close(fd);
    if (tmp != NULL) {
        (void)unlink(tmp);
        free(tmp);
    }
    free(p);
    return rc;
}

int ms_own_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        const int rc = -errno;
        ms_set_err(err, errlen, "%s: %s", dir, strerror(-rc));
        return rc;
    }
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 0077) != 0) {
        ms_set_err(err, errlen, "%s: not a private directory of this user (mode 0700)", dir);
        return -EPERM;
    }
    return 0;
}
