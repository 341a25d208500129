/* Folding the pools of a directory (see spool_collect.h). */
#include "spool_collect.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "memsweep/env.h"
#include "memsweep/spool.h"
#include "memsweep/spooldir.h"
#include "memsweep/spoolpub.h"
#include "spool_gc.h"
#include "errbuf.h"
#include "store.h"

/* A pool's name and when it was created, for ordering the list. */
typedef struct {
    char *name;
    int64_t created_ns;
} listed_t;

/* Oldest first (the order the runs of their own began in), then by name. */
static int cmp_listed(const void *a, const void *b)
{
    const listed_t *x = a, *y = b;

    if (x->created_ns != y->created_ns)
        return x->created_ns < y->created_ns ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The creation time in a pool's header; INT64_MAX (last) when it cannot be read. */
static int64_t created_of(int dfd, const char *name)
{
    int64_t t = INT64_MAX;
    const int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0)
        return t;
    if (pread(fd, &t, sizeof t, offsetof(ms_spool_pool_t, created_ns)) != (ssize_t)sizeof t)
        t = INT64_MAX;
    close(fd);
    return t;
}

void ms_spool_list_free(char **names, size_t n)
{
    for (size_t i = 0; names != NULL && i < n; i++)
        free(names[i]);
    free(names);
}

int ms_spool_list(const char *dir, char ***out, size_t *n)
{
    const size_t slen = strlen(MS_SPOOL_SUFFIX);
    DIR *d = opendir(dir);
    listed_t *l = NULL;
    char **names = NULL;
    size_t k = 0, cap = 0;
    struct dirent *e;

    *out = NULL;
    *n = 0;
    if (d == NULL)
        return -errno;
    while ((e = readdir(d)) != NULL) {
        const size_t len = strlen(e->d_name);
        if (len <= slen || strcmp(e->d_name + len - slen, MS_SPOOL_SUFFIX) != 0)
            continue;
        if (k == cap) {
            const size_t ncap = cap != 0 ? cap * 2 : 16;
            listed_t *nl = realloc(l, ncap * sizeof *nl);
            if (nl == NULL)
                goto nomem;
            l = nl;
            cap = ncap;
        }
        if ((l[k].name = strdup(e->d_name)) == NULL)
            goto nomem;
        l[k].created_ns = created_of(dirfd(d), e->d_name);
        k++;
    }
    closedir(d);
    d = NULL;
    if (k > 1)
        qsort(l, k, sizeof *l, cmp_listed);
    if (k > 0 && (names = malloc(k * sizeof *names)) == NULL)
        goto nomem;
    for (size_t i = 0; i < k; i++)
        names[i] = l[i].name;
    free(l);
    *out = names;
    *n = k;
    return 0;

nomem:
    if (d != NULL)
        closedir(d);
    for (size_t i = 0; i < k; i++)
        free(l[i].name);
    free(l);
    return -ENOMEM;
}

/*
 * Removes the pools of dir that were never published (spoolpub.h) and whose creator has
 * left them for MS_SPOOL_NEW_STALE_S: they hold no record, for no process writes into a
 * pool before it has its final name. And the follow FIFOs (spool.h) of collectors that
 * are gone, which would keep the directory from being removed.
 */
static void remove_abandoned(const char *dir)
{
    const size_t plen = strlen(MS_SPOOL_SUFFIX MS_SPOOL_NEW_SUFFIX);
    const time_t now = time(NULL);
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        const size_t len = strlen(e->d_name);
        const size_t flen = strlen(MS_SPOOL_FOLLOW_PREFIX);
        struct stat st;
        /*
         * The FIFO of a collector that is gone (killed with its sweep): its pid, after
         * the prefix, names no live process of this machine.
         */
        if (len > flen && strncmp(e->d_name, MS_SPOOL_FOLLOW_PREFIX, flen) == 0) {
            char *end;
            const long pid = strtol(e->d_name + flen, &end, 10);
            if (*end == '\0' && pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH &&
                fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISFIFO(st.st_mode))
                (void)unlinkat(dirfd(d), e->d_name, 0);
            continue;
        }
        if (len <= plen || strcmp(e->d_name + len - plen, MS_SPOOL_SUFFIX MS_SPOOL_NEW_SUFFIX) != 0)
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            now - st.st_mtime >= MS_SPOOL_NEW_STALE_S)
            (void)unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

static int add_dir(char ***dirs, size_t *n, const char *dir)
{
    char **nd;

    if (dir == NULL || dir[0] == '\0')
        return 0;
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*dirs)[i], dir) == 0)
            return 0;
    nd = realloc(*dirs, (*n + 1) * sizeof *nd);
    if (nd == NULL)
        return -ENOMEM;
    *dirs = nd;
    if ((nd[*n] = strdup(dir)) == NULL)
        return -ENOMEM;
    (*n)++;
    return 0;
}

int ms_spool_dirs_of(sqlite3 *db, const char *db_path, char ***dirs, size_t *n)
{
    char def[PATH_MAX];
    int found = 0;
    int rc = 0;

    *dirs = NULL;
    *n = 0;
    if (db != NULL && ms_store_has_column(db, "sweeps", "spool_dir", &found) == 0 && found) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "SELECT DISTINCT spool_dir FROM sweeps"
                                   " WHERE typeof(spool_dir) = 'text' ORDER BY sweep_id",
                               -1, &st, NULL) == SQLITE_OK) {
            while (rc == 0 && sqlite3_step(st) == SQLITE_ROW)
                rc = add_dir(dirs, n, (const char *)sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
    }
    if (rc == 0)
        rc = add_dir(dirs, n, getenv(MS_ENV_SPOOL_DIR));
    if (rc == 0 && ms_spooldir_for_db(def, sizeof def, db_path, NULL) == 0)
        rc = add_dir(dirs, n, def);
    if (rc != 0) {
        ms_spool_list_free(*dirs, *n);
        *dirs = NULL;
        *n = 0;
    }
    return rc;
}

static void warn(const ms_collect_opts_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(const ms_collect_opts_t *o, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (o->warn == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    o->warn(o->warn_arg, msg);
}

/* Unlinks the pool when path still names the file sp has open. */
static int remove_pool(const ms_spool_t *sp)
{
    struct stat a, b;

    if (fstat(sp->fd, &a) != 0 || lstat(sp->path, &b) != 0)
        return -errno;
    if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
        return -ESTALE;
    return unlink(sp->path) == 0 ? 0 : -errno;
}

/*
 * Whether the pool sp, just folded (st), may go: its processes are gone now, and a second
 * scan, taken after that was found, is folded completely with no chunk claimed
 * meanwhile (spool_gc.h says why the first fold alone cannot tell). The second fold's
 * rows are added to st.
 */
static int may_remove(ms_fold_t *f, ms_spool_t *sp, const ms_spool_host_t *host,
                      ms_fold_stats_t *st, char *why, size_t whylen, char *err, size_t errlen)
{
    ms_fold_stats_t again;
    uint64_t claimed;
    int rc;

    if (st->deferred || !ms_spool_removable(sp, host, st->folded_all, why, whylen))
        return 0;
    claimed = sp->claimed;
    if (ms_spool_scan(sp, why, whylen) != 0)
        return 0; /* kept, for a later collect to look at again */
    rc = ms_fold_pool_tx(f, sp, &again, err, errlen);
    if (rc != 0)
        return rc;
    st->rows += again.rows;
    st->rejected += again.rejected;
    if (st->reason[0] == '\0')
        memcpy(st->reason, again.reason, sizeof st->reason);
    return ms_spool_removal_confirmed(sp, host, claimed, again.folded_all, why, whylen);
}

int ms_collect_dir(ms_fold_t *f, const char *dir, const ms_collect_opts_t *o,
                   ms_collect_result_t *r, char *err, size_t errlen)
{
    ms_spool_host_t host;
    char **names = NULL;
    size_t n = 0;
    int have_host;
    int rc;

    rc = ms_spool_list(dir, &names, &n);
    if (rc == -ENOENT || rc == -ENOTDIR)
        return 0;
    if (rc != 0) {
        ms_set_err(err, errlen, "%s: %s", dir, strerror(-rc));
        return rc;
    }
    have_host = o->remove && ms_spool_host_self(&host) == 0;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        char why[256];
        ms_spool_t *sp = NULL;
        ms_fold_stats_t st;
        int removable;

        r->pools++;
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path) {
            r->refused++;
            continue;
        }
        rc = ms_spool_open(path, &sp, why, sizeof why);
        if (rc == -ENOENT) {
            /* Removed by another collector once its rows were committed. */
            if (o->vanished_is_error) {
                rc = -EAGAIN;
                goto out;
            }
            continue;
        }
        if (rc != 0) {
            r->refused++;
            warn(o, "%s", why);
            continue;
        }
        rc = ms_fold_pool_tx(f, sp, &st, err, errlen);
        if (rc == -ESRCH && o->snapshot_max_run > 0 && sp->hdr.run_id > o->snapshot_max_run) {
            ms_spool_close(sp);
            err[0] = '\0';
            continue;
        }
        if (rc == -ESRCH) {
            r->refused++;
            warn(o, "%s", err);
            ms_spool_close(sp);
            err[0] = '\0';
            continue;
        }
        if (rc != 0) {
            ms_spool_close(sp);
            goto out;
        }
        removable = o->remove && have_host
                        ? may_remove(f, sp, &host, &st, why, sizeof why, err, errlen)
                        : 0;
        if (removable < 0) {
            ms_spool_close(sp);
            rc = removable;
            goto out;
        }
        r->rows += st.rows;
        r->rejected += st.rejected;
        if (st.rejected > 0)
            warn(o, "%s: %llu records or chunks rejected (first: %s)", path,
                 (unsigned long long)st.rejected, st.reason);
        if (removable) {
            if (remove_pool(sp) == 0) {
                r->removed++;
                if (ms_fold_begin(f, err, errlen) == 0) {
                    if (ms_fold_mark_removed(f, sp->name, (int64_t)time(NULL) * 1000000000LL) == 0)
                        (void)ms_fold_commit(f, err, errlen);
                    else
                        ms_fold_rollback(f);
                }
                err[0] = '\0';
            }
        } else {
            r->pending++;
        }
        ms_spool_close(sp);
    }
    if (o->remove) {
        remove_abandoned(dir);
        (void)rmdir(dir); /* only when empty */
    }
    rc = 0;
out:
    ms_spool_list_free(names, n);
    return rc;
}
