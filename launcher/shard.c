/* The sweep directory of a sweep made of shards (see shard.h). */
#include "shard.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"
#include "memsweep/defaults.h"
#include "memsweep/spoolpub.h"
#include "poolfile.h"
#include "readfile.h"
#include "sweepdir.h"

/* The first line of the post-run section, where a rewrite of the file cuts. */
#define POST_MARK "\nPost-run Observed Advisory\n"

void ms_shard_sweep_free(ms_shard_sweep_t *s)
{
    free(s->path);
    free(s->shards_dir);
    free(s->spool_dir);
    free(s->advisory_path);
    memset(s, 0, sizeof *s);
}

int ms_shard_sweep_is(const char *dir)
{
    struct stat st;
    char *p;
    int is;

    if (asprintf(&p, "%s/%s", dir, MS_SHARDS_DIR) < 0)
        return 0;
    is = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
    free(p);
    return is;
}

/* A new private file beside final ("<dir>/.<base>.<random>"), open for writing. */
static int open_beside(const char *final, char **tmp, char *err, size_t errlen)
{
    const char *slash = strrchr(final, '/');
    const int dir_len = slash != NULL ? (int)(slash - final) : 0;
    const char *base = slash != NULL ? slash + 1 : final;
    uint64_t r;
    int fd = -1;

    for (int attempt = 0; attempt < 4 && fd < 0; attempt++) {
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) {
            const int e = errno;
            ms_set_err(err, errlen, "%s: cannot name a file: %s", final, strerror(e));
            return -e;
        }
        if (asprintf(tmp, "%.*s%s.%s.%016llx", dir_len, final, slash != NULL ? "/" : "", base,
                     (unsigned long long)r) < 0) {
            *tmp = NULL;
            ms_set_err(err, errlen, "%s", strerror(ENOMEM));
            return -ENOMEM;
        }
        fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0) {
            const int e = errno;
            free(*tmp);
            *tmp = NULL;
            if (e != EEXIST) {
                ms_set_err(err, errlen, "%s: %s", final, strerror(e));
                return -e;
            }
        }
    }
    if (fd < 0)
        ms_set_err(err, errlen, "%s: %s", final, strerror(EEXIST));
    return fd >= 0 ? fd : -EEXIST;
}

/* A new private file beside final, as a stream for writing; NULL with err set. */
static FILE *stream_beside(const char *final, char **tmp, char *err, size_t errlen)
{
    const int fd = open_beside(final, tmp, err, errlen);
    FILE *f;

    if (fd < 0)
        return NULL;
    f = fdopen(fd, "w");
    if (f == NULL) {
        ms_set_err(err, errlen, "%s: %s", *tmp, strerror(errno));
        close(fd);
        (void)unlink(*tmp);
        free(*tmp);
        *tmp = NULL;
    }
    return f;
}

/* fclose that reports a failed write, with the file named in err. */
static int close_file(FILE *f, const char *name, char *err, size_t errlen)
{
    const int failed = ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0;
    const int e = errno != 0 ? errno : EIO;

    if (fclose(f) != 0 || failed) {
        ms_set_err(err, errlen, "%s: %s", name, strerror(failed ? e : errno));
        return failed ? -e : -errno;
    }
    return 0;
}

/* Writes the pre-run section once: the first writer's file is kept, the others dropped. */
static int write_pre_once(const ms_shard_sweep_t *s, const ms_machine_t *m, int *created,
                          char *err, size_t errlen)
{
    char *tmp = NULL;
    FILE *f;
    int rc;

    *created = 0;
    if (access(s->advisory_path, F_OK) == 0)
        return 0;
    f = stream_beside(s->advisory_path, &tmp, err, errlen);
    if (f == NULL)
        return -EIO;
    errno = 0;
    ms_advisory_write_pre(f, m);
    rc = close_file(f, tmp, err, errlen);
    if (rc == 0) {
        rc = ms_spool_publish(tmp, s->advisory_path);
        if (rc == 0)
            *created = 1;
        else if (rc == -EEXIST)
            rc = 0; /* another exec's section was first */
        else
            ms_set_err(err, errlen, "%s: %s", s->advisory_path, strerror(-rc));
    }
    (void)unlink(tmp);
    free(tmp);
    return rc;
}

/* Creates dir unless it exists (another exec may be creating it at this moment). */
static int make_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;

    if (mkdir(dir, 0777) == 0)
        return 0;
    if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    ms_set_err(err, errlen, "%s: %s", dir, strerror(errno == EEXIST ? ENOTDIR : errno));
    return errno == EEXIST ? -ENOTDIR : -errno;
}

int ms_shard_sweep_open(const char *dir, const ms_machine_t *m, ms_shard_sweep_t *s,
                        int *created, char *err, size_t errlen)
{
    int rc;

    memset(s, 0, sizeof *s);
    *created = 0;
    if (dir[0] == '\0') {
        ms_set_err(err, errlen, "the sweep directory must not be empty");
        return -EINVAL;
    }
    rc = ms_mkdir_parents(dir, err, errlen);
    if (rc != 0)
        return rc;
    s->path = realpath(dir, NULL);
    if (s->path == NULL) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", dir, strerror(-rc));
        return rc;
    }
    if (asprintf(&s->shards_dir, "%s/%s", s->path, MS_SHARDS_DIR) < 0 ||
        asprintf(&s->spool_dir, "%s/%s", s->path, MS_SHARD_SPOOL_DIR) < 0 ||
        asprintf(&s->advisory_path, "%s/%s", s->path, MS_ADVISORY_FILE) < 0) {
        ms_shard_sweep_free(s);
        ms_set_err(err, errlen, "%s", strerror(ENOMEM));
        return -ENOMEM;
    }
    rc = make_dir(s->shards_dir, err, errlen);
    if (rc == 0)
        rc = ms_own_dir(s->spool_dir, err, errlen);
    if (rc == 0 && m != NULL)
        rc = write_pre_once(s, m, created, err, errlen);
    if (rc != 0)
        ms_shard_sweep_free(s);
    return rc;
}

int ms_shard_local_dir(char *out, size_t len, char *err, size_t errlen)
{
    const char *tmpdir = getenv("TMPDIR");
    struct stat st;
    int n;

    if (tmpdir == NULL || tmpdir[0] != '/' || stat(tmpdir, &st) != 0 || !S_ISDIR(st.st_mode))
        tmpdir = "/tmp";
    n = snprintf(out, len, "%s/memsweep-%lu", tmpdir, (unsigned long)geteuid());
    if (n < 0 || (size_t)n >= len) {
        ms_set_err(err, errlen, "%s: %s", tmpdir, strerror(ENAMETOOLONG));
        return -ENAMETOOLONG;
    }
    return ms_own_dir(out, err, errlen);
}

int ms_shard_new_uid(char *out, size_t len)
{
    uint64_t r;

    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        return -errno;
    snprintf(out, len, "%016llx", (unsigned long long)r);
    return 0;
}

char *ms_shard_path(const ms_shard_sweep_t *s, const char *uid)
{
    char *p;

    return asprintf(&p, "%s/%s%s", s->shards_dir, uid, MS_SHARD_SUFFIX) < 0 ? NULL : p;
}

/* Copies the file at from into the open descriptor to. 0 or -errno. */
static int copy_into(const char *from, int to)
{
    char buf[65536];
    const int in = open(from, O_RDONLY | O_CLOEXEC);
    int rc = 0;

    if (in < 0)
        return -errno;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            const ssize_t w = write(to, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = -errno;
                goto out;
            }
            off += w;
        }
    }
out:
    close(in);
    return rc;
}

int ms_shard_copy(const char *from, const char *to, char *err, size_t errlen)
{
    const int fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc;

    if (fd < 0) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", to, strerror(-rc));
        return rc;
    }
    rc = copy_into(from, fd);
    if (rc != 0)
        ms_set_err(err, errlen, "%s: %s", rc == -ENOENT ? from : to, strerror(-rc));
    if (rc == 0 && fsync(fd) != 0) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", to, strerror(-rc));
    }
    if (close(fd) != 0 && rc == 0) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", to, strerror(-rc));
    }
    if (rc != 0)
        (void)unlink(to);
    return rc;
}

int ms_shard_publish(const ms_shard_sweep_t *s, const char *local, const char *uid, char *err,
                     size_t errlen)
{
    char *final = ms_shard_path(s, uid);
    char *tmp = NULL;
    int fd, rc, dfd;

    if (final == NULL) {
        ms_set_err(err, errlen, "%s", strerror(ENOMEM));
        return -ENOMEM;
    }
    fd = open_beside(final, &tmp, err, errlen);
    if (fd < 0) {
        free(final);
        return fd;
    }
    rc = copy_into(local, fd);
    if (rc != 0)
        ms_set_err(err, errlen, "%s: %s", rc == -ENOENT ? local : tmp, strerror(-rc));
    if (rc == 0 && fsync(fd) != 0) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", tmp, strerror(-rc));
    }
    if (close(fd) != 0 && rc == 0) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", tmp, strerror(-rc));
    }
    if (rc == 0 && rename(tmp, final) != 0) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", final, strerror(-rc));
    }
    if (rc != 0)
        (void)unlink(tmp);
    /* The rename is durable once the directory is. */
    dfd = rc == 0 ? open(s->shards_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(tmp);
    free(final);
    return rc;
}

int ms_shard_write_post(const ms_shard_sweep_t *s, const ms_advisory_t *a, char *err,
                        size_t errlen)
{
    char *text = NULL, *tmp = NULL;
    size_t len = 0;
    FILE *f;
    int rc;

    rc = ms_read_file(s->advisory_path, &text, &len);
    if (rc != 0 && rc != -ENOENT) {
        ms_set_err(err, errlen, "%s: %s", s->advisory_path, strerror(-rc));
        return rc;
    }
    if (text != NULL) {
        char *post = strstr(text, POST_MARK);
        if (post != NULL)
            len = (size_t)(post - text);
        while (len > 0 && text[len - 1] == '\n')
            len--;
    }
    f = stream_beside(s->advisory_path, &tmp, err, errlen);
    if (f == NULL) {
        free(text);
        return -EIO;
    }
    errno = 0;
    if (len > 0) {
        fwrite(text, 1, len, f);
        fputs("\n\n", f);
    }
    ms_advisory_write_post(f, a);
    rc = close_file(f, tmp, err, errlen);
    if (rc == 0 && rename(tmp, s->advisory_path) != 0) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", s->advisory_path, strerror(-rc));
    }
    if (rc != 0)
        (void)unlink(tmp);
    free(tmp);
    free(text);
    return rc;
}
