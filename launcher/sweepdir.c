/* The sweep directory and the files in it (see sweepdir.h). */
#include "sweepdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"
#include "memsweep/defaults.h"

/* Suffixes tried after the plain name before giving up. */
#define MAX_ATTEMPTS 10000

/* dir + "/" + name, without doubling a trailing slash of dir. */
static char *path_join(const char *dir, const char *name)
{
    size_t len = strlen(dir);
    char *s;

    while (len > 0 && dir[len - 1] == '/')
        len--;
    if (len > INT_MAX || asprintf(&s, "%.*s/%s", (int)len, dir, name) < 0)
        return NULL;
    return s;
}

/* mkdir that accepts an existing directory. */
static int mkdir_one(const char *path)
{
    struct stat st;

    if (mkdir(path, 0777) == 0)
        return 0;
    if (errno != EEXIST)
        return -errno;
    if (stat(path, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int ms_mkdir_parents(const char *dir, char *err, size_t errlen)
{
    char *path = strdup(dir);
    size_t len;
    int rc = 0;

    if (path == NULL)
        return -ENOMEM;
    len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        path[--len] = '\0';
    /* Create each prefix ending before a '/', then the whole path. */
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/' || p[-1] == '/')
            continue;
        *p = '\0';
        rc = mkdir_one(path);
        if (rc != 0) {
            ms_set_err(err, errlen, "%s: %s", path, strerror(-rc));
            goto out;
        }
        *p = '/';
    }
    rc = mkdir_one(path);
    if (rc != 0)
        ms_set_err(err, errlen, "%s: %s", path, strerror(-rc));
out:
    free(path);
    return rc;
}

int ms_sweepdir_name(char *buf, size_t len, const struct tm *tm, unsigned attempt)
{
    char stamp[32];
    int n;

    if (strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", tm) == 0)
        return -ENAMETOOLONG;
    if (attempt <= 1)
        n = snprintf(buf, len, "sweep_%s", stamp);
    else
        n = snprintf(buf, len, "sweep_%s-%u", stamp, attempt);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int ms_sweepdir_create(const char *outdir, time_t now, ms_sweepdir_t *d, char *err,
                       size_t errlen)
{
    char name[64];
    struct tm tm;
    char *abs_dir = NULL;
    int rc;

    memset(d, 0, sizeof *d);
    if (localtime_r(&now, &tm) == NULL) {
        ms_set_err(err, errlen, "cannot convert the current time to local time");
        return -EINVAL;
    }
    rc = ms_mkdir_parents(outdir, err, errlen);
    if (rc != 0)
        return rc;
    for (unsigned attempt = 1;; attempt++) {
        if (attempt > MAX_ATTEMPTS) {
            ms_set_err(err, errlen, "%s: %s", outdir, strerror(EEXIST));
            rc = -EEXIST;
            goto fail;
        }
        rc = ms_sweepdir_name(name, sizeof name, &tm, attempt);
        if (rc != 0)
            goto nomem;
        free(d->path);
        d->path = path_join(outdir, name);
        if (d->path == NULL)
            goto nomem;
        /* Plain mkdir, not mkdir -p: an existing directory belongs to another sweep. */
        if (mkdir(d->path, 0777) == 0)
            break;
        if (errno != EEXIST) {
            rc = -errno;
            ms_set_err(err, errlen, "%s: %s", d->path, strerror(-rc));
            goto fail;
        }
    }
    abs_dir = realpath(d->path, NULL);
    if (abs_dir == NULL) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", d->path, strerror(-rc));
        goto fail;
    }
    d->abs_path = abs_dir;
    d->db_path = path_join(abs_dir, MS_DB_FILE);
    d->advisory_path = path_join(abs_dir, MS_ADVISORY_FILE);
    d->log_dir = path_join(abs_dir, MS_LOG_DIR);
    if (d->db_path == NULL || d->advisory_path == NULL || d->log_dir == NULL)
        goto nomem;
    if (mkdir(d->log_dir, 0777) != 0) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", d->log_dir, strerror(-rc));
        goto fail;
    }
    return 0;

nomem:
    rc = -ENOMEM;
    ms_set_err(err, errlen, "%s", strerror(ENOMEM));
fail:
    ms_sweepdir_free(d);
    return rc;
}

/* Unlinks base + suffix; a missing file is not an error. */
static void unlink_with(const char *base, const char *suffix)
{
    char *path;

    if (asprintf(&path, "%s%s", base, suffix) < 0)
        return;
    (void)unlink(path);
    free(path);
}

void ms_sweepdir_remove(const ms_sweepdir_t *d)
{
    static const char *const db_files[] = {"", "-wal", "-shm", "-journal"};
    DIR *logs;

    if (d->path == NULL)
        return;
    for (size_t i = 0; i < sizeof db_files / sizeof db_files[0]; i++)
        unlink_with(d->db_path, db_files[i]);
    (void)unlink(d->advisory_path);
    logs = opendir(d->log_dir);
    if (logs != NULL) {
        const struct dirent *e;
        while ((e = readdir(logs)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                (void)unlinkat(dirfd(logs), e->d_name, 0);
        }
        closedir(logs);
    }
    (void)rmdir(d->log_dir);
    (void)rmdir(d->path);
}

void ms_sweepdir_free(ms_sweepdir_t *d)
{
    free(d->path);
    free(d->abs_path);
    free(d->db_path);
    free(d->advisory_path);
    free(d->log_dir);
    memset(d, 0, sizeof *d);
}

char *ms_sweepdir_log_path(const ms_sweepdir_t *d, size_t seq, const char *ext)
{
    char *s;

    if (asprintf(&s, "%s/run-%04zu.%s", d->log_dir, seq, ext) < 0)
        return NULL;
    return s;
}

/* Closes f, reporting a write error that happened at any point as "<path>: <reason>". */
static int close_checked(FILE *f, const char *path, char *err, size_t errlen)
{
    const int failed = ferror(f);
    int rc = 0;

    if (fclose(f) != 0 || failed) {
        rc = errno != 0 ? -errno : -EIO;
        ms_set_err(err, errlen, "%s: %s", path, strerror(-rc));
    }
    return rc;
}

int ms_sweepdir_write_pre(const ms_sweepdir_t *d, const ms_machine_t *m, char *err,
                          size_t errlen)
{
    const int fd = open(d->advisory_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    FILE *f;

    if (fd < 0) {
        const int e = errno;
        ms_set_err(err, errlen, "%s: %s", d->advisory_path, strerror(e));
        return -e;
    }
    f = fdopen(fd, "w");
    if (f == NULL) {
        const int e = errno;
        close(fd);
        ms_set_err(err, errlen, "%s: %s", d->advisory_path, strerror(e));
        return -e;
    }
    errno = 0;
    ms_advisory_write_pre(f, m);
    return close_checked(f, d->advisory_path, err, errlen);
}

int ms_sweepdir_append_post(const ms_sweepdir_t *d, const ms_advisory_t *a, char *err,
                            size_t errlen)
{
    FILE *f = fopen(d->advisory_path, "ae");

    if (f == NULL) {
        const int e = errno;
        ms_set_err(err, errlen, "%s: %s", d->advisory_path, strerror(e));
        return -e;
    }
    errno = 0;
    fputc('\n', f);
    ms_advisory_write_post(f, a);
    return close_checked(f, d->advisory_path, err, errlen);
}
